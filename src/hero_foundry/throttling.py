"""Rate limits against guessing and abuse: shared through Redis, else per process.

The counting is the ``limits`` library's moving window (exact counts, and an exact time until
the next request is allowed: the 429's ``Retry-After``). With a Redis URL the windows live in
Redis, atomically updated by the library's Lua scripts, so every worker and replica sees the same
counts. Without one they live in this process's memory: each worker and replica counts alone, and
N of them allow up to N times the limit (docs/security.md).

A Redis outage never fails a request: the first error switches this process to its in-process
windows (a warning record says so), Redis is tried again :data:`REDIS_RETRY_SECONDS` later, and an
info record says when the shared limits are back. Counts made meanwhile stay in the process.

Keys never hold an e-mail address in clear: :func:`email_key` is a digest of the normalized
address. Client addresses are grouped as the telemetry limit does (:func:`client_key`).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from hero_foundry.observability.metrics import RATE_LIMITED
from hero_foundry.problems import ProblemError

log = logging.getLogger("hero_foundry.throttling")

#: After a Redis error, the in-process windows are used this long before Redis is tried again.
REDIS_RETRY_SECONDS = 5.0
KEY_PREFIX = "hero-foundry:limits"


def client_key(host: str | None) -> str:
    """Whom a request is rate-limited as: its IPv4 address, or its IPv6 /64 network (one
    subscriber usually holds a whole /64)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def request_client(request: Request) -> str:
    """The client key of a request (behind the web tier, uvicorn has already taken the browser's
    address from ``X-Forwarded-For``)."""
    return client_key(request.client.host if request.client else None)


def email_key(email: str) -> str:
    """A normalized e-mail address as a rate-limit key: a digest, never the address itself."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Rule:
    """One limit: a name (its keys' namespace) and its windows (``10/minute;100/day``)."""

    name: str
    windows: tuple[RateLimitItem, ...]
    text: str

    @classmethod
    def parse(cls, name: str, text: str) -> Rule:
        return cls(name, tuple(parse_many(text)), text)


@dataclass(frozen=True)
class Limits:
    """Every limit of the service, from the settings."""

    login_account: Rule
    login_client: Rule
    register_client: Rule
    register_email: Rule
    assistant_account: Rule
    assistant_client: Rule

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            login_account=Rule.parse("login-account", settings.login_failures_per_account),
            login_client=Rule.parse("login-client", settings.login_failures_per_client),
            register_client=Rule.parse("register-client", settings.registrations_per_client),
            register_email=Rule.parse("register-email", settings.registrations_per_email),
            assistant_account=Rule.parse(
                "assistant-account", settings.assistant_questions_per_account
            ),
            assistant_client=Rule.parse(
                "assistant-client", settings.assistant_questions_per_client
            ),
        )


class Throttle:
    """Moving-window limits in Redis (shared) or in this process, falling back on Redis errors.

    ``check`` looks without counting, ``hit`` counts (atomically: a refused hit counts nothing),
    ``clear`` forgets a key. Each returns or works with the seconds until the key is allowed
    again (0: allowed now).
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        retry_seconds: float = REDIS_RETRY_SECONDS,
    ) -> None:
        self.clock = clock
        self._monotonic = monotonic
        self._retry_seconds = retry_seconds
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._pool: Any = None
        self._redis: MovingWindowRateLimiter | None = None
        self._redis_paused_until = 0.0
        self._degraded = False
        if redis_url:
            import redis.asyncio as redis

            self._pool = redis.ConnectionPool.from_url(
                redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
            )
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=KEY_PREFIX,
                connection_pool=self._pool,
            )
            self._redis = MovingWindowRateLimiter(storage)

    @property
    def shared(self) -> bool:
        """Whether the counts are Redis's (shared by every process) right now."""
        return self._redis is not None and not self._degraded

    async def _call(self, method: str, *args: Any) -> Any:
        if self._redis is not None and self._monotonic() >= self._redis_paused_until:
            try:
                result = await getattr(self._redis, method)(*args)
            except Exception as exc:  # any Redis failure: never fail the request
                self._redis_paused_until = self._monotonic() + self._retry_seconds
                if not self._degraded:
                    self._degraded = True
                    log.warning(
                        "rate limits: Redis failed (%s): falling back to this process's own "
                        "counts (limits are per process until Redis answers; retried every %g s)",
                        type(getattr(exc, "storage_error", exc)).__name__,
                        self._retry_seconds,
                    )
            else:
                if self._degraded:
                    self._degraded = False
                    log.info("rate limits: Redis answers again: limits are shared again")
                return result
        return await getattr(self._memory, method)(*args)

    async def _wait(self, window: RateLimitItem, rule: Rule, key: str) -> float:
        stats = await self._call("get_window_stats", window, rule.name, key)
        return max(0.0, stats.reset_time - self.clock())

    async def check(self, rule: Rule, key: str) -> float:
        """0 when ``key`` may go on under every window of ``rule``, else the seconds to wait;
        counts nothing."""
        wait = 0.0
        for window in rule.windows:
            if not await self._call("test", window, rule.name, key):
                wait = max(wait, await self._wait(window, rule, key), 1.0)
        return wait

    async def hit(self, rule: Rule, key: str) -> float:
        """Count one request of ``key``: 0 when every window had room, else the seconds to
        wait (a window without room counts nothing)."""
        wait = 0.0
        for window in rule.windows:
            if not await self._call("hit", window, rule.name, key):
                wait = max(wait, await self._wait(window, rule, key), 1.0)
        return wait

    async def clear(self, rule: Rule, key: str) -> None:
        for window in rule.windows:
            await self._call("clear", window, rule.name, key)

    async def close(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):  # closing a pool to a dead server
                await self._pool.aclose()


def too_many(limit: str, wait: float, detail: str) -> ProblemError:
    """The 429 problem of a rate limit (``limit``: login, register, assistant), counted."""
    RATE_LIMITED.labels(limit).inc()
    # Strictly after the window frees a slot: at its exact end the oldest request still counts.
    seconds = max(1, math.floor(wait) + 1)
    return ProblemError(
        429,
        f"{detail} Try again in {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )
