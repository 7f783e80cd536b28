"""What every export format starts from: a plain snapshot of a character, and the JSON document.

A :class:`Snapshot` copies the stored row into plain Python values, so a renderer can run in a
worker thread without touching the database session.
"""

from __future__ import annotations

import copy
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hero_foundry import __version__
from hero_foundry.characters.models import Character
from hero_foundry.exports.schema import SCHEMA, VERSION
from hero_foundry.rules import sheet
from hero_foundry.rules.creation import CreationState
from hero_foundry.srd import Catalogue

GENERATOR = "The Hero Foundry"


@dataclass(frozen=True)
class Snapshot:
    """A character as stored: its build (a CreationState dict), inventory, money and notes."""

    id: uuid.UUID | None
    name: str
    level: int
    build: dict[str, Any]
    inventory: list[dict[str, Any]]
    currency: dict[str, int]
    notes: str
    #: The export's ``character.rolls``: signatures of the build's verified dice.
    rolls: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, character: Character, rolls: tuple[dict[str, Any], ...] = ()) -> Snapshot:
        return cls(
            id=character.id,
            name=character.name,
            level=character.level,
            build=copy.deepcopy(character.build),
            inventory=copy.deepcopy(character.inventory),
            currency=dict(character.currency),
            notes=character.notes or "",
            rolls=rolls,
        )

    @property
    def state(self) -> CreationState:
        return CreationState.from_dict(self.build)

    def sheet(self, cat: Catalogue) -> dict[str, Any]:
        derived = sheet.derive(cat, self.state, self.inventory)
        if derived is None:  # a stored character always has race, class and scores
            raise ValueError(f"character {self.id} has no derivable sheet")
        return derived


def slug(name: str, fallback: str = "character") -> str:
    """A safe ASCII file name stem: ``Brottor Ironfist`` -> ``brottor-ironfist``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return stem or fallback


def content_disposition(filename: str) -> str:
    return f'attachment; filename="{filename}"'


def utc_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def informative_sheet(derived: dict[str, Any]) -> dict[str, Any]:
    """The sheet as exported: every number, feature names without their SRD text (the text is
    in the SRD, and keeps a level-20 file well inside the import body limit)."""
    out = dict(derived)
    out["features"] = [{k: v for k, v in f.items() if k != "desc"} for f in derived["features"]]
    return out


def export_document(cat: Catalogue, snap: Snapshot, now: datetime) -> dict[str, Any]:
    """The ``hero-foundry/character`` document, the version this server writes (see
    docs/exports.md)."""
    meta = cat.metadata
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "exported_at": utc_timestamp(now),
        "generator": {"name": GENERATOR, "version": __version__},
        "srd": {
            "source": meta.get("source_repo", ""),
            "version": meta.get("source_tag", ""),
            "edition": meta.get("edition", ""),
            "license": meta.get("license", ""),
        },
        "character": {
            "id": str(snap.id) if snap.id else None,
            "name": snap.name,
            "level": snap.level,
            "build": snap.build,
            "inventory": snap.inventory,
            "currency": snap.currency,
            "notes": snap.notes,
            "rolls": [dict(r) for r in snap.rolls],
        },
        "sheet": informative_sheet(snap.sheet(cat)),
        "attribution": cat.attribution,
    }
