"""Liveness (/healthz) and readiness (/readyz): the database and Redis, each check bounded."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from hero_foundry.app import create_app
from hero_foundry.observability.health import CHECK_TIMEOUT_SECONDS
from tests.conftest import make_settings


def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@asynccontextmanager
async def serving(**settings: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(**settings))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def ready(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = await client.get("/readyz")
    return r, time.monotonic() - started


async def test_healthz_says_the_process_is_alive(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    """On SQLite and on PostgreSQL; without a Redis URL there is no Redis to check."""
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "redis": "not configured"}}


async def test_ready_with_redis(database_url: str, redis_url: str) -> None:
    async with serving(database_url=database_url, redis_url=redis_url) as client:
        r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.parametrize("backend", ["postgres-refused", "sqlite-unopenable"])
async def test_not_ready_names_the_unreachable_database(backend: str, tmp_path: Path) -> None:
    port = closed_port()
    url = (
        f"postgresql+asyncpg://hero:pw@127.0.0.1:{port}/hero"
        if backend == "postgres-refused"
        else f"sqlite+aiosqlite:///{tmp_path}"  # a directory: SQLite cannot open it
    )
    async with serving(database_url=url) as client:
        r, elapsed = await ready(client)
        alive = await client.get("/healthz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 503 and problem["title"] == "Service Unavailable"
    assert problem["checks"]["database"].startswith("failed: unreachable")
    assert problem["checks"]["redis"] == "not configured"
    assert "database" in problem["detail"]
    assert str(port) not in r.text and "pw" not in r.text  # the detail stays in the log
    assert elapsed < CHECK_TIMEOUT_SECONDS
    assert alive.status_code == 200  # liveness does not depend on the database


async def test_not_ready_names_unreachable_redis(database_url: str) -> None:
    async with serving(
        database_url=database_url, redis_url=f"redis://127.0.0.1:{closed_port()}/0"
    ) as client:
        r, elapsed = await ready(client)
    assert r.status_code == 503
    problem = r.json()
    assert problem["checks"]["database"] == "ok"
    assert problem["checks"]["redis"].startswith("failed: unreachable")
    assert "redis" in problem["detail"] and "database" not in problem["detail"]
    assert elapsed < CHECK_TIMEOUT_SECONDS


async def test_a_silent_database_times_out_instead_of_hanging(silent_port: int) -> None:
    url = f"postgresql+asyncpg://hero:pw@127.0.0.1:{silent_port}/hero"
    async with serving(database_url=url) as client:
        r, elapsed = await ready(client)
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == f"failed: timed out after {CHECK_TIMEOUT_SECONDS:g} s"
    assert CHECK_TIMEOUT_SECONDS <= elapsed < CHECK_TIMEOUT_SECONDS + 1.5


async def test_both_failures_are_named_together(silent_port: int) -> None:
    """The checks run concurrently: two failing dependencies cost one timeout, not two."""
    url = f"postgresql+asyncpg://hero:pw@127.0.0.1:{silent_port}/hero"
    async with serving(
        database_url=url, redis_url=f"redis://127.0.0.1:{closed_port()}/0"
    ) as client:
        r, elapsed = await ready(client)
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"].startswith("failed") and checks["redis"].startswith("failed")
    assert elapsed < CHECK_TIMEOUT_SECONDS + 1.5
