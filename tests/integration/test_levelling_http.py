"""Level-up sessions over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from hero_foundry.srd import get_catalogue
from tests.integration.api import build_character, level_up, new_player, ok

pytestmark = pytest.mark.usefixtures("database_url")
CAT = get_catalogue()
PROBLEM = "application/problem+json"


@pytest.mark.parametrize("klass", ["fighter", "wizard", "warlock"])
async def test_levels_1_to_5_over_http(client: httpx.AsyncClient, klass: str) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", klass)
    for level in range(2, 6):
        character = await level_up(client, headers, character["id"], klass)
        sheet = character["sheet"]
        assert character["level"] == sheet["level"] == level
        assert sheet["proficiency_bonus"] == CAT.class_level(klass, level)["prof_bonus"]
        row_features = {f["index"] for f in CAT.class_level(klass, level)["features"]}
        assert row_features <= {f["index"] for f in sheet["features"]}
    assert sheet["classes"][0]["subclass"] == CAT.subclasses_of(klass)[0]["index"]
    assert sum(a["improvements"] for a in sheet["abilities"].values()) == 2  # the level-4 ASI
    again = await ok(client.get(f"/api/characters/{character['id']}", headers=headers))
    assert again == character
    history = await ok(client.get(f"/api/characters/{character['id']}/level-ups", headers=headers))
    assert [h["to_level"] for h in history] == [5, 4, 3, 2]
    for entry in history:
        assert entry["status"] == "committed"
        assert datetime.fromisoformat(entry["started_at"]) <= datetime.fromisoformat(
            entry["finished_at"]
        )


async def test_session_lists_what_is_required_and_commits(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "dwarf", "cleric", subrace="hill-dwarf")
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=headers, json={"class": "cleric"}), 201)
    assert view["status"] == "open" and view["from_level"] == 1 and view["to_level"] == 2
    assert view["started_at"] and view["finished_at"] is None
    assert [m["field"] for m in view["missing"]] == ["hit_points"]
    assert view["hit_points"]["average"] == 5 and view["hit_points"]["hit_die"] == 8
    url = f"{base}/{view['id']}"
    r = await client.post(f"{url}/commit", headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hit_points"
    view = await ok(client.put(f"{url}/hit-points", headers=headers, json={"method": "rolled"}))
    roll = view["chosen"]["hit_points"]["roll"]
    assert 1 <= roll <= 8
    again = await ok(client.put(f"{url}/hit-points", headers=headers, json={"method": "rolled"}))
    assert again["chosen"]["hit_points"]["roll"] == roll  # one roll, kept
    r = await client.put(f"{url}/hit-points", headers=headers, json={"method": "average"})
    assert r.status_code == 409  # no taking the average after a bad roll
    before_hp = character["sheet"]["hit_points"]["max"]
    committed = await ok(client.post(f"{url}/commit", headers=headers))
    con = committed["sheet"]["abilities"]["con"]["modifier"]
    assert committed["level"] == 2
    assert committed["sheet"]["hit_points"]["max"] == before_hp + max(1, roll + con) + 1
    done = await ok(client.get(url, headers=headers))
    assert done["status"] == "committed" and done["finished_at"]
    r = await client.put(f"{url}/hit-points", headers=headers, json={"method": "rolled"})
    assert r.status_code == 409


async def test_abandon_discards_the_level(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "rogue")
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=headers, json={"class": "rogue"}), 201)
    r = await client.post(base, headers=headers, json={"class": "rogue"})
    assert r.status_code == 409 and view["id"] in r.json()["detail"]  # one at a time
    await ok(
        client.put(f"{base}/{view['id']}/hit-points", headers=headers, json={"method": "average"})
    )
    r = await client.delete(f"{base}/{view['id']}", headers=headers)
    assert r.status_code == 204
    unchanged = await ok(client.get(f"/api/characters/{character['id']}", headers=headers))
    assert unchanged["level"] == 1 and unchanged["sheet"] == character["sheet"]
    assert (await ok(client.get(f"{base}/{view['id']}", headers=headers)))["status"] == "abandoned"
    await ok(client.post(base, headers=headers, json={"class": "rogue"}), 201)


async def test_illegal_level_up_choices_are_problems(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "fighter")
    base = f"/api/characters/{character['id']}/level-ups"

    r = await client.post(base, headers=headers, json={"class": "necromancer"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    scores = {a: v["score"] for a, v in character["sheet"]["abilities"].items()}
    if scores["wis"] < 13 or scores["dex"] < 13:
        r = await client.post(base, headers=headers, json={"class": "monk"})
        assert r.status_code == 422
        assert "multiclassing needs" in r.json()["errors"][0]["reason"]

    view = await ok(client.post(base, headers=headers, json={"class": "fighter"}), 201)
    url = f"{base}/{view['id']}"
    cases = [
        ("subclass", {"subclass": "champion"}, "subclass", "level 3, not 2"),
        ("ability-scores", {"increases": {"str": 2}}, "ability_scores", "has no improvement"),
        ("spells", {"cantrips": ["fire-bolt"]}, "spells", "gains no spells"),
        ("choices", {"selections": {"feature:nope": ["x"]}}, "choices.feature:nope", "not an open"),
        ("hit-points", {"method": "maximum"}, "method", "Input should be"),
    ]
    for step, body, field, reason in cases:
        r = await client.put(f"{url}/{step}", headers=headers, json=body)
        assert r.status_code == 422, (step, r.text)
        assert r.headers["content-type"] == PROBLEM
        errors = [e for e in r.json()["errors"] if e["field"] == field]
        assert errors and reason in errors[0]["reason"], r.json()


async def test_asi_above_20_and_off_list_spells_are_refused(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "sorcerer")
    for _ in range(2):
        character = await level_up(client, headers, character["id"], "sorcerer")
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=headers, json={"class": "sorcerer"}), 201)
    url = f"{base}/{view['id']}"
    cha = character["sheet"]["abilities"]["cha"]["score"]
    r = await client.put(
        f"{url}/ability-scores", headers=headers, json={"increases": {"cha": 2, "str": 1}}
    )
    assert r.status_code == 422
    if cha >= 19:
        r = await client.put(
            f"{url}/ability-scores", headers=headers, json={"increases": {"cha": 2}}
        )
        assert r.status_code == 422 and "the maximum is 20" in r.json()["errors"][0]["reason"]
    r = await client.put(f"{url}/spells", headers=headers, json={"spells": ["cure-wounds"]})
    assert r.status_code == 422
    assert any("not on the sorcerer list" in e["reason"] for e in r.json()["errors"])


async def test_another_users_character_cannot_level(client: httpx.AsyncClient) -> None:
    alice, bob = await new_player(client), await new_player(client)
    character, _ = await build_character(client, alice, "human", "fighter")
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
    assert (await client.post(base, headers=bob, json={"class": "fighter"})).status_code == 404
    assert (await client.get(base, headers=bob)).status_code == 404
    for method, suffix, body in [
        ("GET", "", None),
        ("PUT", "/hit-points", {"method": "average"}),
        ("POST", "/commit", None),
        ("DELETE", "", None),
    ]:
        r = await client.request(method, f"{base}/{view['id']}{suffix}", headers=bob, json=body)
        assert r.status_code == 404, (method, suffix)
