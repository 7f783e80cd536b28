"""Apply Alembic migrations programmatically (``hero-foundry db upgrade``, tests, start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from hero_foundry.storage.db import create_engine

HERE = Path(__file__).parent


def alembic_config() -> Config:
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    return cfg


def _run(connection: Connection, revision: str, downgrade: bool) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    if downgrade:
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


async def _migrate(url: str, revision: str, downgrade: bool) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, revision, downgrade)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    await _migrate(url, revision, downgrade=False)


async def downgrade(url: str, revision: str = "base") -> None:
    await _migrate(url, revision, downgrade=True)


async def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    finally:
        await engine.dispose()
