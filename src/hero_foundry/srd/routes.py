"""``/api/srd/*``: the read-only catalogue, shaped for a creation wizard.

Choices (skills, equipment options, languages, racial bonus options ...) are returned in the
same normalized form the draft endpoints accept, so a client can render them as they are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hero_foundry.deps import CatalogueDep
from hero_foundry.problems import not_found, responses
from hero_foundry.rules import creation
from hero_foundry.rules.creation import CreationState
from hero_foundry.srd.catalogue import Catalogue, Doc, strip_urls

router = APIRouter(prefix="/api/srd", tags=["srd"], responses=responses(404, 422))
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


def _refs(items: list[Doc]) -> list[dict[str, str]]:
    return [{"index": i["index"], "name": i["name"]} for i in items]


def _doc(cat: Catalogue, table: str, what: str, index: str) -> Doc:
    doc = cat.tables[table].get(index)
    if doc is None:
        raise not_found(f"{what} {index!r}")
    return doc


def _features(cat: Catalogue, refs: list[Doc]) -> list[dict[str, Any]]:
    return [
        {"index": r["index"], "name": r["name"], "desc": cat.get("features", r["index"])["desc"]}
        for r in refs
        if cat.has("features", r["index"])
    ]


def _page(items: list[Any], limit: int, offset: int, cat: Catalogue) -> dict[str, Any]:
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "attribution": cat.attribution,
    }


@router.get("")
async def about(cat: CatalogueDep) -> dict[str, Any]:
    """Which SRD data this service uses, and its licence."""
    return {
        "source": cat.metadata,
        "counts": {table: len(rows) for table, rows in sorted(cat.tables.items())},
    }


def class_summary(cat: Catalogue, klass: Doc) -> dict[str, Any]:
    casting = klass.get("spellcasting")
    return {
        "index": klass["index"],
        "name": klass["name"],
        "hit_die": klass["hit_die"],
        "saving_throws": _refs(klass["saving_throws"]),
        "spellcasting_ability": casting["spellcasting_ability"]["index"] if casting else None,
        "spellcasting_level": casting.get("level") if casting else None,
        "subclass_level": cat.subclass_level_of(klass["index"]),
        "subclasses": _refs(cat.subclasses_of(klass["index"])),
    }


@router.get("/classes")
async def list_classes(cat: CatalogueDep) -> list[dict[str, Any]]:
    return [class_summary(cat, k) for k in cat.all("classes")]


@router.get("/classes/{index}")
async def get_class(index: str, cat: CatalogueDep) -> dict[str, Any]:
    """Everything a wizard renders for a class: proficiencies and their choices, starting
    equipment and its options, level-1 features with their text, spellcasting, the level table
    and the subclasses with their features."""
    klass = _doc(cat, "classes", "Class", index)
    state = CreationState(class_index=index)
    levels = []
    for level in range(1, 21):
        row = cat.class_level(index, level)
        levels.append(
            {
                "level": level,
                "proficiency_bonus": row["prof_bonus"],
                "ability_score_improvements": row.get("ability_score_bonuses", 0),
                "features": _refs(row["features"]),
                "spellcasting": row.get("spellcasting"),
                "class_specific": row.get("class_specific"),
            }
        )
    subclasses = []
    for sub in cat.subclasses_of(index):
        sub_levels = [
            {"level": lvl, "features": _features(cat, row["features"])}
            for lvl in range(1, 21)
            if (row := cat.subclass_level(sub["index"], lvl))
        ]
        subclasses.append(
            {
                "index": sub["index"],
                "name": sub["name"],
                "flavor": sub.get("subclass_flavor"),
                "desc": sub.get("desc", []),
                "levels": sub_levels,
            }
        )
    spells = creation.spell_rules(cat, index, 1, None)
    return {
        **class_summary(cat, klass),
        "proficiencies": _refs(klass["proficiencies"]),
        "starting_equipment": [
            {
                "index": e["equipment"]["index"],
                "name": e["equipment"]["name"],
                "quantity": e["quantity"],
            }
            for e in klass.get("starting_equipment", [])
        ],
        "choices": [c.as_dict() for c in creation.base_choices(cat, state)],
        "multiclassing": klass.get("multi_classing"),
        "level_1_features": _features(cat, cat.class_level(index, 1)["features"]),
        "spellcasting": (
            {
                "info": klass["spellcasting"]["info"],
                "level_1": {
                    "cantrips": spells.cantrips,
                    "spells_known": spells.known,
                    "prepares_spells": spells.prepares,
                    "spellbook": spells.spellbook,
                    "slots": spells.slots,
                },
            }
            if spells
            else None
        ),
        "levels": levels,
        "subclass_details": subclasses,
        "attribution": cat.attribution,
    }


def _traits(cat: Catalogue, refs: list[Doc]) -> list[dict[str, Any]]:
    return [
        {"index": t["index"], "name": t["name"], "desc": cat.get("traits", t["index"])["desc"]}
        for t in refs
        if cat.has("traits", t["index"])
    ]


def _bonuses(doc: Doc) -> list[dict[str, Any]]:
    return [
        {"ability": b["ability_score"]["index"], "bonus": b["bonus"]}
        for b in doc.get("ability_bonuses", [])
    ]


@router.get("/races")
async def list_races(cat: CatalogueDep) -> list[dict[str, Any]]:
    """Races with their subraces, ability bonuses, traits (with text) and choices."""
    out = []
    for race in cat.all("races"):
        subraces = []
        for sub in cat.subraces_of(race["index"]):
            own = {c.id for c in creation.base_choices(cat, CreationState(race=race["index"]))}
            sub_choices = creation.base_choices(
                cat, CreationState(race=race["index"], subrace=sub["index"])
            )
            subraces.append(
                {
                    "index": sub["index"],
                    "name": sub["name"],
                    "desc": sub.get("desc"),
                    "ability_bonuses": _bonuses(sub),
                    "traits": _traits(cat, sub.get("racial_traits", [])),
                    "choices": [c.as_dict() for c in sub_choices if c.id not in own],
                }
            )
        out.append(
            {
                "index": race["index"],
                "name": race["name"],
                "speed": race["speed"],
                "size": race["size"],
                "size_description": race.get("size_description"),
                "age": race.get("age"),
                "alignment": race.get("alignment"),
                "ability_bonuses": _bonuses(race),
                "languages": _refs(race.get("languages", [])),
                "language_desc": race.get("language_desc"),
                "traits": _traits(cat, race.get("traits", [])),
                "choices": [
                    c.as_dict()
                    for c in creation.base_choices(cat, CreationState(race=race["index"]))
                ],
                "subraces": subraces,
            }
        )
    return out


def _suggestions(raw: Doc | None) -> dict[str, Any] | None:
    if not raw:
        return None
    options = raw["from"].get("options", [])
    return {
        "choose": raw["choose"],
        "options": [o.get("string") or o.get("desc") for o in options],
    }


@router.get("/backgrounds")
async def list_backgrounds(cat: CatalogueDep) -> list[dict[str, Any]]:
    out = []
    for bg in cat.all("backgrounds"):
        state = CreationState(background=bg["index"])
        out.append(
            {
                "index": bg["index"],
                "name": bg["name"],
                "proficiencies": _refs(bg.get("starting_proficiencies", [])),
                "starting_equipment": [
                    {
                        "index": e["equipment"]["index"],
                        "name": e["equipment"]["name"],
                        "quantity": e["quantity"],
                    }
                    for e in bg.get("starting_equipment", [])
                ],
                "starting_gold": bg.get("starting_gold"),
                "feature": bg.get("feature"),
                "choices": [c.as_dict() for c in creation.base_choices(cat, state)],
                "personality_traits": _suggestions(bg.get("personality_traits")),
                "ideals": _suggestions(bg.get("ideals")),
                "bonds": _suggestions(bg.get("bonds")),
                "flaws": _suggestions(bg.get("flaws")),
            }
        )
    return out


@router.get("/alignments")
async def list_alignments(cat: CatalogueDep) -> list[dict[str, Any]]:
    return [
        {"index": a["index"], "name": a["name"], "abbreviation": a.get("abbreviation")}
        for a in cat.all("alignments")
    ]


@router.get("/equipment")
async def list_equipment(
    cat: CatalogueDep,
    category: Annotated[
        str | None, Query(max_length=80, description="e.g. martial-weapons")
    ] = None,
    q: Annotated[str | None, Query(max_length=80, description="part of the name")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    items = cat.all("equipment")
    if category:
        if not cat.has("equipment_categories", category):
            raise not_found(f"Equipment category {category!r}")
        members = {e["index"] for e in cat.category_equipment(category)}
        items = [e for e in items if e["index"] in members]
    if q:
        items = [e for e in items if q.lower() in e["name"].lower()]
    return _page([strip_urls(e) for e in items], limit, offset, cat)


@router.get("/spells")
async def list_spells(
    cat: CatalogueDep,
    class_: Annotated[str | None, Query(alias="class", max_length=40)] = None,
    level: Annotated[int | None, Query(ge=0, le=9)] = None,
    school: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=80)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Spells, filtered by class list, level (0 = cantrip), school and name."""
    if class_ and not cat.has("classes", class_):
        raise not_found(f"Class {class_!r}")
    if school and not cat.has("magic_schools", school):
        raise not_found(f"Magic school {school!r}")
    items = cat.class_spells(class_) if class_ else cat.all("spells")
    if level is not None:
        items = [s for s in items if s["level"] == level]
    if school:
        items = [s for s in items if s["school"]["index"] == school]
    if q:
        items = [s for s in items if q.lower() in s["name"].lower()]
    items = sorted(items, key=lambda s: (s["level"], s["name"]))
    return _page([strip_urls(s) for s in items], limit, offset, cat)
