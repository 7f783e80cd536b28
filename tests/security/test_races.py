"""No check-then-act races: the same request sent 20 times at once, on SQLite and PostgreSQL.

Each test fires ``AT_ONCE`` identical requests together (``asyncio.gather`` over the ASGI
transport: they interleave at every database call) and asserts what the database let through:
exactly one success for what happens once (a finalize, a level-up start, a commit, an abandon),
the same roll for every roll request, and no lost update for edits. Every refusal is a 409
problem document. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import sqlalchemy as sa

from hero_foundry.dice.models import DiceRoll
from tests.integration.api import new_player, ok
from tests.security.rolling import (
    AT_ONCE,
    assert_problem,
    at_once,
    complete_draft,
    rolled_fighter,
    verified,
)


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


async def stored_rolls(client: httpx.AsyncClient, **subject: uuid.UUID | int | str) -> int:
    """How many rolls the database holds for a draft, or a character and level."""
    async with client.app.state.sessions() as db:  # type: ignore[attr-defined]
        query = sa.select(sa.func.count()).select_from(DiceRoll).filter_by(**subject)
        return int(await db.scalar(query) or 0)


async def test_concurrent_finalizes_create_one_character(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    draft = await complete_draft(client, alice)
    before = (await ok(client.get("/api/characters", headers=alice)))["total"]
    url = f"/api/characters/drafts/{draft['id']}/finalize"

    responses = await at_once(AT_ONCE, lambda: client.post(url, headers=alice))

    assert statuses(responses) == {201: 1, 409: AT_ONCE - 1}, statuses(responses)
    (created,) = [r.json() for r in responses if r.status_code == 201]
    for r in responses:
        if r.status_code == 409:
            assert "finalized" in assert_problem(r, 409)["detail"]
    listed = await ok(client.get("/api/characters", headers=alice))
    assert listed["total"] == before + 1
    assert [c["id"] for c in listed["items"]].count(created["id"]) == 1
    finished = await ok(client.get(f"/api/characters/drafts/{draft['id']}", headers=alice))
    assert finished["character_id"] == created["id"]
    # The draft's one roll went to the one character.
    assert verified(created) == {("ability_scores", 1): True}
    assert await stored_rolls(client, draft_id=uuid.UUID(draft["id"])) == 1


async def test_concurrent_finalizes_and_deletes_leave_one_outcome(
    client: httpx.AsyncClient,
) -> None:
    alice = await new_player(client)
    draft = await complete_draft(client, alice, rolled=False)
    url = f"/api/characters/drafts/{draft['id']}"
    before = (await ok(client.get("/api/characters", headers=alice)))["total"]
    requests = [client.post(f"{url}/finalize", headers=alice) for _ in range(AT_ONCE // 2)]
    requests += [client.delete(url, headers=alice) for _ in range(AT_ONCE // 2)]

    responses = list(await asyncio.gather(*requests))

    counts = statuses(responses)
    assert counts[201] + counts[204] == 1, counts
    assert set(counts) <= {201, 204, 404, 409}, counts
    for r in responses:
        if r.status_code in (404, 409):
            assert_problem(r, r.status_code)
    after = (await ok(client.get("/api/characters", headers=alice)))["total"]
    assert after == before + counts[201]
    shown = await client.get(url, headers=alice)
    assert shown.status_code == (200 if counts[201] else 404)


async def test_concurrent_level_up_starts_open_one_session(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1, rolled=False)
    url = f"/api/characters/{character['id']}/level-ups"

    responses = await at_once(
        AT_ONCE, lambda: client.post(url, headers=alice, json={"class": "fighter"})
    )

    assert statuses(responses) == {201: 1, 409: AT_ONCE - 1}, statuses(responses)
    (opened,) = [r.json()["id"] for r in responses if r.status_code == 201]
    for r in responses:
        if r.status_code == 409:
            assert "in progress" in assert_problem(r, 409)["detail"]
    history = await ok(client.get(url, headers=alice))
    assert [(h["id"], h["status"]) for h in history] == [(opened, "open")]


async def test_concurrent_ability_rolls_keep_one_roll(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=alice), 201)
    url = f"/api/characters/drafts/{draft['id']}/ability-scores/roll"

    responses = await at_once(AT_ONCE, lambda: client.post(url, headers=alice))

    assert statuses(responses) == {200: AT_ONCE}, [r.text for r in responses if r.is_error]
    rolls = {str(r.json()["chosen"]["ability_scores"]["rolled"]) for r in responses}
    assert len(rolls) == 1
    shown = await ok(client.get(f"/api/characters/drafts/{draft['id']}", headers=alice))
    assert str(shown["chosen"]["ability_scores"]["rolled"]) in rolls
    assert await stored_rolls(client, draft_id=uuid.UUID(draft["id"])) == 1


async def test_concurrent_hit_die_rolls_keep_one_roll(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1, rolled=False)
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
    url = f"{base}/{view['id']}/hit-points"

    responses = await at_once(
        AT_ONCE, lambda: client.put(url, headers=alice, json={"method": "rolled"})
    )

    assert statuses(responses) == {200: AT_ONCE}, [r.text for r in responses if r.is_error]
    rolls = {r.json()["chosen"]["hit_points"]["roll"] for r in responses}
    assert len(rolls) == 1 and 1 <= next(iter(rolls)) <= 10
    character_id = uuid.UUID(character["id"])
    assert await stored_rolls(client, character_id=character_id, kind="hit_points", level=2) == 1


async def test_concurrent_commits_gain_one_level(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1, rolled=False)
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
    url = f"{base}/{view['id']}"
    await ok(client.put(f"{url}/hit-points", headers=alice, json={"method": "average"}))

    responses = await at_once(AT_ONCE, lambda: client.post(f"{url}/commit", headers=alice))

    assert statuses(responses) == {200: 1, 409: AT_ONCE - 1}, statuses(responses)
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409)
    now = await ok(client.get(f"/api/characters/{character['id']}", headers=alice))
    assert now["level"] == 2 and now["sheet"]["level"] == 2
    history = await ok(client.get(base, headers=alice))
    assert [h["status"] for h in history] == ["committed"]


async def test_concurrent_abandons_abandon_once(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1, rolled=False)
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
    url = f"{base}/{view['id']}"

    responses = await at_once(AT_ONCE, lambda: client.delete(url, headers=alice))

    assert statuses(responses) == {204: 1, 409: AT_ONCE - 1}, statuses(responses)
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409)
    assert (await ok(client.get(url, headers=alice)))["status"] == "abandoned"


async def test_concurrent_edits_lose_no_update(client: httpx.AsyncClient) -> None:
    """Twenty "add one rope" at once: each one either applied (200) or refused (409, the
    character changed meanwhile: SQLite has no row locks), never silently overwritten."""
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1, rolled=False)
    url = f"/api/characters/{character['id']}"
    rope = "rope-hempen-50-feet"
    body = {"inventory": {"add": [{"index": rope, "quantity": 1}]}}
    held = sum(i["quantity"] for i in character["inventory"] if i["index"] == rope)

    responses = await at_once(AT_ONCE, lambda: client.patch(url, headers=alice, json=body))

    counts = statuses(responses)
    assert set(counts) <= {200, 409} and counts[200] >= 1, counts
    for r in responses:
        if r.status_code == 409:
            assert "changed by another request" in assert_problem(r, 409)["detail"]
    now = await ok(client.get(url, headers=alice))
    assert sum(i["quantity"] for i in now["inventory"] if i["index"] == rope) == held + counts[200]
