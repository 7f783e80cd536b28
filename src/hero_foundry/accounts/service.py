"""Account use cases. Passwords and tokens are never logged nor stored in clear."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry.accounts.models import AuthToken, User
from hero_foundry.accounts.security import new_token, token_digest, verify_password
from hero_foundry.cache import Cache
from hero_foundry.observability.metrics import CACHE_HITS, CACHE_MISSES
from hero_foundry.problems import ProblemError
from hero_foundry.storage.base import utcnow

#: The ``cache`` label of this cache's hit and miss counters.
TOKEN_CACHE = "auth_tokens"
#: How long a token's owner is remembered in the cache before the database is asked again.
TOKEN_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Login:
    token: str
    expires_at: datetime


def _normalize(email: str) -> str:
    return email.strip().lower()


async def register(db: AsyncSession, hasher: PasswordHasher, email: str, password: str) -> User:
    email = _normalize(email)
    exists = await db.scalar(select(User.id).where(User.email == email))
    if exists:
        raise ProblemError(409, "An account with this e-mail address already exists.")
    password_hash = await asyncio.to_thread(hasher.hash, password)
    user = User(email=email, password_hash=password_hash)
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:  # a concurrent registration won the race
        raise ProblemError(409, "An account with this e-mail address already exists.") from None
    return user


async def login(
    db: AsyncSession, hasher: PasswordHasher, email: str, password: str, ttl_seconds: int
) -> Login:
    user = await db.scalar(select(User).where(User.email == _normalize(email)))
    stored = user.password_hash if user else _DUMMY_HASH.get(hasher)
    ok = await asyncio.to_thread(verify_password, hasher, stored, password)
    if not (user and ok):
        raise ProblemError(
            401, "Wrong e-mail address or password.", headers={"WWW-Authenticate": "Bearer"}
        )
    token = new_token()
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    db.add(AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires_at))
    return Login(token, expires_at)


class _DummyHash:
    """A real hash to verify against for unknown e-mails, so timing does not reveal accounts."""

    def __init__(self) -> None:
        self._by_params: dict[tuple[int, int], str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = (hasher.time_cost, hasher.memory_cost)
        if key not in self._by_params:
            self._by_params[key] = hasher.hash(new_token())
        return self._by_params[key]


_DUMMY_HASH = _DummyHash()


async def authenticate(db: AsyncSession, cache: Cache, token: str) -> User | None:
    digest = token_digest(token)
    key = f"auth:{digest}"
    cached = await cache.get(key)
    now = utcnow()
    if cached:
        user_id, _, expires = cached.partition("|")
        if float(expires) > now.timestamp():
            CACHE_HITS.labels(TOKEN_CACHE).inc()
            return await db.get(User, uuid.UUID(user_id))
    CACHE_MISSES.labels(TOKEN_CACHE).inc()
    row = await db.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == digest,
            AuthToken.revoked_at.is_(None),
            AuthToken.expires_at > now,
        )
    )
    if row is None:
        return None
    remaining = int((row.expires_at - now).total_seconds())
    await cache.set(
        key, f"{row.user_id}|{row.expires_at.timestamp()}", min(TOKEN_CACHE_SECONDS, remaining)
    )
    return await db.get(User, row.user_id)


async def logout(db: AsyncSession, cache: Cache, token: str) -> None:
    digest = token_digest(token)
    row = await db.scalar(select(AuthToken).where(AuthToken.token_hash == digest))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    await cache.delete(f"auth:{digest}")
