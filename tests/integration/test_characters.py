"""Stored characters: listing with pagination, editing, inventory and currency."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api import build_character, new_player, ok

pytestmark = pytest.mark.usefixtures("database_url")


async def test_list_is_own_only_and_paginated(client: httpx.AsyncClient) -> None:
    alice, bob = await new_player(client), await new_player(client)
    made = []
    for n, klass in enumerate(["fighter", "rogue", "wizard"]):
        character, _ = await build_character(client, alice, "human", klass, name=f"Hero {n}")
        made.append(character["id"])
    await build_character(client, bob, "elf", "ranger", name="Bob's")
    page1 = await ok(client.get("/api/characters", headers=alice, params={"limit": 2}))
    page2 = await ok(client.get("/api/characters", headers=alice, params={"limit": 2, "offset": 2}))
    assert page1["total"] == page2["total"] == 3
    ids = [c["id"] for c in page1["items"] + page2["items"]]
    assert sorted(ids) == sorted(made) and len(set(ids)) == 3
    assert [c["name"] for c in page1["items"]] == ["Hero 2", "Hero 1"]  # newest first
    r = await client.get("/api/characters", headers=alice, params={"limit": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"


async def test_patch_details_notes_and_currency(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "tiefling", "warlock")
    url = f"/api/characters/{character['id']}"
    patched = await ok(
        client.patch(
            url,
            headers=headers,
            json={
                "name": "Mordai",
                "notes": "Owes the patron a favour.",
                "alignment": "chaotic-neutral",
                "personality_traits": ["Sardonic", "Curious"],
                "currency": {"gp": 42, "sp": 3},
            },
        )
    )
    assert patched["name"] == "Mordai" and patched["notes"] == "Owes the patron a favour."
    assert patched["details"]["alignment"] == "chaotic-neutral"
    assert patched["details"]["personality_traits"] == ["Sardonic", "Curious"]
    assert patched["currency"] == {"cp": 0, "sp": 3, "ep": 0, "gp": 42, "pp": 0}
    assert patched["sheet"] == character["sheet"]  # nothing rules-relevant changed
    assert await ok(client.get(url, headers=headers)) == patched

    for body, field in [
        ({"alignment": "chaotic-awesome"}, "alignment"),
        ({"currency": {"gp": -1}}, "currency.gp"),
        ({"name": None}, "name"),
        ({"level": 20}, "level"),
        ({"notes": "null byte \u0000 inside"}, "notes"),
        ({"name": "Nul\u0000"}, "name"),
    ]:
        r = await client.patch(url, headers=headers, json=body)
        assert r.status_code == 422, body
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert await ok(client.get(url, headers=headers)) == patched


async def test_inventory_add_remove_equip_changes_armor_class(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "dwarf", "cleric", subrace="hill-dwarf")
    url = f"/api/characters/{character['id']}"
    dex = character["sheet"]["abilities"]["dex"]["modifier"]

    patched = await ok(
        client.patch(
            url,
            headers=headers,
            json={
                "inventory": {"add": [{"index": "plate-armor"}, {"index": "torch", "quantity": 5}]}
            },
        )
    )
    items = {i["index"]: i for i in patched["inventory"]}
    assert items["torch"]["quantity"] == 5 and not items["plate-armor"]["equipped"]

    patched = await ok(
        client.patch(url, headers=headers, json={"inventory": {"equip": ["plate-armor"]}})
    )
    worn = [i["index"] for i in patched["inventory"] if i["equipped"]]
    assert "plate-armor" in worn and "shield" in worn
    assert len([i for i in worn if i not in ("shield",)]) == 1  # one suit of armour at a time
    assert patched["sheet"]["armor_class"]["value"] == 18 + 2

    patched = await ok(
        client.patch(
            url,
            headers=headers,
            json={"inventory": {"unequip": ["plate-armor", "shield"]}},
        )
    )
    assert patched["sheet"]["armor_class"]["value"] == 10 + dex

    patched = await ok(
        client.patch(
            url,
            headers=headers,
            json={"inventory": {"remove": [{"index": "torch", "quantity": 5}]}},
        )
    )
    assert "torch" not in {i["index"] for i in patched["inventory"]}

    for body, field in [
        ({"inventory": {"add": [{"index": "vorpal-banana"}]}}, "inventory.add.0.index"),
        (
            {"inventory": {"remove": [{"index": "plate-armor", "quantity": 2}]}},
            "inventory.remove.0",
        ),
        ({"inventory": {"equip": ["longbow-of-doom"]}}, "inventory.equip.0"),
        ({"inventory": {"add": [{"index": "torch", "quantity": 0}]}}, "inventory.add.0.quantity"),
    ]:
        r = await client.patch(url, headers=headers, json=body)
        assert r.status_code == 422, body
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert await ok(client.get(url, headers=headers)) == patched
