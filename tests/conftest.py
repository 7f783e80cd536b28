"""Shared fixtures.

``backend`` runs a test on SQLite and on PostgreSQL. PostgreSQL comes from
``HERO_FOUNDRY_TEST_POSTGRES_URL`` (default: postgres on 127.0.0.1:5432); each test session gets
its own throw-away database. Outside CI an unreachable server skips its tests; with ``CI=true``
it fails them, because in CI every test must run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
from sqlalchemy.engine import make_url

from hero_foundry.app import create_app
from hero_foundry.settings import Settings
from hero_foundry.srd import Catalogue, get_catalogue
from hero_foundry.storage import migrate

IN_CI = os.environ.get("CI") == "true"
POSTGRES_URL = os.environ.get(
    "HERO_FOUNDRY_TEST_POSTGRES_URL",
    "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres",
)
REDIS_URL = os.environ.get("HERO_FOUNDRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str, why: object) -> None:
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: this test must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis server's URL, once it answers a PING."""

    async def ping() -> None:
        client = redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (OSError, redis.RedisError) as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return get_catalogue()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """Create a uniquely named database on the test server; drop it afterwards."""
    name = f"hero_foundry_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable("PostgreSQL", exc)
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL database shared by this test session's app tests."""
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own (for migration tests)."""
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = Path(tmp_path_factory.mktemp("db")) / "test.sqlite3"
    return f"sqlite+aiosqlite:///{path}"


RELAXED_LIMITS = {
    "login_failures_per_account": "100000/minute",
    "login_failures_per_client": "100000/minute",
    "registrations_per_client": "100000/minute",
    "registrations_per_email": "100000/minute",
    "assistant_questions_per_account": "100000/minute",
    "assistant_questions_per_client": "100000/minute",
}


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        # Cheap hashing keeps the suite fast; production uses argon2-cffi's defaults.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        # One app serves the whole suite from one address: the rate limits out of the way
        # (tests/security checks them with limits of its own).
        **RELAXED_LIMITS,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A migrated database: SQLite, then PostgreSQL."""
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    asyncio.run(migrate.upgrade(url))
    return url


@pytest.fixture(scope="session")
async def app_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, with its lifespan running, for each backend."""
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
def client(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return app_client


@pytest.fixture
def unique_email() -> Iterator[str]:
    yield f"player-{uuid.uuid4().hex[:10]}@example.com"
