"""With Redis configured: refused tokens are cached there (never valid ones), logout holds at
once, and active users are counted there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as redis

from hero_foundry.accounts.security import token_digest
from hero_foundry.app import create_app
from hero_foundry.cache import RedisCache
from tests.conftest import make_settings
from tests.integration.api import new_player


@pytest.fixture
async def redis_client(
    redis_url: str, sqlite_url: str, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, redis_url=redis_url))
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.cache, RedisCache)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_only_refused_tokens_are_cached_in_redis_and_logout_holds_at_once(
    redis_client: httpx.AsyncClient, redis_url: str
) -> None:
    headers = await new_player(redis_client)
    token = headers["Authorization"].split()[1]
    digest = token_digest(token)
    assert (await redis_client.get("/api/me", headers=headers)).status_code == 200
    raw = redis.from_url(redis_url, decode_responses=True)
    try:
        # A valid token is never cached: the database answers for it on every request.
        assert [k async for k in raw.scan_iter(f"hero-foundry:*{digest}*")] == []
        assert (await redis_client.post("/api/auth/logout", headers=headers)).status_code == 204
        assert (await redis_client.get("/api/me", headers=headers)).status_code == 401
        key = f"hero-foundry:auth-refused:{digest}"
        cached = await raw.get(key)
        assert cached is not None and token not in cached
        assert 0 < await raw.ttl(key) <= 600
    finally:
        await raw.aclose()
    assert (await redis_client.get("/api/me", headers=headers)).status_code == 401


async def test_active_users_come_from_redis_whatever_the_worker(
    redis_client: httpx.AsyncClient, redis_url: str
) -> None:
    def gauge(text: str, name: str) -> float:
        line = next(line for line in text.splitlines() if line.startswith(name + " "))
        return float(line.split()[1])

    from hero_foundry.observability.activity import RedisActivity

    assert isinstance(redis_client._transport.app.state.activity, RedisActivity)  # type: ignore[attr-defined]
    before = (await redis_client.get("/metrics")).text
    for _ in range(3):
        headers = await new_player(redis_client)
        assert (await redis_client.get("/api/me", headers=headers)).status_code == 200
    after = (await redis_client.get("/metrics")).text
    assert gauge(after, "active_users_current") - gauge(before, "active_users_current") == 3
    raw = redis.from_url(redis_url)
    try:
        assert await raw.zcard("hero-foundry:active:user") >= 3
    finally:
        await raw.aclose()
