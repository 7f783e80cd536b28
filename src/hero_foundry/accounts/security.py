"""Password hashing (argon2id) with a concurrency cap, and opaque bearer tokens (random, stored
as SHA-256)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hero_foundry.observability.metrics import PASSWORD_HASHING_BUSY
from hero_foundry.problems import ProblemError

TOKEN_BYTES = 32
#: The Retry-After of a 503 when every hashing slot stayed busy: a slot frees in milliseconds.
BUSY_RETRY_AFTER_SECONDS = 1

T = TypeVar("T")


def password_hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    # argon2-cffi hashes with Argon2id by default.
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def verify_password(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class PasswordHashing:
    """Every password hash and verification of a process, at most ``slots`` at once.

    Argon2id is built to be expensive (memory and CPU): unbounded, a burst of logins would queue
    work far beyond the CPUs, and every request behind it would wait. A request that finds every
    slot busy waits ``wait_seconds`` at most, then answers 503 with ``Retry-After`` instead of
    queueing. The hashing runs in a thread, outside the event loop. Per process: with N workers
    on one machine, the machine runs up to N x ``slots`` hashes.
    """

    def __init__(self, hasher: PasswordHasher, slots: int, wait_seconds: float) -> None:
        self.hasher = hasher
        self.slots = max(1, slots)
        self.wait_seconds = wait_seconds
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dummy: dict[tuple[int, int], str] = {}

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:  # one per event loop
            self._semaphore, self._loop = asyncio.Semaphore(self.slots), loop
        return self._semaphore

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        gate = self._gate()
        if gate.locked():
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await gate.acquire()
            except TimeoutError:
                PASSWORD_HASHING_BUSY.inc()
                raise ProblemError(
                    503,
                    "The service is checking too many passwords at once: try again in a moment.",
                    headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
                ) from None
        else:
            await gate.acquire()
        try:
            return await asyncio.to_thread(function, *args)
        finally:
            gate.release()

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored: str, password: str) -> bool:
        return await self._run(verify_password, self.hasher, stored, password)

    async def dummy_hash(self) -> str:
        """A real hash of a random secret, to verify against for unknown e-mail addresses (so
        timing does not reveal which accounts exist); one per cost parameters."""
        key = (self.hasher.time_cost, self.hasher.memory_cost)
        if key not in self._dummy:
            self._dummy[key] = await self._run(self.hasher.hash, new_token())
        return self._dummy[key]


def new_token() -> str:
    """256 random bits, URL-safe: the only copy is the one handed to the client."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
