"""A small key/value cache with expiry: Redis when configured, else in-process.

Used to remember refused bearer tokens (revoked or expired: final verdicts, so a per-process copy
is as safe as a shared one, whatever the number of workers and replicas). Nothing here ever says
a token is valid: the database answers that on every request (accounts/service.py). Entries are
disposable, so a cache outage only costs speed: every Redis error degrades to a miss or a no-op.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger("hero_foundry.cache")


class Cache(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def close(self) -> None: ...


class InMemoryCache:
    """Per-process LRU cache with expiry (the default without Redis)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._data[key] = (time.monotonic() + ttl_seconds, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def close(self) -> None:
        self._data.clear()


class RedisCache:
    """Shared cache for several workers and replicas. Errors degrade to cache misses."""

    def __init__(self, url: str, prefix: str = "hero-foundry:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(
            url, decode_responses=True, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        try:
            return await self._redis.get(self._prefix + key)
        except Exception as exc:  # degrade to a miss, never fail the request
            log.warning("redis get failed: %s", type(exc).__name__)
            return None

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        try:
            await self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds))
        except Exception as exc:
            log.warning("redis set failed: %s", type(exc).__name__)

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except Exception as exc:
            log.warning("redis delete failed: %s", type(exc).__name__)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None) -> Cache:
    """Redis when configured, else in-process."""
    return RedisCache(redis_url) if redis_url else InMemoryCache()
