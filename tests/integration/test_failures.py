"""Server-side failures: a 500 problem without internals, and nothing half-stored."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry.app import create_app
from tests.conftest import make_settings
from tests.integration.api import new_player, ok


@pytest.fixture
async def fragile_client(database_url: str):
    app = create_app(make_settings(database_url))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_unexpected_error_is_a_500_problem_and_logged(
    fragile_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = await fragile_client.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    record = next(r for r in caplog.records if r.name == "hero_foundry.errors")
    assert record.exc_info and "secret internal detail" in str(record.exc_info[1])


async def test_a_failed_commit_answers_500_and_stores_nothing(
    fragile_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await new_player(fragile_client)
    draft = await ok(fragile_client.post("/api/characters/drafts", headers=headers), 201)
    url = f"/api/characters/drafts/{draft['id']}"
    original = AsyncSession.commit

    async def failing_commit(self: AsyncSession) -> None:
        raise ConnectionResetError("database went away")

    monkeypatch.setattr(AsyncSession, "commit", failing_commit)
    logging.getLogger("hero_foundry.errors").disabled = True
    try:
        r = await fragile_client.put(f"{url}/race", headers=headers, json={"race": "human"})
    finally:
        logging.getLogger("hero_foundry.errors").disabled = False
        monkeypatch.setattr(AsyncSession, "commit", original)
    assert r.status_code == 500  # never a success for something that was not stored
    after = await ok(fragile_client.get(url, headers=headers))
    assert after["chosen"]["race"] is None
