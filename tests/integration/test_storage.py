"""Migrations apply and revert cleanly on both backends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from hero_foundry.storage import migrate
from hero_foundry.storage.db import create_engine

TABLES = {
    "users",
    "auth_tokens",
    "characters",
    "character_drafts",
    "level_up_sessions",
    "user_activity",
    "dice_rolls",
}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrade_downgrade_upgrade(backend: str, request: pytest.FixtureRequest, tmp_path) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    asyncio.run(migrate.upgrade(url))
    assert asyncio.run(_tables(url)) >= TABLES
    assert asyncio.run(migrate.current(url)) == "0005"
    asyncio.run(migrate.downgrade(url, "base"))
    assert not TABLES & asyncio.run(_tables(url))
    asyncio.run(migrate.upgrade(url))
    assert asyncio.run(_tables(url)) >= TABLES
