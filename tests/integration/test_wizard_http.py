"""The whole creation wizard over HTTP, for every SRD class, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from hero_foundry.srd import get_catalogue
from tests.integration.api import build_character, new_player, ok

CAT = get_catalogue()
RACES = list(CAT.tables["races"])
CLASSES = list(CAT.tables["classes"])


@pytest.mark.parametrize("class_index", CLASSES)
async def test_wizard_builds_every_class(client: httpx.AsyncClient, class_index: str) -> None:
    headers = await new_player(client)
    race = RACES[CLASSES.index(class_index) % len(RACES)]  # every race shows up too
    character, draft = await build_character(client, headers, race, class_index)
    sheet = character["sheet"]
    level_row = CAT.class_level(class_index, 1)
    assert character["class"] == class_index and character["race"] == race
    assert sheet["proficiency_bonus"] == level_row["prof_bonus"]
    assert sheet["hit_points"]["max"] >= CAT.get("classes", class_index)["hit_die"] - 1
    # The stored character is the draft's preview, and it reads back the same.
    assert sheet == draft["preview"] | {"armor_class": sheet["armor_class"]}
    again = await ok(client.get(f"/api/characters/{character['id']}", headers=headers))
    assert again == character
    assert "System Reference Document 5.1" in character["attribution"]

    finished = await ok(client.get(f"/api/characters/drafts/{draft['id']}", headers=headers))
    started = datetime.fromisoformat(finished["started_at"])
    ended = datetime.fromisoformat(finished["finished_at"])
    assert started <= ended and finished["character_id"] == character["id"]


async def test_hill_dwarf_cleric_sheet(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(
        client, headers, "dwarf", "cleric", subrace="hill-dwarf", name="Bruenor"
    )
    sheet = character["sheet"]
    assert character["name"] == "Bruenor" and character["subclass"] == "life"
    assert sheet["subrace"] == {"index": "hill-dwarf", "name": "Hill Dwarf"}
    assert sheet["speed"] == 25
    con = sheet["abilities"]["con"]["modifier"]
    assert sheet["hit_points"] == {"max": 8 + con + 1, "hit_dice": "1d8"}
    names = {f["name"] for f in sheet["features"]}
    assert {"Dwarven Toughness", "Disciple of Life", "Shelter of the Faithful"} <= names
    assert {lang["index"] for lang in sheet["languages"]} >= {"common", "dwarvish"}
    assert character["currency"]["gp"] == 15  # the acolyte's starting gold


async def test_rolled_scores_keep_the_server_dice(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=headers), 201)
    base = f"/api/characters/drafts/{draft['id']}"
    draft = await ok(client.post(f"{base}/ability-scores/roll", headers=headers))
    rolled = draft["chosen"]["ability_scores"]["rolled"]
    assert len(rolled) == 6
    for entry in rolled:
        assert len(entry["dice"]) == 4
        assert entry["total"] == sum(entry["dice"]) - min(entry["dice"])
    again = await ok(client.post(f"{base}/ability-scores/roll", headers=headers))
    # No re-rolling until the numbers look good: asking again answers with the same roll.
    assert again["chosen"]["ability_scores"]["rolled"] == rolled
    shown = await ok(client.get(base, headers=headers))
    assert shown["chosen"]["ability_scores"]["rolled"] == rolled

    totals = [e["total"] for e in rolled]
    scores = dict(zip(["str", "dex", "con", "int", "wis", "cha"], totals, strict=True))
    draft = await ok(
        client.put(
            f"{base}/ability-scores", headers=headers, json={"method": "rolled", "scores": scores}
        )
    )
    assert draft["chosen"]["ability_scores"]["base"] == scores
    cheat = {**scores, "str": 18 if scores["str"] != 18 else 17}
    r = await client.put(
        f"{base}/ability-scores", headers=headers, json={"method": "rolled", "scores": cheat}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scores"


async def test_draft_lists_what_is_missing_in_wizard_order(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=headers), 201)
    assert [m["field"] for m in draft["missing"]] == [
        "race",
        "class",
        "background",
        "ability_scores",
        "details.name",
        "details.alignment",
    ]
    assert draft["preview"] is None and draft["started_at"]
    resumable = await ok(client.get("/api/characters/drafts", headers=headers))
    assert draft["id"] in [d["id"] for d in resumable]
