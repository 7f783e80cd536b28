"""Who is active: distinct users and logins with a request in the last few minutes.

The figure must be the same whichever worker or replica is scraped, so it lives in a shared
store, never in a per-process gauge: Redis (sorted sets scored by last-seen time) when a Redis
URL is configured, else the database (``user_activity``, one row per user or login). Each
process writes a key at most once per :data:`WRITE_EVERY` seconds, so an active user costs one
write every half minute, not one per request.
"""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hero_foundry.observability.models import UserActivity

WRITE_EVERY = 30.0
KINDS = ("user", "session")


class ActivityStore(Protocol):
    async def touch(self, db: AsyncSession, user: str, session: str) -> None: ...
    async def count(self, window_seconds: int) -> dict[str, int]: ...


class _Throttle:
    def __init__(self) -> None:
        self._written: dict[tuple[str, str], float] = {}

    def due(self, kind: str, key: str) -> bool:
        now = time.monotonic()
        last = self._written.get((kind, key))
        if last is not None and now - last < WRITE_EVERY:
            return False
        self._written[(kind, key)] = now
        if len(self._written) > 100_000:  # forget the oldest half, never grow without bound
            for old in sorted(self._written, key=self._written.get)[:50_000]:
                del self._written[old]
        return True


class RedisActivity:
    def __init__(self, url: str, prefix: str = "hero-foundry:active:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._throttle = _Throttle()

    async def touch(self, db: AsyncSession, user: str, session: str) -> None:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for kind, key in (("user", user), ("session", session)):
            if self._throttle.due(kind, key):
                pipe.zadd(self._prefix + kind, {key: now})
        if pipe.command_stack:
            try:
                await pipe.execute()
            except Exception:  # activity is best effort: never fail the request
                return

    async def count(self, window_seconds: int) -> dict[str, int]:
        cutoff = time.time() - window_seconds
        pipe = self._redis.pipeline(transaction=False)
        for kind in KINDS:
            pipe.zremrangebyscore(self._prefix + kind, "-inf", cutoff)
            pipe.zcard(self._prefix + kind)
        results = await pipe.execute()
        return {kind: int(results[2 * i + 1]) for i, kind in enumerate(KINDS)}

    async def close(self) -> None:
        await self._redis.aclose()


class DatabaseActivity:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._throttle = _Throttle()

    async def touch(self, db: AsyncSession, user: str, session: str) -> None:
        now = time.time()
        rows = [
            {"kind": kind, "key": key, "seen_at": now}
            for kind, key in (("user", user), ("session", session))
            if self._throttle.due(kind, key)
        ]
        if not rows:
            return
        insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
        statement = insert(UserActivity).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["kind", "key"], set_={"seen_at": statement.excluded.seen_at}
        )
        await db.execute(statement)  # committed with the request's own transaction

    async def count(self, window_seconds: int) -> dict[str, int]:
        cutoff = time.time() - window_seconds
        async with self._sessions() as db, db.begin():
            await db.execute(delete(UserActivity).where(UserActivity.seen_at < cutoff))
            rows = await db.execute(
                select(UserActivity.kind, func.count())
                .where(UserActivity.seen_at >= cutoff)
                .group_by(UserActivity.kind)
            )
            counts = dict(rows.all())
        return {kind: int(counts.get(kind, 0)) for kind in KINDS}

    async def close(self) -> None:
        return None
