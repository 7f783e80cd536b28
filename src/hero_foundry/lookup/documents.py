"""The searchable documents of the SRD catalogue: one per rule, spell, feature, trait, condition,
item, race and class, with its text (markdown) and the filter values of spells.

Every name and every sentence comes from the catalogue; this module only chooses which fields
make up a document's text, and labels a few structured fields ("Cost", "Damage", ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from hero_foundry.srd import Catalogue
from hero_foundry.srd.catalogue import Doc

#: Every kind of document, in the order results of equal score are listed.
Kind = Literal[
    "rule",
    "condition",
    "spell",
    "feature",
    "trait",
    "race",
    "class",
    "equipment",
    "magic-item",
]
KINDS: tuple[str, ...] = get_args(Kind)

#: SRD tables whose entries are rules glossary pages, searchable as kind ``rule``: the rule
#: chapters and sections, and the short definitions the sections refer to.
RULE_TABLES = (
    "rules",
    "rule_sections",
    "ability_scores",
    "skills",
    "damage_types",
    "weapon_properties",
    "magic_schools",
)

#: Passages longer than this are split at paragraph boundaries (about a screenful of text).
PASSAGE_CHARS = 1200
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Entry:
    """One searchable document."""

    kind: str
    index: str
    name: str
    text: str
    data: Doc = field(repr=False)
    level: int | None = None
    school: str | None = None
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A passage of an entry: the part under one heading (split further if long)."""

    section: str | None
    text: str


def _desc(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "\n\n".join(_desc(v) for v in value if _desc(v))
    if isinstance(value, dict):
        if "desc" in value:
            title = value.get("name")
            body = _desc(value["desc"])
            return f"**{title}.** {body}" if title else body
        return ""
    return str(value)


def _names(refs: list[Doc] | None) -> str:
    return ", ".join(r["name"] for r in refs or [] if r.get("name"))


def _lines(*pairs: tuple[str, Any]) -> str:
    """``Label: value`` lines for the structured fields that are present."""
    return "\n".join(f"{label}: {value}" for label, value in pairs if value not in (None, "", []))


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _rule(table: str, doc: Doc) -> Entry:
    name = doc.get("full_name") or doc["name"]
    text = _desc(doc.get("desc"))
    if table == "rules" and doc.get("subsections"):
        # A rules chapter is only a heading; list what it holds.
        text = _join(text, _lines(("Sections", _names(doc["subsections"]))))
    if table == "skills":
        text = _join(text, _lines(("Ability", doc["ability_score"]["name"])))
    return Entry("rule", doc["index"], name, text, doc)


def _spell(doc: Doc) -> Entry:
    facts = _lines(
        ("Level", doc["level"]),
        ("School", doc["school"]["name"]),
        ("Casting time", doc.get("casting_time")),
        ("Range", doc.get("range")),
        ("Components", ", ".join(doc.get("components", []))),
        ("Material", doc.get("material")),
        ("Duration", doc.get("duration")),
        ("Classes", _names(doc.get("classes"))),
    )
    higher = _desc(doc.get("higher_level"))
    text = _join(_desc(doc.get("desc")), f"**At Higher Levels.** {higher}" if higher else "", facts)
    classes = tuple(c["index"] for c in doc.get("classes", []))
    return Entry(
        "spell", doc["index"], doc["name"], text, doc, doc["level"], doc["school"]["index"], classes
    )


def _feature(doc: Doc) -> Entry:
    klass = doc.get("class", {})
    owner = doc.get("subclass", {}).get("name") or klass.get("name")
    text = _join(_desc(doc.get("desc")), _lines(("Class", owner), ("Level", doc.get("level"))))
    classes = (klass["index"],) if klass.get("index") else ()
    return Entry("feature", doc["index"], doc["name"], text, doc, classes=classes)


def _trait(doc: Doc) -> Entry:
    owners = _names(doc.get("races")) or _names(doc.get("subraces"))
    text = _join(_desc(doc.get("desc")), _lines(("Races", owners)))
    return Entry("trait", doc["index"], doc["name"], text, doc)


def _cost(doc: Doc) -> str | None:
    cost = doc.get("cost")
    return f"{cost['quantity']} {cost['unit']}" if cost else None


def _damage(damage: Doc | None) -> str | None:
    if not damage or "damage_dice" not in damage:
        return None
    kind = damage.get("damage_type", {}).get("name", "")
    return f"{damage['damage_dice']} {kind}".strip()


def _equipment(doc: Doc) -> Entry:
    ac = doc.get("armor_class")
    facts = _lines(
        ("Category", doc.get("equipment_category", {}).get("name")),
        ("Type", doc.get("category_range") or doc.get("armor_category")),
        ("Gear", doc.get("gear_category", {}).get("name")),
        ("Cost", _cost(doc)),
        ("Weight", f"{doc['weight']:g} lb." if doc.get("weight") else None),
        ("Damage", _damage(doc.get("damage"))),
        ("Two-handed damage", _damage(doc.get("two_handed_damage"))),
        ("Properties", _names(doc.get("properties"))),
        ("Armor class", ac.get("base") if ac else None),
        ("Strength", doc.get("str_minimum") or None),
        ("Stealth", "Disadvantage" if doc.get("stealth_disadvantage") else None),
        ("Contents", ", ".join(c["item"]["name"] for c in doc.get("contents", []) if "item" in c)),
    )
    text = _join(_desc(doc.get("desc")), _desc(doc.get("special")), facts)
    return Entry("equipment", doc["index"], doc["name"], text, doc)


def _magic_item(doc: Doc) -> Entry:
    return Entry("magic-item", doc["index"], doc["name"], _desc(doc.get("desc")), doc)


def _race(doc: Doc) -> Entry:
    bonuses = ", ".join(
        f"{b['ability_score']['name']} +{b['bonus']}" for b in doc.get("ability_bonuses", [])
    )
    text = _join(
        _desc(doc.get("desc")),
        _lines(
            ("Ability score increase", bonuses),
            ("Speed", doc.get("speed")),
            ("Size", doc.get("size")),
            ("Traits", _names(doc.get("traits") or doc.get("racial_traits"))),
            ("Subraces", _names(doc.get("subraces"))),
            ("Race", doc.get("race", {}).get("name")),
        ),
        _desc(doc.get("age")),
        _desc(doc.get("alignment")),
        _desc(doc.get("size_description")),
        _desc(doc.get("language_desc")),
    )
    return Entry("race", doc["index"], doc["name"], text, doc)


def _class(cat: Catalogue, doc: Doc) -> Entry:
    features = [
        f["name"]
        for f in cat.tables["features"].values()
        if f["class"]["index"] == doc["index"] and "subclass" not in f
    ]
    casting = doc.get("spellcasting")
    text = _join(
        _lines(
            ("Hit die", f"d{doc['hit_die']}"),
            ("Saving throws", _names(doc.get("saving_throws"))),
            ("Proficiencies", _names(doc.get("proficiencies"))),
            ("Subclasses", _names(doc.get("subclasses"))),
            ("Features", ", ".join(dict.fromkeys(features))),
        ),
        "\n\n".join(c["desc"] for c in doc.get("proficiency_choices", []) if c.get("desc")),
        _desc(casting.get("info")) if casting else "",
    )
    return Entry("class", doc["index"], doc["name"], text, doc, classes=(doc["index"],))


def _subclass(doc: Doc) -> Entry:
    klass = doc["class"]
    text = _join(
        _desc(doc.get("desc")),
        _lines(("Class", klass["name"]), ("Subclass of", doc.get("subclass_flavor"))),
    )
    return Entry("class", doc["index"], doc["name"], text, doc, classes=(klass["index"],))


def entries(cat: Catalogue) -> Iterator[Entry]:
    """Every searchable document of the catalogue."""
    for table in RULE_TABLES:
        for doc in cat.all(table):
            yield _rule(table, doc)
    for doc in cat.all("conditions"):
        yield Entry("condition", doc["index"], doc["name"], _desc(doc.get("desc")), doc)
    yield from (_spell(d) for d in cat.all("spells"))
    yield from (_feature(d) for d in cat.all("features"))
    yield from (_trait(d) for d in cat.all("traits"))
    yield from (_race(d) for d in cat.all("races") + cat.all("subraces"))
    yield from (_class(cat, d) for d in cat.all("classes"))
    yield from (_subclass(d) for d in cat.all("subclasses"))
    yield from (_equipment(d) for d in cat.all("equipment"))
    yield from (_magic_item(d) for d in cat.all("magic_items"))


def _paragraph_pieces(text: str) -> Iterator[str]:
    """``text`` in pieces of about ``PASSAGE_CHARS``, cut between paragraphs."""
    piece: list[str] = []
    size = 0
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if piece and size + len(paragraph) > PASSAGE_CHARS:
            yield "\n\n".join(piece)
            piece, size = [], 0
        piece.append(paragraph)
        size += len(paragraph)
    if piece:
        yield "\n\n".join(piece)


def chunks(entry: Entry) -> Iterator[Chunk]:
    """The entry's passages: one per markdown heading, long ones cut between paragraphs."""
    section: str | None = None
    body: list[str] = []

    def flush() -> Iterator[Chunk]:
        text = "\n".join(body).strip()
        if text:
            for piece in _paragraph_pieces(text):
                yield Chunk(section, piece)

    for line in entry.text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            yield from flush()
            body = []
            title = heading.group(2).strip("*_ ")
            section = None if title.casefold() == entry.name.casefold() else title
        else:
            body.append(line)
    yield from flush()
