"""Dice the server rolled can be trusted: an attacker with an export file, an HTTP client and
another account tries to pass off dice the server never rolled for them. On SQLite and
PostgreSQL (the suite's ``client``), plus the signing key's settings without HTTP.

Decision under test (docs/security.md, "Dice"): dice whose signature does not verify are
imported *unverified* (shown as such, never signed again), or refused with a 422 naming them
when the importer asks for ``require_verified_rolls``.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hero_foundry.app import create_app
from hero_foundry.dice.signing import (
    KEY_FILE,
    RollSigner,
    SigningKeyError,
    character_subject,
    signer_for,
)
from hero_foundry.settings import Settings
from hero_foundry.storage import migrate
from hero_foundry.storage.base import JSONDoc, UTCDateTime
from hero_foundry.storage.db import create_engine
from tests.conftest import make_settings
from tests.integration.api import new_player, ok
from tests.security.rolling import (
    assert_problem,
    export_document,
    import_document,
    rolled_fighter,
    verified,
)

STRICT = {"require_verified_rolls": "true"}
KEY = "k" * 40


def build(document: dict[str, Any]) -> dict[str, Any]:
    return document["character"]["build"]


def forge_scores(document: dict[str, Any]) -> None:
    """The attack of old: six sets of 6-6-6-6 and 18 everywhere, consistent for the rules."""
    build(document).update(
        ability_method="rolled",
        rolled=[[6, 6, 6, 6]] * 6,
        base_scores=dict.fromkeys(("str", "dex", "con", "int", "wis", "cha"), 18),
    )


def reorder_dice(document: dict[str, Any]) -> None:
    """An edit the rules cannot see: one set's dice rotated (same total, other dice)."""
    sets = [dice for dice in build(document)["rolled"] if len(set(dice)) > 1]
    assert sets, "six sets of four equal dice"  # about 1 in 10^14
    sets[0].append(sets[0].pop(0))


def max_hit_die(document: dict[str, Any]) -> None:
    record = build(document)["level_ups"][0]
    record["hp_roll"] = 10 if record["hp_roll"] != 10 else 9


async def test_an_export_proves_the_servers_dice_to_their_owner(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=3)
    assert verified(character) == {
        ("ability_scores", 1): True,
        ("hit_points", 2): True,
        ("hit_points", 3): True,
    }
    document = await export_document(client, alice, character["id"])
    assert document["version"] == 2
    assert [(r["kind"], r["level"]) for r in document["character"]["rolls"]] == [
        ("ability_scores", 1),
        ("hit_points", 2),
        ("hit_points", 3),
    ]
    r = await import_document(client, alice, document, **STRICT)
    assert r.status_code == 201, r.text
    copy_ = r.json()
    assert all(verified(copy_).values()) and len(verified(copy_)) == 3
    assert copy_["sheet"]["hit_points"] == character["sheet"]["hit_points"]
    # Re-exported, the copy's dice are signed for the copy; they verify again.
    again = await export_document(client, alice, copy_["id"])
    assert again["character"]["rolls"] != document["character"]["rolls"]
    r = await import_document(client, alice, again, **STRICT)
    assert r.status_code == 201 and all(verified(r.json()).values()), r.text


@pytest.mark.parametrize(
    ("attack", "field"),
    [
        (forge_scores, "character.build.rolled"),
        (reorder_dice, "character.build.rolled"),
        (max_hit_die, "character.build.level_ups.0.hp_roll"),
        (lambda d: d["character"].update(id=str(uuid.uuid4())), "character.build.rolled"),
    ],
    ids=["forged-18s", "reordered-dice", "edited-hit-die", "another-character-id"],
)
async def test_dice_that_do_not_verify_are_unverified_or_refused(
    client: httpx.AsyncClient, attack: Any, field: str
) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=2)
    tampered = await export_document(client, alice, character["id"])
    attack(tampered)
    before = (await ok(client.get("/api/characters", headers=alice)))["total"]

    problem = assert_problem(await import_document(client, alice, tampered, **STRICT), 422)
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert (await ok(client.get("/api/characters", headers=alice)))["total"] == before

    r = await import_document(client, alice, tampered)
    assert r.status_code == 201, r.text
    imported = r.json()
    kind_level = ("hit_points", 2) if "hp_roll" in field else ("ability_scores", 1)
    assert verified(imported)[kind_level] is False
    # Never laundered: exported again, the unverified dice carry no signature.
    again = await export_document(client, alice, imported["id"])
    signed = {(s["kind"], s["level"]) for s in again["character"]["rolls"]}
    assert kind_level not in signed
    r = await import_document(client, alice, again)
    assert verified(r.json())[kind_level] is False


async def test_another_accounts_export_imports_unverified(client: httpx.AsyncClient) -> None:
    alice, mallory = await new_player(client), await new_player(client)
    character = await rolled_fighter(client, alice, levels=2)
    document = await export_document(client, alice, character["id"])
    problem = assert_problem(await import_document(client, mallory, document, **STRICT), 422)
    assert {e["field"] for e in problem["errors"]} == {
        "character.build.rolled",
        "character.build.level_ups.0.hp_roll",
    }
    assert all("does not verify" in e["reason"] for e in problem["errors"])
    r = await import_document(client, mallory, document)
    assert r.status_code == 201 and not any(verified(r.json()).values()), r.text


async def test_a_signature_from_another_key_does_not_verify(client: httpx.AsyncClient) -> None:
    """Another server (or a guessed key) signing for the right account and character."""
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1)
    document = await export_document(client, alice, character["id"])
    me = await ok(client.get("/api/me", headers=alice))
    elsewhere = RollSigner(b"another server's key, 32+ bytes long")
    document["character"]["rolls"] = [
        {
            "kind": "ability_scores",
            "level": 1,
            "signature": elsewhere.sign(
                uuid.UUID(me["id"]),
                character_subject(character["id"], 1),
                "ability_scores",
                6,
                build(document)["rolled"],
            ),
        }
    ]
    r = await import_document(client, alice, document)
    assert r.status_code == 201 and verified(r.json()) == {("ability_scores", 1): False}


async def test_unsigned_dice_and_version_1_files_import_unverified(
    client: httpx.AsyncClient,
) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=2)
    document = await export_document(client, alice, character["id"])
    old = copy.deepcopy(document)
    old["version"] = 1
    del old["character"]["rolls"]
    r = await import_document(client, alice, old)
    assert r.status_code == 201, r.text
    assert verified(r.json()) == {("ability_scores", 1): False, ("hit_points", 2): False}
    problem = assert_problem(await import_document(client, alice, old, **STRICT), 422)
    assert all("not signed" in e["reason"] for e in problem["errors"])
    # A version-1 file has no signatures to carry.
    old["character"]["rolls"] = document["character"]["rolls"]
    problem = assert_problem(await import_document(client, alice, old), 422)
    assert [e["field"] for e in problem["errors"]] == ["character.rolls"]


@pytest.mark.parametrize(
    ("rolls", "field", "reason"),
    [
        ([{"kind": "hit_points", "level": 5, "signature": "0" * 64}], "character.rolls.0", "no"),
        (
            [{"kind": "ability_scores", "level": 1, "signature": "X"}],
            "character.rolls.0.signature",
            "",
        ),
        ([{"kind": "dice", "level": 1, "signature": "0" * 64}], "character.rolls.0.kind", ""),
    ],
    ids=["no-such-roll", "not-hex", "unknown-kind"],
)
async def test_malformed_signatures_are_refused_naming_the_field(
    client: httpx.AsyncClient, rolls: list[dict[str, Any]], field: str, reason: str
) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1)
    document = await export_document(client, alice, character["id"])
    document["character"]["rolls"] = rolls
    problem = assert_problem(await import_document(client, alice, document), 422)
    errors = [e for e in problem["errors"] if e["field"] == field]
    assert errors and reason in errors[0]["reason"], problem


async def test_a_roll_signed_twice_is_refused(client: httpx.AsyncClient) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1)
    document = await export_document(client, alice, character["id"])
    document["character"]["rolls"] *= 2
    problem = assert_problem(await import_document(client, alice, document), 422)
    assert problem["errors"] == [
        {"field": "character.rolls.1", "reason": "this roll is signed twice"}
    ]


async def test_abandoning_a_level_up_does_not_reroll_its_hit_die(
    client: httpx.AsyncClient,
) -> None:
    alice = await new_player(client)
    character = await rolled_fighter(client, alice, levels=1, rolled=False)
    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
    view = await ok(
        client.put(f"{base}/{view['id']}/hit-points", headers=alice, json={"method": "rolled"})
    )
    roll = view["chosen"]["hit_points"]["roll"]
    for _ in range(3):
        r = await client.delete(f"{base}/{view['id']}", headers=alice)
        assert r.status_code == 204
        view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
        # The level's roll is there from the start, and it stands.
        assert view["chosen"]["hit_points"] == {"method": "rolled", "roll": roll}
        again = await ok(
            client.put(f"{base}/{view['id']}/hit-points", headers=alice, json={"method": "rolled"})
        )
        assert again["chosen"]["hit_points"]["roll"] == roll
        problem = assert_problem(
            await client.put(
                f"{base}/{view['id']}/hit-points", headers=alice, json={"method": "average"}
            ),
            409,
        )
        assert "the roll stands" in problem["detail"]
    # Nor by taking the level in a class with another hit die (a rogue's d8).
    await client.delete(f"{base}/{view['id']}", headers=alice)
    problem = assert_problem(await client.post(base, headers=alice, json={"class": "rogue"}), 409)
    assert problem["errors"][0]["field"] == "class" and "d10" in problem["errors"][0]["reason"]
    view = await ok(client.post(base, headers=alice, json={"class": "fighter"}), 201)
    committed = await ok(client.post(f"{base}/{view['id']}/commit", headers=alice))
    assert verified(committed) == {("hit_points", 2): True}


async def test_rolling_the_ability_scores_again_answers_the_same_roll(
    client: httpx.AsyncClient,
) -> None:
    alice = await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=alice), 201)
    url = f"/api/characters/drafts/{draft['id']}/ability-scores/roll"
    first = (await ok(client.post(url, headers=alice)))["chosen"]["ability_scores"]["rolled"]
    for _ in range(5):
        again = await ok(client.post(url, headers=alice))
        assert again["chosen"]["ability_scores"]["rolled"] == first


async def test_the_version_2_schema_is_published_and_version_1_still_is(
    client: httpx.AsyncClient,
) -> None:
    for version in (1, 2):
        r = await client.get(f"/api/exports/schema/character-v{version}.json")
        assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
        schema = r.json()
        assert schema["properties"]["version"]["const"] == version
        assert ("SignedRoll" in schema["$defs"]) is (version == 2)


# ----------------------------------------------------------------------------------------------
# The key
# ----------------------------------------------------------------------------------------------
def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}", environment="production", data_dir=tmp_path
    )
    with pytest.raises(SigningKeyError, match="ROLL_SIGNING_KEY"):
        create_app(settings)
    assert not (tmp_path / KEY_FILE).exists()  # no generated key to fall back on


def test_a_key_is_read_from_its_file_and_a_short_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "roll_signing_key"
    secret.write_text(KEY + "\n")
    monkeypatch.setenv("HERO_FOUNDRY_ROLL_SIGNING_KEY_FILE", str(secret))
    settings = Settings(_env_file=None, environment="production", data_dir=tmp_path)
    assert settings.roll_signing_key.get_secret_value() == KEY
    assert KEY not in repr(settings)
    owner = uuid.uuid4()
    signature = signer_for(settings).sign(owner, "draft:x", "ability_scores", 6, [[1, 2, 3, 4]])
    assert RollSigner(KEY.encode()).verify(
        owner, "draft:x", "ability_scores", 6, [[1, 2, 3, 4]], signature
    )
    assert not RollSigner(KEY.encode()).verify(
        uuid.uuid4(), "draft:x", "ability_scores", 6, [[1, 2, 3, 4]], signature
    )
    monkeypatch.delenv("HERO_FOUNDRY_ROLL_SIGNING_KEY_FILE")
    with pytest.raises(SigningKeyError, match="at least 32 characters") as caught:
        signer_for(Settings(_env_file=None, roll_signing_key="tooshort", data_dir=tmp_path))
    assert "tooshort" not in str(caught.value)


def test_the_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(_env_file=None, data_dir=tmp_path / "a")
    signer = signer_for(first)
    path = tmp_path / "a" / KEY_FILE
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    args = (uuid.uuid4(), "draft:x", "ability_scores", 6, [[6, 6, 6, 6]])
    assert signer_for(first).sign(*args) == signer.sign(*args)  # a restart keeps the key
    other = signer_for(Settings(_env_file=None, data_dir=tmp_path / "b"))
    assert other.sign(*args) != signer.sign(*args)
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no temporary file left


# ----------------------------------------------------------------------------------------------
# Rolls made before the migration
# ----------------------------------------------------------------------------------------------
users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("created_at", UTCDateTime()),
)
characters = sa.table(
    "characters",
    *(sa.column(c, sa.Uuid()) for c in ("id", "user_id")),
    sa.column("name", sa.String()),
    sa.column("level", sa.Integer()),
    *(sa.column(c, JSONDoc) for c in ("build", "inventory", "currency")),
    sa.column("notes", sa.String()),
    *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at")),
)
drafts = sa.table(
    "character_drafts",
    *(sa.column(c, sa.Uuid()) for c in ("id", "user_id", "character_id")),
    sa.column("state", JSONDoc),
    *(sa.column(c, UTCDateTime()) for c in ("started_at", "updated_at", "finished_at")),
)
sessions = sa.table(
    "level_up_sessions",
    *(sa.column(c, sa.Uuid()) for c in ("id", "character_id", "user_id")),
    sa.column("status", sa.String()),
    sa.column("state", JSONDoc),
    *(sa.column(c, UTCDateTime()) for c in ("started_at", "updated_at", "finished_at")),
)
dice_rolls = sa.table(
    "dice_rolls",
    sa.column("kind", sa.String()),
    *(sa.column(c, sa.Uuid()) for c in ("draft_id", "character_id")),
    *(sa.column(c, sa.Integer()) for c in ("level", "die")),
)


async def _run(url: str, *statements: Any) -> list[list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            results = [await conn.execute(s) for s in statements]
            return [[tuple(r) for r in res.all()] if res.returns_rows else [] for res in results]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rolls_made_before_the_migration_are_kept(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Upgrading a database of revision 0004: a wizard's roll and a committed level-up's roll
    become stored rolls (verified); an imported character's dice, which no draft or level-up
    of this server made, stay unverified. Extra open level-ups left by the old race are closed
    (the newest stays open)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    asyncio.run(migrate.upgrade(url, "0004"))
    user, made, imported, draft = (uuid.uuid4() for _ in range(4))
    now = datetime.now(UTC)
    dice = [[6, 5, 4, 3]] * 6
    level_2 = {"class_index": "fighter", "from_level": 1, "hp_method": "rolled", "hp_roll": 7}
    level_3 = {**level_2, "from_level": 2, "hp_method": None, "hp_roll": None}
    times = {"started_at": now, "updated_at": now}
    character = {
        "user_id": user,
        "name": "Old",
        "level": 2,
        "inventory": [],
        "currency": {},
        "notes": "",
        "build": {"rolled": dice, "level_ups": [level_2]},
        "created_at": now,
        "updated_at": now,
    }
    asyncio.run(
        _run(
            url,
            users.insert().values(
                id=user, email=f"{user}@example.com", password_hash="x", created_at=now
            ),
            characters.insert().values(id=made, **character),
            characters.insert().values(id=imported, **character),
            drafts.insert().values(
                id=draft,
                user_id=user,
                state={"rolled": dice},
                character_id=made,
                finished_at=now,
                **times,
            ),
            sessions.insert().values(
                id=uuid.uuid4(),
                character_id=made,
                user_id=user,
                status="committed",
                state=level_2,
                finished_at=now,
                **times,
            ),
            *(
                sessions.insert().values(
                    id=uuid.uuid4(),
                    character_id=imported,
                    user_id=user,
                    status="open",
                    state=level_3,
                    started_at=now + timedelta(seconds=n),
                    updated_at=now,
                )
                for n in range(3)
            ),
        )
    )
    asyncio.run(migrate.upgrade(url))
    rolls, statuses = asyncio.run(
        _run(
            url,
            sa.select(dice_rolls).order_by(dice_rolls.c.level),
            sa.select(sessions.c.status, sa.func.count(), sa.func.max(sessions.c.started_at))
            .group_by(sessions.c.status)
            .order_by(sessions.c.status),
        )
    )
    assert rolls == [("ability_scores", draft, made, 1, 6), ("hit_points", None, made, 2, 10)]
    assert [s[:2] for s in statuses] == [("abandoned", 2), ("committed", 1), ("open", 1)]
    assert statuses[2][2] == now + timedelta(seconds=2)  # the newest stays open
