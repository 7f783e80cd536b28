"""Exports and imports over HTTP, on SQLite and PostgreSQL: JSON round trips (a property over
generated characters), tampered files, the PDF's text, the Foundry actor, and who may do what."""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from hero_foundry.exports import pdf
from hero_foundry.exports.document import Snapshot, export_document
from hero_foundry.exports.schema import ExportDocument
from hero_foundry.rules import creation, levelling
from hero_foundry.srd import get_catalogue
from tests.builders import build, level_up
from tests.integration.api import build_character, new_player, ok
from tests.integration.api import level_up as level_up_http

pytestmark = pytest.mark.usefixtures("database_url")
CAT = get_catalogue()
PROBLEM = "application/problem+json"
RACES = sorted(CAT.tables["races"])
CLASSES = sorted(CAT.tables["classes"])
#: Any text PostgreSQL can store: every character but U+0000 (refused on import, see below).
STORABLE = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


async def export(
    client: httpx.AsyncClient, headers: dict[str, str], character_id: str, fmt: str = "json"
) -> httpx.Response:
    r = await client.get(
        f"/api/characters/{character_id}/export", params={"format": fmt}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r


def without_identity(document: dict[str, Any]) -> dict[str, Any]:
    """The document minus what differs between two exports of equal characters."""
    out = copy.deepcopy(document)
    del out["exported_at"]
    del out["character"]["id"]
    return out


def pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


# ----------------------------------------------------------------------------------------------
# JSON: export, import, round trips
# ----------------------------------------------------------------------------------------------
async def test_json_export_import_export_is_exact(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "dwarf", "cleric", name="Brottor")
    for _ in range(2):
        character = await level_up_http(client, headers, character["id"], "cleric")
    url = f"/api/characters/{character['id']}"
    await ok(
        client.patch(
            url,
            headers=headers,
            json={
                "notes": "Owes Gundren 5 gp — and an apology.\nSecond line.",
                "currency": {"cp": 7, "sp": 0, "ep": 1, "gp": 42, "pp": 2},
                "ideals": ["Tradition"],
                "inventory": {"add": [{"index": "rope-hempen-50-feet", "quantity": 2}]},
            },
        )
    )
    r = await export(client, headers, character["id"])
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == 'attachment; filename="brottor.json"'
    first = r.json()
    ExportDocument.model_validate(first)
    assert first["character"]["id"] == character["id"] and first["character"]["level"] == 3

    r = await client.post(
        "/api/characters/import",
        headers={**headers, "Content-Type": "application/json"},
        content=r.content,
    )
    assert r.status_code == 201, r.text
    imported = r.json()
    assert imported["id"] != character["id"]
    assert r.headers["location"] == f"/api/characters/{imported['id']}"
    original = await ok(client.get(url, headers=headers))
    assert imported["sheet"] == original["sheet"]
    assert {k: imported[k] for k in ("inventory", "currency", "notes", "details", "level")} == {
        k: original[k] for k in ("inventory", "currency", "notes", "details", "level")
    }

    again = (await export(client, headers, imported["id"])).json()
    assert again["character"]["id"] == imported["id"]
    assert without_identity(again) == without_identity(first)
    listed = await ok(client.get("/api/characters", headers=headers))
    assert listed["total"] == 2


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_round_trip_of_generated_characters_is_exact(
    client: httpx.AsyncClient, data: st.DataObject
) -> None:
    """Any legal character (random race and class, up to four level-ups, multiclassing when the
    scores allow it) survives export -> import -> export unchanged but for id and time."""
    race = data.draw(st.sampled_from(RACES), label="race")
    klass = data.draw(st.sampled_from(CLASSES), label="class")
    name = data.draw(st.text(STORABLE, max_size=40).map(str.strip).filter(bool), label="name")
    state = build(CAT, race, klass, name=name)
    for _ in range(data.draw(st.integers(0, 4), label="level-ups")):
        allowed = [c for c in CLASSES if not levelling.check_start(CAT, state, c)]
        state = level_up(CAT, state, data.draw(st.sampled_from(allowed), label="level in"))
    coins = st.integers(0, 10_000)
    snap = Snapshot(
        id=uuid.uuid4(),
        name=name,
        level=1 + len(state.level_ups),
        build=state.to_dict(),
        inventory=creation.starting_inventory(CAT, state),
        currency={c: data.draw(coins, label=c) for c in ("cp", "sp", "ep", "gp", "pp")},
        notes=data.draw(st.text(STORABLE, max_size=300), label="notes"),
    )
    document = json.loads(json.dumps(export_document(CAT, snap, datetime.now(UTC))))
    headers = await new_player(client)
    imported = await ok(client.post("/api/characters/import", headers=headers, json=document), 201)
    again = (await export(client, headers, imported["id"])).json()
    assert without_identity(again) == without_identity(document)


async def test_a_level_20_character_exports_and_imports(client: httpx.AsyncClient) -> None:
    state = build(CAT, "half-elf", "bard", name="Vox")
    for _ in range(19):
        state = level_up(CAT, state, "bard")
    snap = Snapshot(
        uuid.uuid4(), "Vox", 20, state.to_dict(), creation.starting_inventory(CAT, state),
        {"cp": 0, "sp": 0, "ep": 0, "gp": 10, "pp": 0}, "",
    )  # fmt: skip
    body = json.dumps(export_document(CAT, snap, datetime.now(UTC))).encode()
    assert len(body) < 64 * 1024
    headers = await new_player(client)
    r = await client.post(
        "/api/characters/import",
        headers={**headers, "Content-Type": "application/json"},
        content=body,
    )
    assert r.status_code == 201, r.text
    assert r.json()["level"] == 20 and r.json()["sheet"]["proficiency_bonus"] == 6


# ----------------------------------------------------------------------------------------------
# Tampered files
# ----------------------------------------------------------------------------------------------
async def test_tampered_files_are_refused_with_the_field_named(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "fighter", name="Kara")
    for _ in range(3):
        character = await level_up_http(client, headers, character["id"], "fighter")
    good = (await export(client, headers, character["id"])).json()
    build_ = "character.build"

    def point_buy(d: dict[str, Any]) -> None:
        d["character"]["build"]["ability_method"] = "point_buy"
        d["character"]["build"]["base_scores"] = {
            "str": 15, "dex": 15, "con": 15, "int": 14, "wis": 8, "cha": 8
        }  # fmt: skip

    def subclass(d: dict[str, Any]) -> None:
        d["character"]["build"]["level_ups"][1]["subclass"] = "thief"

    def skill(d: dict[str, Any]) -> None:
        d["character"]["build"]["selections"]["class:proficiencies:0"] = [
            "skill-arcana",
            "skill-athletics",
        ]

    def equipment(d: dict[str, Any]) -> None:
        d["character"]["inventory"].append(
            {"index": "holy-avenger", "name": "Holy Avenger", "quantity": 1, "equipped": True}
        )

    def version(d: dict[str, Any]) -> None:
        d["version"] = 3

    cases = [
        (point_buy, f"{build_}.base_scores", "the budget is 27"),
        (subclass, f"{build_}.level_ups.1.subclass", "'thief' is not a fighter subclass"),
        (skill, f"{build_}.selections.class:proficiencies:0", "not one of this choice's options"),
        (equipment, f"character.inventory.{len(good['character']['inventory'])}.index", "unknown"),
        (version, "version", "unsupported version 3"),
    ]
    before = (await ok(client.get("/api/characters", headers=headers)))["total"]
    for change, field, reason in cases:
        tampered = copy.deepcopy(good)
        change(tampered)
        r = await client.post("/api/characters/import", headers=headers, json=tampered)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"] == PROBLEM
        errors = [e for e in r.json()["errors"] if e["field"] == field]
        assert errors and reason in errors[0]["reason"], (field, r.json())
    assert (await ok(client.get("/api/characters", headers=headers)))["total"] == before


async def test_text_postgresql_cannot_store_is_refused(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "fighter", name="Nul")
    good = (await export(client, headers, character["id"])).json()
    for path, change in (
        ("character.notes", lambda d: d["character"].update(notes="a\x00b")),
        (
            "character.build.details.name",
            lambda d: d["character"]["build"]["details"].update(name="N\x00"),
        ),
        (
            "character.build.selections",
            lambda d: d["character"]["build"]["selections"].update({"x\x00": []}),
        ),
    ):
        tampered = copy.deepcopy(good)
        change(tampered)
        r = await client.post("/api/characters/import", headers=headers, json=tampered)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [
            {"field": path, "reason": "text may not contain the NUL character (U+0000)"}
        ]


async def test_an_import_larger_than_the_body_limit_is_413(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    body = json.dumps({"schema": "hero-foundry/character", "version": 1, "pad": "x" * 70_000})
    r = await client.post(
        "/api/characters/import",
        headers={**headers, "Content-Type": "application/json"},
        content=body,
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


async def test_an_import_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    for body in ("[1, 2]", "not json", '{"schema": "hero-foundry/character"}'):
        r = await client.post(
            "/api/characters/import",
            headers={**headers, "Content-Type": "application/json"},
            content=body,
        )
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body


# ----------------------------------------------------------------------------------------------
# PDF
# ----------------------------------------------------------------------------------------------
async def test_the_pdf_sheet_of_a_multiclass_level_5_character(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "fighter", name="Ilse Vögt")
    for klass in ("fighter", "fighter", "wizard", "wizard"):
        character = await level_up_http(client, headers, character["id"], klass)
    sheet = character["sheet"]
    started = time.perf_counter()
    r = await export(client, headers, character["id"], "pdf")
    elapsed = time.perf_counter() - started
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="ilse-vogt.pdf"'
    assert r.content.startswith(b"%PDF-")
    text, pages = pdf_text(r.content)
    assert 1 <= pages <= 2
    flat = re.sub(r"\s+", " ", text)
    assert "Ilse Vögt" in flat
    assert "Level 5" in flat and "Fighter 3" in flat and "Wizard 2" in flat
    assert f"Armor Class {sheet['armor_class']['value']}" in flat
    assert f"Hit Points {sheet['hit_points']['max']}" in flat
    assert sheet["armor_class"]["source"] in flat
    assert "Save DC" in flat and "Sleight of Hand" in flat and "System Reference Document" in flat
    for skill in sheet["skills"].values():
        assert skill["name"] in flat
    assert elapsed < 5


@pytest.mark.parametrize("klass", ["barbarian", "wizard"])
async def test_the_pdf_sheet_has_name_class_level_ac_and_hp(
    client: httpx.AsyncClient, klass: str
) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", klass, name="Aoife")
    r = await export(client, headers, character["id"], "pdf")
    text, pages = pdf_text(r.content)
    flat = re.sub(r"\s+", " ", text)
    assert pages == 1
    sheet = character["sheet"]
    assert "Aoife" in flat and f"{klass.title()} 1" in flat and "Level 1" in flat
    assert f"Armor Class {sheet['armor_class']['value']}" in flat
    assert f"Hit Points {sheet['hit_points']['max']}" in flat


async def test_a_failure_inside_the_pdf_is_a_logged_500_problem(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "rogue")

    def broken(*args: Any) -> bytes:
        raise RuntimeError("reportlab exploded at table 3")

    monkeypatch.setattr(pdf, "render", broken)
    with caplog.at_level(logging.ERROR, logger="hero_foundry.exports"):
        r = await client.get(
            f"/api/characters/{character['id']}/export",
            params={"format": "pdf"},
            headers=headers,
        )
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM
    assert "content-disposition" not in r.headers
    assert "exploded" not in r.text and "pdf export could not be generated" in r.json()["detail"]
    record = next(rec for rec in caplog.records if rec.name == "hero_foundry.exports")
    assert record.exc_info and "exploded" in str(record.exc_info[1])
    assert "format=pdf" in record.getMessage()


# ----------------------------------------------------------------------------------------------
# Foundry VTT
# ----------------------------------------------------------------------------------------------
async def test_the_foundry_export_is_a_dnd5e_actor(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "elf", "rogue", name="Nym")
    r = await export(client, headers, character["id"], "foundry")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == 'attachment; filename="fvtt-actor-nym.json"'
    actor = r.json()
    sheet = character["sheet"]
    assert actor["type"] == "character" and actor["name"] == "Nym"
    system = actor["system"]
    assert system["attributes"]["hp"]["max"] == sheet["hit_points"]["max"]
    assert system["attributes"]["ac"]["flat"] == sheet["armor_class"]["value"]
    assert len(system["skills"]) == 18
    experts = {s["name"] for s in sheet["skills"].values() if s["expertise"]}
    assert len(experts) == 2  # a rogue's Expertise
    assert sum(1 for s in system["skills"].values() if s["value"] == 2) == 2
    assert system["tools"]["thief"]["value"] == 1
    (rogue,) = [i for i in actor["items"] if i["type"] == "class"]
    assert (
        rogue["system"] | {"levels": 1, "identifier": "rogue", "hitDice": "d8"} == rogue["system"]
    )
    assert actor["flags"]["hero-foundry"]["character_id"] == character["id"]


# ----------------------------------------------------------------------------------------------
# Who may export and import
# ----------------------------------------------------------------------------------------------
async def test_another_users_or_an_unknown_character_is_404(client: httpx.AsyncClient) -> None:
    alice, bob = await new_player(client), await new_player(client)
    character, _ = await build_character(client, alice, "human", "fighter")
    for fmt in ("json", "pdf", "foundry"):
        for who, character_id in ((bob, character["id"]), (alice, str(uuid.uuid4()))):
            r = await client.get(
                f"/api/characters/{character_id}/export", params={"format": fmt}, headers=who
            )
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, fmt


async def test_an_unknown_format_is_422_naming_it(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "fighter")
    r = await client.get(
        f"/api/characters/{character['id']}/export", params={"format": "docx"}, headers=headers
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == ["query.format"]


async def test_export_and_import_need_a_login(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    character, _ = await build_character(client, headers, "human", "fighter")
    good = (await export(client, headers, character["id"])).json()
    r = await client.post("/api/characters/import", json=good)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = await client.post(
        "/api/characters/import", json=good, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401
    r = await client.get(f"/api/characters/{character['id']}/export")
    assert r.status_code == 401


async def test_the_json_schema_is_published(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/exports/schema/character-v1.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    schema = r.json()
    assert schema["properties"]["schema"]["const"] == "hero-foundry/character"
    paths = (await ok(client.get("/openapi.json")))["paths"]
    assert "/api/characters/{character_id}/export" in paths
    assert "/api/characters/import" in paths
