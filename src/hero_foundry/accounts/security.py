"""Password hashing (argon2id) and opaque bearer tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32


def password_hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    # argon2-cffi hashes with Argon2id by default.
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def verify_password(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """256 random bits, URL-safe: the only copy is the one handed to the client."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
