"""A small key/value cache with expiry: Redis when configured, else in-process.

Used for hot lookups (a bearer token's owner). Entries are disposable: every cached value can be
recomputed from the database, so a cache outage only costs speed.
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


class NullCache:
    """Caches nothing: for several workers without Redis, where a per-process copy could keep
    a revoked token alive in the other workers."""

    async def get(self, key: str) -> str | None:
        return None

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        return None

    async def delete(self, key: str) -> None:
        return None

    async def close(self) -> None:
        return None


class InMemoryCache:
    """Per-process LRU cache with expiry (the embedded default, for a single worker)."""

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
        # A failed delete could leave a revoked token usable until its entry expires: raise.
        await self._redis.delete(self._prefix + key)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None, workers: int = 1) -> Cache:
    """Redis when configured; else in-process for one worker, nothing for several."""
    if redis_url:
        return RedisCache(redis_url)
    return InMemoryCache() if workers == 1 else NullCache()
