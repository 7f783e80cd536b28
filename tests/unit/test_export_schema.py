"""Exports without HTTP: the v1 document and its schema, the import's rule checks on tampered
files, the Foundry VTT actor's structure and the PDF's text handling."""

from __future__ import annotations

import copy
import io
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from hero_foundry.exports import foundry, importer, pdf
from hero_foundry.exports.document import Snapshot, export_document, slug
from hero_foundry.exports.schema import SCHEMA, VERSION, ExportDocument, json_schema
from hero_foundry.problems import ProblemError
from hero_foundry.rules import creation
from hero_foundry.rules.creation import CreationState
from hero_foundry.srd import get_catalogue
from tests.builders import build, level_up

CAT = get_catalogue()
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MAX_BODY = 64 * 1024
RACE_FOR = {"paladin": "half-orc", "sorcerer": "tiefling", "wizard": "gnome"}
FOUNDRY_SKILLS = {
    "acr", "ani", "arc", "ath", "dec", "his", "ins", "itm", "inv",
    "med", "nat", "prc", "prf", "per", "rel", "slt", "ste", "sur",
}  # fmt: skip
FOUNDRY_LANGUAGES = {
    "common", "draconic", "dwarvish", "elvish", "giant", "gnomish", "goblin", "halfling", "orc",
    "sign", "aarakocra", "abyssal", "cant", "celestial", "deep", "druidic", "gith", "gnoll",
    "infernal", "primordial", "aquan", "auran", "ignan", "terran", "sylvan", "undercommon",
}  # fmt: skip
ITEM_TYPES = {
    "class", "subclass", "race", "background", "feat", "spell", "weapon", "equipment", "tool",
    "consumable", "loot",
}  # fmt: skip
PREPARATION_MODES = {"prepared", "pact", "always", "atwill", "innate", "ritual"}


def snapshot(state: CreationState, notes: str = "") -> Snapshot:
    return Snapshot(
        id=uuid.uuid4(),
        name=state.details["name"],
        level=1 + len(state.level_ups),
        build=state.to_dict(),
        inventory=creation.starting_inventory(CAT, state),
        currency={"cp": 0, "sp": 3, "ep": 0, "gp": 15, "pp": 0},
        notes=notes,
    )


def levelled(race: str, classes: list[str], name: str = "Tester") -> CreationState:
    state = build(CAT, race, classes[0], name=name)
    for klass in classes[1:]:
        state = level_up(CAT, state, klass)
    return state


def document(state: CreationState) -> dict[str, Any]:
    return json.loads(json.dumps(export_document(CAT, snapshot(state), NOW)))


@pytest.fixture(scope="module")
def fighter_doc() -> dict[str, Any]:
    """A human fighter 3 (Champion): a subclass at level 3, skills, armour."""
    return document(levelled("human", ["fighter", "fighter", "fighter"]))


def refused(data: Any) -> list[dict[str, str]]:
    with pytest.raises(ProblemError) as caught:
        importer.validate(CAT, data)
    assert caught.value.status == 422
    return caught.value.errors


def fields(errors: list[dict[str, str]]) -> set[str]:
    return {e["field"] for e in errors}


# ----------------------------------------------------------------------------------------------
# The document and its schema
# ----------------------------------------------------------------------------------------------
def test_the_document_fits_its_published_model_and_schema(fighter_doc: dict[str, Any]) -> None:
    parsed = ExportDocument.model_validate(fighter_doc)
    assert parsed.schema_ == SCHEMA and parsed.version == VERSION
    schema = json_schema()
    assert schema["$id"] == "/api/exports/schema/character-v2.json"
    assert schema["properties"]["schema"]["const"] == SCHEMA
    assert schema["properties"]["version"]["const"] == VERSION
    assert set(schema["required"]) == {"schema", "version", "character"}
    assert {"LevelUpRecord", "Build", "InventoryItem", "Currency"} <= set(schema["$defs"])
    assert fighter_doc["attribution"] == CAT.attribution
    assert fighter_doc["srd"]["version"] == CAT.metadata["source_tag"]
    assert all("desc" not in f for f in fighter_doc["sheet"]["features"])


def test_import_of_an_export_gives_the_same_build_and_recomputes_grants(
    fighter_doc: dict[str, Any],
) -> None:
    tampered = copy.deepcopy(fighter_doc)
    for record in tampered["character"]["build"]["level_ups"]:
        record["grants"] = {"proficiencies": ["skill-arcana"], "expertise": ["skill-stealth"]}
    imported = importer.validate(CAT, tampered)
    assert imported.build == fighter_doc["character"]["build"]  # grants as the rules give them
    assert imported.level == 3 and imported.inventory == fighter_doc["character"]["inventory"]


@pytest.mark.parametrize("klass", list(CAT.tables["classes"]))
def test_a_level_20_export_fits_the_import_body_limit(klass: str) -> None:
    state = levelled(RACE_FOR.get(klass, "human"), [klass] * 20)
    # The longest free text the API accepts: 16 personality entries, backstory and notes.
    state.details.update({k: ["x" * 500] * 4 for k in ("personality_traits", "ideals", "bonds")})
    state.details.update({"flaws": ["x" * 500] * 4, "backstory": "x" * 10_000})
    doc = export_document(CAT, snapshot(state, notes="x" * 10_000), NOW)
    size = len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
    assert size < MAX_BODY, size
    assert importer.validate(CAT, json.loads(json.dumps(doc))).level == 20


def test_file_names_are_safe_ascii_slugs() -> None:
    assert slug("Brottor Ironfist") == "brottor-ironfist"
    assert slug("Zoë “the Bold” Ó'Brien") == "zoe-the-bold-o-brien"
    assert slug('../../etc/passwd"; x') == "etc-passwd-x"
    assert slug("龍") == "character"
    assert len(slug("a" * 500)) == 60


# ----------------------------------------------------------------------------------------------
# Tampered files
# ----------------------------------------------------------------------------------------------
def tamper(doc: dict[str, Any], change) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    change(out)
    return out


def _build(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["character"]["build"]


CASES = [
    (
        "unknown schema",
        lambda d: d.update(schema="someone-else/character"),
        "schema",
        "unknown schema",
    ),
    ("a later version", lambda d: d.update(version=3), "version", "unsupported version 3"),
    ("version as text", lambda d: d.update(version="1"), "version", "unsupported version"),
    ("version as a boolean", lambda d: d.update(version=True), "version", "unsupported"),
    (
        "an overspent point buy",
        lambda d: _build(d).update(
            ability_method="point_buy",
            base_scores={"str": 15, "dex": 15, "con": 15, "int": 15, "wis": 8, "cha": 8},
        ),
        "character.build.base_scores",
        "point buy costs 36 points",
    ),
    (
        "a standard array used twice",
        lambda d: _build(d)["base_scores"].update(dex=15),
        "character.build.base_scores",
        "standard array",
    ),
    (
        "a missing ability",
        lambda d: _build(d)["base_scores"].pop("cha"),
        "character.build.base_scores.cha",
        "missing",
    ),
    (
        "a score as text",
        lambda d: _build(d)["base_scores"].update(str="15"),
        "character.build.base_scores.str",
        "integer",
    ),
    (
        "a skill the class does not offer",
        lambda d: _build(d)["selections"].update(
            {"class:proficiencies:0": ["skill-arcana", "skill-religion"]}
        ),
        "character.build.selections.class:proficiencies:0",
        "is not one of this choice's options",
    ),
    (
        "a choice the character does not have",
        lambda d: _build(d)["selections"].update({"feature:rage": ["x"]}),
        "character.build.selections.feature:rage",
        "not a choice",
    ),
    (
        "an unknown race",
        lambda d: _build(d).update(race="kender"),
        "character.build.race",
        "unknown race",
    ),
    (
        "an illegal subclass at level 3",
        lambda d: _build(d)["level_ups"][1].update(subclass="life"),
        "character.build.level_ups.1.subclass",
        "is not a fighter subclass",
    ),
    (
        "a subclass a level early",
        lambda d: _build(d)["level_ups"][0].update(subclass="champion"),
        "character.build.level_ups.0.subclass",
        "level 3, not 2",
    ),
    (
        "an improvement where the class has none",
        lambda d: _build(d)["level_ups"][0].update(increases={"str": 2}),
        "character.build.level_ups.0.increases",
        "has no improvement",
    ),
    (
        "a hit die rolled above its faces",
        lambda d: _build(d)["level_ups"][0].update(hp_method="rolled", hp_roll=12),
        "character.build.level_ups.0.hp_roll",
        "1 to 10",
    ),
    (
        "a level-up out of order",
        lambda d: _build(d)["level_ups"][0].update(from_level=2),
        "character.build.level_ups.0.from_level",
        "changed level",
    ),
    (
        "a level-up choice that does not exist",
        lambda d: _build(d)["level_ups"][0]["selections"].update({"feature:nope": ["x"]}),
        "character.build.level_ups.0.selections.feature:nope",
        "not a choice",
    ),
    (
        "a level that does not match the build",
        lambda d: d["character"].update(level=5),
        "character.level",
        "level-ups",
    ),
    (
        "a name that does not match the build",
        lambda d: d["character"].update(name="Someone Else"),
        "character.name",
        "differs",
    ),
    (
        "unknown equipment",
        lambda d: d["character"]["inventory"].insert(
            0, {"index": "vorpal-sword", "name": "Vorpal Sword", "quantity": 1, "equipped": True}
        ),
        "character.inventory.0.index",
        "unknown equipment",
    ),
    (
        "an absurd quantity",
        lambda d: d["character"]["inventory"][0].update(quantity=1_000_000),
        "character.inventory.0.quantity",
        "less than or equal to 10000",
    ),
    (
        "negative money",
        lambda d: d["character"]["currency"].update(gp=-5),
        "character.currency.gp",
        "greater than or equal to 0",
    ),
    (
        "a NUL character",
        lambda d: d["character"].update(notes="a\x00b"),
        "character.notes",
        "NUL character",
    ),
    (
        "an unknown field",
        lambda d: d["character"].update(hit_points=999),
        "character.hit_points",
        "Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("case", "change", "field", "reason"), CASES, ids=[c[0] for c in CASES])
def test_tampered_files_are_refused_naming_the_field(
    fighter_doc: dict[str, Any], case: str, change, field: str, reason: str
) -> None:
    errors = refused(tamper(fighter_doc, change))
    matching = [e for e in errors if e["field"] == field]
    assert matching, (case, errors)
    assert reason in matching[0]["reason"], (case, errors)


def test_two_suits_of_armour_cannot_be_worn(fighter_doc: dict[str, Any]) -> None:
    def wear_two(d: dict[str, Any]) -> None:
        d["character"]["inventory"] += [
            {"index": "leather-armor", "name": "Leather Armor", "quantity": 1, "equipped": True},
            {"index": "plate-armor", "name": "Plate Armor", "quantity": 1, "equipped": True},
        ]

    assert "character.inventory" in fields(refused(tamper(fighter_doc, wear_two)))


def test_an_always_prepared_spell_cannot_also_be_prepared() -> None:
    doc = document(levelled("dwarf", ["cleric"]))
    always = creation.always_prepared(CAT, CreationState.from_dict(_build(doc)))
    _build(doc)["spells"]["prepared"][0] = always[0]
    assert "character.build.spells.prepared" in fields(refused(doc))


def test_rolled_scores_must_match_the_dice(fighter_doc: dict[str, Any]) -> None:
    def rolled(d: dict[str, Any]) -> None:
        _build(d).update(ability_method="rolled", rolled=[[1, 1, 1, 1]] * 6)

    errors = refused(tamper(fighter_doc, rolled))
    assert any("rolled total" in e["reason"] for e in errors)


def test_names_are_taken_from_the_srd_not_the_file(fighter_doc: dict[str, Any]) -> None:
    doc = tamper(fighter_doc, lambda d: d["character"]["inventory"][0].update(name="Excalibur"))
    imported = importer.validate(CAT, doc)
    assert imported.inventory == fighter_doc["character"]["inventory"]


def test_the_sheet_in_the_file_is_ignored(fighter_doc: dict[str, Any]) -> None:
    doc = tamper(fighter_doc, lambda d: d.update(sheet={"armor_class": {"value": 30}}))
    assert importer.validate(CAT, doc).build == _build(fighter_doc)


# ----------------------------------------------------------------------------------------------
# Foundry VTT
# ----------------------------------------------------------------------------------------------
def test_the_foundry_actor_has_the_dnd5e_structure() -> None:
    state = levelled("human", ["fighter", "fighter", "fighter", "wizard", "wizard"], "Mira")
    snap = snapshot(state)
    sheet = snap.sheet(CAT)
    actor = foundry.actor(CAT, snap, NOW)
    assert actor["type"] == "character" and actor["name"] == "Mira"
    assert isinstance(actor["items"], list) and actor["effects"] == []
    assert actor["flags"]["hero-foundry"]["character_id"] == str(snap.id)
    assert actor["_stats"]["systemId"] == "dnd5e"
    system = actor["system"]

    assert set(system["abilities"]) == {"str", "dex", "con", "int", "wis", "cha"}
    for ability, data in system["abilities"].items():
        assert data["value"] == sheet["abilities"][ability]["score"]
        assert data["proficient"] == int(sheet["saving_throws"][ability]["proficient"])
    attributes = system["attributes"]
    assert attributes["hp"]["value"] == attributes["hp"]["max"] == sheet["hit_points"]["max"]
    assert attributes["ac"] == {"calc": "flat", "flat": sheet["armor_class"]["value"]}
    assert attributes["movement"]["walk"] == sheet["speed"] and isinstance(sheet["speed"], int)
    assert attributes["spellcasting"] == "int"

    assert set(system["skills"]) == FOUNDRY_SKILLS
    by_name = {s["name"]: s for s in sheet["skills"].values()}
    expected_keys = {
        "Acrobatics": "acr", "Animal Handling": "ani", "Arcana": "arc", "Athletics": "ath",
        "Deception": "dec", "History": "his", "Insight": "ins", "Intimidation": "itm",
        "Investigation": "inv", "Medicine": "med", "Nature": "nat", "Perception": "prc",
        "Performance": "prf", "Persuasion": "per", "Religion": "rel", "Sleight of Hand": "slt",
        "Stealth": "ste", "Survival": "sur",
    }  # fmt: skip
    for name, key in expected_keys.items():
        skill = by_name[name]
        assert system["skills"][key]["ability"] == skill["ability"]
        assert system["skills"][key]["value"] == (2 if skill["expertise"] else skill["proficient"])
    assert set(system["traits"]["languages"]["value"]) <= FOUNDRY_LANGUAGES
    assert "common" in system["traits"]["languages"]["value"]
    assert {"sim", "mar"} <= set(system["traits"]["weaponProf"]["value"])
    assert set(system["currency"]) == {"pp", "gp", "ep", "sp", "cp"}
    assert system["currency"]["gp"] == 15
    assert system["spells"]["spell1"]["value"] == 3  # a level-2 wizard's slots

    items = actor["items"]
    ids = [i["_id"] for i in items]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[A-Za-z0-9]{16}", i) for i in ids)
    assert {i["type"] for i in items} <= ITEM_TYPES
    classes = {i["system"]["identifier"]: i for i in items if i["type"] == "class"}
    assert {k: c["system"]["levels"] for k, c in classes.items()} == {"fighter": 3, "wizard": 2}
    assert classes["fighter"]["system"]["hitDice"] == "d10"
    assert classes["wizard"]["system"]["spellcasting"] == {"progression": "full", "ability": "int"}
    assert system["details"]["originalClass"] == classes["fighter"]["_id"]
    race = next(i for i in items if i["type"] == "race")
    assert system["details"]["race"] == race["_id"]
    subclasses = [i["system"] for i in items if i["type"] == "subclass"]
    assert {s["classIdentifier"]: s["identifier"] for s in subclasses} == {
        "fighter": "champion",
        "wizard": CAT.subclasses_of("wizard")[0]["index"],
    }
    spells = [i["system"] for i in items if i["type"] == "spell"]
    assert spells and all(0 <= s["level"] <= 9 for s in spells)
    assert all(s["preparation"]["mode"] in PREPARATION_MODES for s in spells)
    assert all(s["sourceClass"] == "wizard" for s in spells)
    feats = [i for i in items if i["type"] == "feat"]
    assert {f["system"]["type"]["value"] for f in feats} <= {"class", "race", "feat", "background"}
    assert "Action Surge (1 use)" in {f["name"] for f in feats}
    inventory = [i for i in items if i["type"] in ("weapon", "equipment", "tool", "loot")]
    assert sum(i["system"]["quantity"] for i in inventory) <= sum(
        i["quantity"] for i in snap.inventory
    )
    for weapon in (i["system"] for i in items if i["type"] == "weapon"):
        assert weapon["type"]["value"] in {"simpleM", "simpleR", "martialM", "martialR"}
        assert isinstance(weapon["damage"]["base"]["denomination"], int)
    armor = [i["system"] for i in items if i["type"] == "equipment"]
    assert all(a["type"]["value"] in {"light", "medium", "heavy", "shield"} for a in armor)
    json.dumps(actor)  # plain JSON


def test_a_warlock_uses_pact_magic_in_foundry() -> None:
    state = levelled("tiefling", ["warlock"] * 3)
    actor = foundry.actor(CAT, snapshot(state), NOW)
    assert actor["system"]["spells"]["pact"]["value"] == 2
    warlock = next(i for i in actor["items"] if i["type"] == "class")
    assert warlock["system"]["spellcasting"]["progression"] == "pact"
    modes = {i["system"]["preparation"]["mode"] for i in actor["items"] if i["type"] == "spell"}
    assert "pact" in modes


# ----------------------------------------------------------------------------------------------
# PDF text
# ----------------------------------------------------------------------------------------------
def test_characters_the_font_lacks_are_replaced() -> None:
    assert pdf.clean("A & B <c>") == "A &amp; B &lt;c&gt;"
    assert pdf.clean("龍\x07") == "?"
    assert pdf.shorten("First sentence here. Second one.", 100) == "First sentence here."
    assert pdf.shorten("word " * 100, 30).endswith("...")


def test_a_name_in_any_script_renders() -> None:
    state = levelled("elf", ["wizard"], name="Ærwen 龍 “Quill” — Ω")
    data = pdf.render(CAT, snapshot(state, notes="Line one\nLine two ×3"), NOW)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Ærwen" in text and "Quill" in text and "Line two" in text


def test_sheets_rendered_at_the_same_time_do_not_mix() -> None:
    """Exports render in worker threads; reportlab keeps font state per document."""
    names = [f"Hero {n}" for n in range(6)]
    snaps = [
        snapshot(levelled("human", [klass], name=name))
        for name, klass in zip(
            names, ["wizard", "cleric", "bard", "fighter", "rogue", "druid"], strict=True
        )
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        files = list(pool.map(lambda s: pdf.render(CAT, s, NOW), snaps))
    for name, data in zip(names, files, strict=True):
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
        assert name in text and not any(other in text for other in names if other != name)
