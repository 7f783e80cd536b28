"""Helpers of test_dice.py and test_races.py: characters whose dice the server rolled, exports,
imports, many requests at once, and problem answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.integration.api import answer_open_choices, level_up, ok

#: How many identical requests the race tests send at once.
AT_ONCE = 20
ORDER = ("str", "con", "dex", "wis", "int", "cha")  # a fighter's priorities


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status: never a 500, never a stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
    return problem


async def at_once(count: int, request: Callable[[], Awaitable[httpx.Response]]) -> list:
    """``count`` requests started together (one event loop: they interleave at every await)."""
    return list(await asyncio.gather(*(request() for _ in range(count))))


async def complete_draft(
    client: httpx.AsyncClient, headers: dict[str, str], *, rolled: bool = True
) -> dict[str, Any]:
    """A human fighter's draft with everything chosen (ability scores rolled on the server, or
    the standard array), not finalized."""
    draft = await ok(client.post("/api/characters/drafts", headers=headers), 201)
    base = f"/api/characters/drafts/{draft['id']}"
    await ok(client.put(f"{base}/race", headers=headers, json={"race": "human"}))
    await ok(client.put(f"{base}/class", headers=headers, json={"class": "fighter"}))
    await ok(client.put(f"{base}/background", headers=headers, json={"background": "acolyte"}))
    if rolled:
        draft = await ok(client.post(f"{base}/ability-scores/roll", headers=headers))
        totals = sorted(
            (e["total"] for e in draft["chosen"]["ability_scores"]["rolled"]), reverse=True
        )
        body = {"method": "rolled", "scores": dict(zip(ORDER, totals, strict=True))}
    else:
        array = dict(zip(ORDER, (15, 14, 13, 12, 10, 8), strict=True))
        body = {"method": "standard_array", "scores": array}
    draft = await ok(client.put(f"{base}/ability-scores", headers=headers, json=body))
    draft = await answer_open_choices(client, headers, draft)
    draft = await ok(
        client.put(
            f"{base}/details", headers=headers, json={"name": "Rolla", "alignment": "neutral"}
        )
    )
    assert draft["complete"], draft["missing"]
    return draft


async def rolled_fighter(
    client: httpx.AsyncClient, headers: dict[str, str], *, levels: int = 2, rolled: bool = True
) -> dict[str, Any]:
    """A fighter of ``levels`` levels: rolled ability scores and rolled hit dice (or the
    standard array and averages)."""
    draft = await complete_draft(client, headers, rolled=rolled)
    url = f"/api/characters/drafts/{draft['id']}/finalize"
    character = await ok(client.post(url, headers=headers), 201)
    for _ in range(levels - 1):
        hp = "rolled" if rolled else "average"
        character = await level_up(client, headers, character["id"], "fighter", hp=hp)
    return character


async def export_document(
    client: httpx.AsyncClient, headers: dict[str, str], character_id: str
) -> dict[str, Any]:
    r = await client.get(f"/api/characters/{character_id}/export", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def import_document(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    document: dict[str, Any],
    **params: str,
) -> httpx.Response:
    return await client.post(
        "/api/characters/import",
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps(document),
        params=params,
    )


def verified(character: dict[str, Any]) -> dict[tuple[str, int], bool]:
    """``{(kind, level): verified}`` of a character view's dice."""
    return {(r["kind"], r["level"]): r["verified"] for r in character["rolls"]}
