"""HMAC-SHA256 signatures of the dice the server rolled, and the key they are made with.

A signature binds everything that makes a roll *this* roll: the owner's account, the subject (the
character and the level the roll is for; a draft's roll becomes its character's level-1 roll at
finalize, and only characters are exported), the kind of roll, the die and the dice. An edited
die, a roll moved to another level, character or die size, or a file imported by another account
therefore no longer verifies. The message is canonical JSON, prefixed with a domain tag
so that a signature can never be mistaken for another use of the key.

The key is ``HERO_FOUNDRY_ROLL_SIGNING_KEY`` (or ``_FILE``). Without one, outside production, a
random key is generated once and kept in ``<data_dir>/roll-signing.key`` (mode 0600), shared by
every worker on the machine; in production the api refuses to start without a configured key,
because replicas with their own keys would disown each other's exports.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from hero_foundry.settings import Settings

DOMAIN = b"hero-foundry/dice-roll/v1\x00"
KEY_FILE = "roll-signing.key"
MIN_KEY_CHARS = 32


class SigningKeyError(RuntimeError):
    """No usable roll signing key (raised when the api starts)."""


def character_subject(character_id: uuid.UUID | str, level: int) -> str:
    return f"character:{character_id}:level:{level}"


def message(owner: uuid.UUID, subject: str, kind: str, die: int, dice: Any) -> bytes:
    body = {"owner": str(owner), "subject": subject, "kind": kind, "die": die, "dice": dice}
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class RollSigner:
    """Signs and verifies rolls with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_CHARS:
            raise SigningKeyError(f"the roll signing key needs at least {MIN_KEY_CHARS} characters")
        self._key = key

    def sign(self, owner: uuid.UUID, subject: str, kind: str, die: int, dice: Any) -> str:
        return hmac.new(
            self._key, message(owner, subject, kind, die, dice), hashlib.sha256
        ).hexdigest()

    def verify(
        self, owner: uuid.UUID, subject: str, kind: str, die: int, dice: Any, signature: str
    ) -> bool:
        return hmac.compare_digest(self.sign(owner, subject, kind, die, dice), signature)


def signing_key(settings: Settings) -> bytes:
    """The configured key; outside production, the generated one under ``data_dir``."""
    configured = settings.roll_signing_key.get_secret_value()
    if configured:
        return configured.encode()
    if settings.environment == "production":
        raise SigningKeyError(
            "HERO_FOUNDRY_ROLL_SIGNING_KEY (or HERO_FOUNDRY_ROLL_SIGNING_KEY_FILE) must be set "
            "when environment is production: every replica must sign dice with the same key "
            "(docs/security.md, Dice)"
        )
    return _development_key(settings.data_dir / KEY_FILE)


def _development_key(path: Path) -> bytes:
    """Read the generated key, creating it first if needed. Several workers may start at once:
    the key is written to a temporary file and linked into place, so a reader never sees a
    half-written key and the first writer wins."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(secrets.token_hex(32) + "\n")
                with contextlib.suppress(FileExistsError):  # another worker was first
                    os.link(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(
            f"cannot read or create the development roll signing key {path}: {exc}; "
            "set HERO_FOUNDRY_ROLL_SIGNING_KEY"
        ) from exc
    if len(key) < MIN_KEY_CHARS:
        raise SigningKeyError(f"{path} holds no usable key: delete it to generate a new one")
    return key.encode()


def signer_for(settings: Settings) -> RollSigner:
    return RollSigner(signing_key(settings))


def roll_signer(request: Request) -> RollSigner:
    return request.app.state.roll_signer


RollSignerDep = Annotated[RollSigner, Depends(roll_signer)]
