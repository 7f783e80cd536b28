"""Account use cases. Passwords and tokens are never logged nor stored in clear.

Security properties (docs/security.md):

- **Throttled guessing.** A login is checked against the failure limits of its account and of
  its client *before* the password is hashed: a throttled login costs no hashing. Failures count
  against both; a success clears the account's.
- **No account enumeration.** Registration answers the same for a new and a taken address and
  hashes the password in both cases; login answers the same for an unknown address and a wrong
  password, verifying against a dummy hash.
- **Revocation holds at once.** Every authenticated request asks the database whether its token
  is live. The cache only remembers refusals (revoked or expired tokens), which can never become
  valid again, so no worker, replica or Redis outage can keep a revoked token alive.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry.accounts.models import AuthToken, User
from hero_foundry.accounts.security import PasswordHashing, new_token, token_digest
from hero_foundry.cache import Cache
from hero_foundry.observability.metrics import CACHE_HITS, CACHE_MISSES, LOGIN_FAILURES, LOGINS
from hero_foundry.problems import ProblemError
from hero_foundry.storage.base import utcnow
from hero_foundry.throttling import Limits, Throttle, email_key, too_many

#: The ``cache`` label of this cache's hit and miss counters.
TOKEN_CACHE = "auth_tokens"
# Both series exist from the start: hits are rare now (only refused tokens are cached), and
# without a hits series cache_hit_ratio (hits / lookups) would have no value instead of 0.
CACHE_HITS.labels(TOKEN_CACHE)
CACHE_MISSES.labels(TOKEN_CACHE)
#: How long a refused token (revoked or expired: final) is remembered before the database is
#: asked again. Valid tokens are never cached.
REFUSAL_CACHE_SECONDS = 600
#: ``last_used_at`` is written at most this often per token (one UPDATE a minute, not one per
#: request).
LAST_USED_RESOLUTION = timedelta(seconds=60)
#: What registration answers, whether the address was free or taken.
REGISTERED = (
    "If this address was not registered yet, its account now exists; either way, log in with "
    "the address and your password."
)


@dataclass(frozen=True)
class Login:
    token: str
    expires_at: datetime


def normalize(email: str) -> str:
    return email.strip().lower()


def _unauthorized() -> ProblemError:
    return ProblemError(
        401, "Wrong e-mail address or password.", headers={"WWW-Authenticate": "Bearer"}
    )


async def register(
    db: AsyncSession,
    hashing: PasswordHashing,
    throttle: Throttle,
    limits: Limits,
    email: str,
    password: str,
) -> str:
    """Create the account unless the address is taken; the same answer and the same work
    (one password hash) either way. Returns the normalized address."""
    email = normalize(email)
    wait = await throttle.hit(limits.register_email, email_key(email))
    if wait:
        raise too_many("register", wait, "Too many registrations for this e-mail address.")
    password_hash = await hashing.hash(password)  # before looking: both paths hash
    insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(User)
        .values(id=uuid.uuid4(), email=email, password_hash=password_hash, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["email"])
    )
    await db.execute(statement)  # taken (even by a concurrent registration): nothing happens
    return email


async def login(
    db: AsyncSession,
    hashing: PasswordHashing,
    throttle: Throttle,
    limits: Limits,
    email: str,
    password: str,
    ttl_seconds: int,
    client: str,
) -> Login:
    email = normalize(email)
    account = email_key(email)
    # The limits first, without hashing anything: the client's failures (looked at), then the
    # account's attempts (counted atomically, so parallel guesses cannot slip past the limit).
    wait = await throttle.check(limits.login_client, client)
    detail = "Too many failed logins from your network address."
    if not wait:
        wait = await throttle.hit(limits.login_account, account)
        detail = "Too many failed logins for this e-mail address."
    if wait:
        LOGIN_FAILURES.labels("throttled").inc()
        raise too_many("login", wait, detail)
    user = await db.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user else await hashing.dummy_hash()
    ok = await hashing.verify(stored, password)
    if not (user and ok):
        await throttle.hit(limits.login_client, client)
        LOGIN_FAILURES.labels("bad_password" if user else "unknown_account").inc()
        raise _unauthorized()
    await throttle.clear(limits.login_account, account)
    LOGINS.inc()
    token = new_token()
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    db.add(AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires_at))
    return Login(token, expires_at)


def _refusal_key(digest: str) -> str:
    # Not the former "auth:<digest>" (positive entries of older versions must never be read as
    # anything).
    return f"auth-refused:{digest}"


async def authenticate(db: AsyncSession, cache: Cache, token: str) -> tuple[User, AuthToken] | None:
    """The account and login behind ``token``, or None if it is unknown, revoked or expired.

    The database decides on every call (one query on the token's unique index, joined to its
    account). The cache only spares that query for tokens already refused: a refusal is final.
    """
    digest = token_digest(token)
    key = _refusal_key(digest)
    if await cache.get(key) is not None:
        CACHE_HITS.labels(TOKEN_CACHE).inc()
        return None
    CACHE_MISSES.labels(TOKEN_CACHE).inc()
    now = utcnow()
    found = (
        await db.execute(
            select(AuthToken, User)
            .join(User, User.id == AuthToken.user_id)
            .where(AuthToken.token_hash == digest)
        )
    ).first()
    if found is None:  # unknown: not cached (random guesses would only fill the cache)
        return None
    row, user = found
    if row.revoked_at is not None or row.expires_at <= now:
        await cache.set(key, "1", REFUSAL_CACHE_SECONDS)
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now  # written with the request's transaction
    return user, row


async def logout(db: AsyncSession, token: str) -> None:
    """Revoke ``token``: committed before the answer is sent, and from then on refused by every
    worker and replica (each asks the database). Nothing to invalidate in any cache."""
    await db.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == token_digest(token), AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def logout_everywhere(db: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every live token of the account (this one included); how many were revoked."""
    now = utcnow()
    result = await db.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user_id,
            AuthToken.revoked_at.is_(None),
            AuthToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


async def sessions(
    db: AsyncSession, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[AuthToken], int]:
    """The account's live logins, newest first, and how many there are."""
    live = (
        AuthToken.user_id == user_id,
        AuthToken.revoked_at.is_(None),
        AuthToken.expires_at > utcnow(),
    )
    total = await db.scalar(select(func.count()).select_from(AuthToken).where(*live))
    rows = await db.scalars(
        select(AuthToken)
        .where(*live)
        .order_by(AuthToken.created_at.desc(), AuthToken.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)
