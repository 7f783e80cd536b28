"""Every invalid choice answers 4xx with a problem+json naming the field; nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api import new_player, ok

pytestmark = pytest.mark.usefixtures("database_url")
PROBLEM = "application/problem+json"


async def cleric_draft(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    headers = await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=headers), 201)
    base = f"/api/characters/drafts/{draft['id']}"
    await ok(
        client.put(f"{base}/race", headers=headers, json={"race": "dwarf", "subrace": "hill-dwarf"})
    )
    await ok(
        client.put(f"{base}/class", headers=headers, json={"class": "cleric", "subclass": "life"})
    )
    await ok(client.put(f"{base}/background", headers=headers, json={"background": "acolyte"}))
    return headers, base


CASES: list[tuple[str, str, Any, int, str, str]] = [
    # (method, step, body, status, field, words in the reason)
    ("PUT", "/race", {"race": "orc"}, 422, "race", "unknown race"),
    ("PUT", "/race", {"race": "dwarf", "subrace": "high-elf"}, 422, "subrace", "not a subrace"),
    ("PUT", "/race", {"race": "dwarf"}, 422, "subrace", "choose a subrace"),
    ("PUT", "/race", {"race": 7}, 422, "race", "string"),
    ("PUT", "/race", {"race": "Dwarf!"}, 422, "race", "pattern"),
    ("PUT", "/class", {"class": "necromancer"}, 422, "class", "unknown class"),
    ("PUT", "/class", {"class": "cleric"}, 422, "subclass", "chooses one at level 1"),
    ("PUT", "/class", {"class": "fighter", "subclass": "champion"}, 422, "subclass", "level 3"),
    ("PUT", "/background", {"background": "noble"}, 422, "background", "unknown background"),
    (
        "PUT",
        "/ability-scores",
        {
            "method": "point_buy",
            "scores": {"str": 15, "dex": 15, "con": 15, "int": 15, "wis": 8, "cha": 8},
        },
        422,
        "scores",
        "costs 36 points; the budget is 27",
    ),
    (
        "PUT",
        "/ability-scores",
        {
            "method": "point_buy",
            "scores": {"str": 16, "dex": 8, "con": 8, "int": 8, "wis": 8, "cha": 8},
        },
        422,
        "scores.str",
        "range from 8 to 15",
    ),
    (
        "PUT",
        "/ability-scores",
        {"method": "standard_array", "scores": {"str": "high"}},
        422,
        "scores.str",
        "integer",
    ),
    ("PUT", "/ability-scores", {"method": "cheating", "scores": {}}, 422, "method", "Input"),
    (
        "PUT",
        "/choices",
        {"selections": {"class:proficiencies:0": ["skill-stealth", "skill-history"]}},
        422,
        "choices.class:proficiencies:0",
        "not one of this choice's options",
    ),
    (
        "PUT",
        "/choices",
        {"selections": {"class:proficiencies:0": ["skill-religion", "skill-history"]}},
        422,
        "choices.class:proficiencies:0",
        "already granted",
    ),
    (
        "PUT",
        "/choices",
        {"selections": {"class:proficiencies:0": ["skill-history"]}},
        422,
        "choices.class:proficiencies:0",
        "choose exactly 2",
    ),
    (
        "PUT",
        "/choices",
        {"selections": {"feature:fighter-fighting-style": ["fighter-fighting-style-archery"]}},
        422,
        "choices.feature:fighter-fighting-style",
        "not an open choice",
    ),
    (
        "PUT",
        "/choices",
        {"selections": {"background:languages": ["dwarvish", "elvish"]}},
        422,
        "choices.background:languages",
        "already known",
    ),
    ("PUT", "/choices", {"selections": ["skill-history"]}, 422, "selections", "dictionary"),
    ("PUT", "/spells", {"cantrips": ["fireball"]}, 422, "ability_scores", "set ability scores"),
    ("PUT", "/details", {"alignment": "chaotic-awesome"}, 422, "alignment", "unknown alignment"),
    ("PUT", "/details", {"name": ""}, 422, "name", "at least 1 character"),
    ("PUT", "/details", {"name": "x" * 101}, 422, "name", "at most 100"),
    ("PUT", "/details", {"nickname": "Bru"}, 422, "nickname", "Extra inputs"),
]


@pytest.mark.parametrize(
    ("method", "step", "body", "status", "field", "reason"),
    CASES,
    ids=[f"{c[1]}:{c[4]}:{c[5][:20]}" for c in CASES],
)
async def test_invalid_step_is_refused_with_the_field_and_nothing_changes(
    client: httpx.AsyncClient,
    method: str,
    step: str,
    body: Any,
    status: int,
    field: str,
    reason: str,
) -> None:
    headers, base = await cleric_draft(client)
    before = await ok(client.get(base, headers=headers))
    r = await client.request(method, base + step, headers=headers, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == status and problem["title"]
    matching = [e for e in problem["errors"] if e["field"] == field]
    assert matching, problem
    assert any(reason.lower() in e["reason"].lower() for e in matching), problem
    after = await ok(client.get(base, headers=headers))
    after.pop("updated_at"), before.pop("updated_at")
    assert after == before


async def test_finalize_with_steps_missing_lists_them_all(client: httpx.AsyncClient) -> None:
    headers, base = await cleric_draft(client)
    r = await client.post(f"{base}/finalize", headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields[0] == "ability_scores"
    assert "choices.class:proficiencies:0" in fields
    assert {"spells", "details.name", "details.alignment"} <= set(fields)
    mine = await ok(client.get("/api/characters", headers=headers))
    assert mine["total"] == 0  # no half-made character
    draft = await ok(client.get(base, headers=headers))
    assert draft["finished_at"] is None


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    headers, base = await cleric_draft(client)
    huge = {"name": "Bruenor", "backstory": "x" * (70 * 1024)}
    r = await client.put(f"{base}/details", headers=headers, json=huge)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    assert "larger than" in r.json()["detail"]


async def test_oversized_chunked_body_is_413(client: httpx.AsyncClient) -> None:
    headers, base = await cleric_draft(client)

    async def chunks():
        yield b'{"name": "Bruenor", "backstory": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    r = await client.put(
        f"{base}/details",
        headers={**headers, "content-type": "application/json"},
        content=chunks(),
    )
    assert r.status_code == 413


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    headers, base = await cleric_draft(client)
    r = await client.put(
        f"{base}/race",
        headers={**headers, "content-type": "application/json"},
        content=b'{"race": "dwarf",',
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "JSON" in r.text


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = await client.delete("/api/srd/classes")
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM


async def test_finalized_draft_cannot_change(client: httpx.AsyncClient) -> None:
    from tests.integration.api import build_character

    headers = await new_player(client)
    _, draft = await build_character(client, headers, "human", "fighter")
    r = await client.put(
        f"/api/characters/drafts/{draft['id']}/details", headers=headers, json={"name": "Later"}
    )
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
