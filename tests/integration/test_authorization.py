"""User B can neither read nor change user A's drafts and characters: 404 for every verb."""

from __future__ import annotations

import uuid

import httpx
import pytest

from hero_foundry.characters.models import Character, CharacterDraft
from hero_foundry.storage.db import unit_of_work
from tests.integration.api import build_character, new_player, ok

pytestmark = pytest.mark.usefixtures("database_url")

DRAFT_CALLS = [
    ("GET", "", None),
    ("DELETE", "", None),
    ("PUT", "/race", {"race": "human"}),
    ("PUT", "/class", {"class": "fighter"}),
    ("PUT", "/background", {"background": "acolyte"}),
    ("POST", "/ability-scores/roll", None),
    (
        "PUT",
        "/ability-scores",
        {
            "method": "standard_array",
            "scores": {"str": 15, "dex": 14, "con": 13, "int": 12, "wis": 10, "cha": 8},
        },
    ),
    ("PUT", "/choices", {"selections": {"race:languages": ["elvish"]}}),
    ("PUT", "/spells", {"cantrips": []}),
    ("PUT", "/details", {"name": "Stolen"}),
    ("POST", "/finalize", None),
]
CHARACTER_CALLS = [
    ("GET", None),
    ("PATCH", {"name": "Stolen"}),
    ("PATCH", {"inventory": {"remove": [{"index": "shield", "quantity": 1}]}}),
    ("DELETE", None),
]


async def test_another_users_draft_is_invisible_and_untouched(client: httpx.AsyncClient) -> None:
    alice, bob = await new_player(client), await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=alice), 201)
    await ok(
        client.put(
            f"/api/characters/drafts/{draft['id']}/race",
            headers=alice,
            json={"race": "elf", "subrace": "high-elf"},
        )
    )
    before = await ok(client.get(f"/api/characters/drafts/{draft['id']}", headers=alice))
    for method, suffix, body in DRAFT_CALLS:
        r = await client.request(
            method, f"/api/characters/drafts/{draft['id']}{suffix}", headers=bob, json=body
        )
        assert r.status_code == 404, (method, suffix, r.text)
        assert r.json()["title"] == "Not Found"
    after = await ok(client.get(f"/api/characters/drafts/{draft['id']}", headers=alice))
    assert after == before
    listed = await ok(client.get("/api/characters/drafts", headers=bob))
    assert draft["id"] not in [d["id"] for d in listed]


async def test_another_users_character_is_invisible_and_untouched(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = await new_player(client), await new_player(client)
    character, _ = await build_character(client, alice, "human", "fighter", name="Alice's")
    for method, body in CHARACTER_CALLS:
        r = await client.request(
            method, f"/api/characters/{character['id']}", headers=bob, json=body
        )
        assert r.status_code == 404, (method, body, r.text)
    assert await ok(client.get(f"/api/characters/{character['id']}", headers=alice)) == character
    mine = await ok(client.get("/api/characters", headers=bob))
    assert mine["total"] == 0 and mine["items"] == []


async def test_unknown_ids_are_404_and_malformed_ids_are_422(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    missing = uuid.uuid4()
    assert (await client.get(f"/api/characters/{missing}", headers=alice)).status_code == 404
    r = await client.get(f"/api/characters/drafts/{missing}", headers=alice)
    assert r.status_code == 404
    r = await client.get("/api/characters/not-a-uuid", headers=alice)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.character_id"


async def test_deleting_own_character_and_draft(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character, finished = await build_character(client, alice, "gnome", "wizard")
    r = await client.delete(f"/api/characters/{character['id']}", headers=alice)
    assert r.status_code == 204
    gone = await client.get(f"/api/characters/{character['id']}", headers=alice)
    assert gone.status_code == 404
    # The finalized draft stays as the record of its wizard session.
    r = await client.delete(f"/api/characters/drafts/{finished['id']}", headers=alice)
    assert r.status_code == 409
    kept = await ok(client.get(f"/api/characters/drafts/{finished['id']}", headers=alice))
    assert kept["finished_at"] and kept["character_id"] is None  # its character is gone
    unfinished = await ok(client.post("/api/characters/drafts", headers=alice), 201)
    r = await client.delete(f"/api/characters/drafts/{unfinished['id']}", headers=alice)
    assert r.status_code == 204
    async with unit_of_work(client.app.state.sessions) as db:
        assert await db.get(Character, uuid.UUID(character["id"])) is None
        assert await db.get(CharacterDraft, uuid.UUID(unfinished["id"])) is None
