"""The SRD catalogue endpoints give a wizard everything it renders, straight from the data."""

from __future__ import annotations

import httpx
import pytest

from hero_foundry.srd import get_catalogue
from tests.integration.api import ok

pytestmark = pytest.mark.usefixtures("database_url")
CAT = get_catalogue()


async def test_classes_list_every_srd_class(client: httpx.AsyncClient) -> None:
    classes = await ok(client.get("/api/srd/classes"))
    assert {c["index"] for c in classes} == set(CAT.tables["classes"])
    cleric = next(c for c in classes if c["index"] == "cleric")
    assert cleric["hit_die"] == 8 and cleric["spellcasting_ability"] == "wis"
    assert cleric["subclass_level"] == 1 and cleric["subclasses"][0]["index"] == "life"


async def test_class_detail_has_choices_features_and_tables(client: httpx.AsyncClient) -> None:
    fighter = await ok(client.get("/api/srd/classes/fighter"))
    ids = [c["id"] for c in fighter["choices"]]
    assert ids[0] == "class:proficiencies:0"
    assert "class:equipment:0" in ids and "feature:fighter-fighting-style" in ids
    equipment = next(c for c in fighter["choices"] if c["id"] == "class:equipment:1")
    bundle = next(o for o in equipment["options"] if o["key"] == "a")
    assert bundle["then_choose"][0]["id"] == "class:equipment:1/a/0"  # "a martial weapon"
    assert len(fighter["levels"]) == 20
    assert [lvl["proficiency_bonus"] for lvl in fighter["levels"]][::4] == [2, 3, 4, 5, 6]
    assert fighter["level_1_features"][0]["desc"]
    assert fighter["spellcasting"] is None
    wizard = await ok(client.get("/api/srd/classes/wizard"))
    assert wizard["spellcasting"]["level_1"] == {
        "cantrips": 3,
        "spells_known": 6,
        "prepares_spells": True,
        "spellbook": True,
        "slots": {"1": 2},
    }
    r = await client.get("/api/srd/classes/necromancer")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_races_carry_bonuses_traits_and_choices(client: httpx.AsyncClient) -> None:
    races = {r["index"]: r for r in await ok(client.get("/api/srd/races"))}
    assert set(races) == set(CAT.tables["races"])
    dwarf = races["dwarf"]
    assert dwarf["ability_bonuses"] == [{"ability": "con", "bonus": 2}]
    hill = dwarf["subraces"][0]
    assert hill["index"] == "hill-dwarf" and hill["ability_bonuses"] == [
        {"ability": "wis", "bonus": 1}
    ]
    assert "Dwarven Toughness" in [t["name"] for t in hill["traits"]]
    assert dwarf["choices"][0]["id"] == "trait:tool-proficiency"
    half_elf = races["half-elf"]
    assert half_elf["choices"][0]["id"] == "race:ability-bonuses"
    assert half_elf["choices"][0]["choose"] == 2
    high_elf = races["elf"]["subraces"][0]
    assert [c["id"] for c in high_elf["choices"]] == [
        "trait:high-elf-cantrip",
        "trait:extra-language",
    ]


async def test_backgrounds_list_proficiencies_equipment_and_suggestions(
    client: httpx.AsyncClient,
) -> None:
    (acolyte,) = await ok(client.get("/api/srd/backgrounds"))
    assert [p["index"] for p in acolyte["proficiencies"]] == ["skill-insight", "skill-religion"]
    assert acolyte["choices"][0]["id"] == "background:languages"
    assert len(acolyte["choices"][0]["options"]) == len(CAT.tables["languages"])
    assert acolyte["starting_gold"] == {"quantity": 15, "unit": "gp"}
    assert acolyte["personality_traits"]["choose"] == 2
    assert len(acolyte["ideals"]["options"]) >= 6


async def test_equipment_and_spells_filter_and_paginate(client: httpx.AsyncClient) -> None:
    armor = await ok(client.get("/api/srd/equipment", params={"category": "heavy-armor"}))
    assert {e["index"] for e in armor["items"]} == {
        "ring-mail",
        "chain-mail",
        "splint-armor",
        "plate-armor",
    }
    assert armor["items"][0]["armor_class"]["base"] >= 14
    everything = await ok(client.get("/api/srd/equipment", params={"limit": 500}))
    assert everything["total"] == len(CAT.tables["equipment"])
    cantrips = await ok(client.get("/api/srd/spells", params={"class": "cleric", "level": 0}))
    assert "sacred-flame" in [s["index"] for s in cantrips["items"]]
    assert all(s["level"] == 0 for s in cantrips["items"])
    page = await ok(client.get("/api/srd/spells", params={"limit": 10, "offset": 10}))
    assert len(page["items"]) == 10 and page["total"] == len(CAT.tables["spells"])
    evocation = await ok(client.get("/api/srd/spells", params={"school": "evocation", "q": "fire"}))
    assert "fireball" in [s["index"] for s in evocation["items"]]
    for params in ({"class": "necromancer"}, {"school": "cooking"}):
        assert (await client.get("/api/srd/spells", params=params)).status_code == 404
    assert (await client.get("/api/srd/spells", params={"level": 10})).status_code == 422
    assert "CC-BY-4.0" in (await ok(client.get("/api/srd")))["source"]["license"]
