"""Export and import use cases.

:func:`export` is the single place where an export's format, its outcome and its duration are
decided: the planned metrics (``export_operations_total{format}``, ``export_success_total``,
``export_failure_total``, ``export_duration_seconds``) hook in there. A renderer builds the whole
file in memory, in a worker thread, before any response exists: a failure (a reportlab error in
the PDF, say) is logged and answered with a 500 problem, never with a half-written file.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from hero_foundry.accounts.models import User
from hero_foundry.characters.models import Character
from hero_foundry.dice import service as dice
from hero_foundry.dice.signing import RollSigner
from hero_foundry.exports import foundry, importer, pdf
from hero_foundry.exports.document import Snapshot, export_document, slug
from hero_foundry.observability.tracking import track
from hero_foundry.problems import ProblemError, invalid
from hero_foundry.srd import Catalogue
from hero_foundry.storage.base import utcnow

log = logging.getLogger("hero_foundry.exports")


class ExportFormat(StrEnum):
    json = "json"
    pdf = "pdf"
    foundry = "foundry"


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str


def _json_bytes(document: dict[str, Any]) -> bytes:
    # Compact, UTF-8: the same file must fit the import's request-body limit.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render_json(cat: Catalogue, snap: Snapshot, now: datetime) -> ExportFile:
    return ExportFile(
        _json_bytes(export_document(cat, snap, now)), "application/json", f"{slug(snap.name)}.json"
    )


def render_pdf(cat: Catalogue, snap: Snapshot, now: datetime) -> ExportFile:
    return ExportFile(pdf.render(cat, snap, now), "application/pdf", f"{slug(snap.name)}.pdf")


def render_foundry(cat: Catalogue, snap: Snapshot, now: datetime) -> ExportFile:
    return ExportFile(
        _json_bytes(foundry.actor(cat, snap, now)),
        "application/json",
        f"fvtt-actor-{slug(snap.name)}.json",
    )


RENDERERS: dict[ExportFormat, Callable[[Catalogue, Snapshot, datetime], ExportFile]] = {
    ExportFormat.json: render_json,
    ExportFormat.pdf: render_pdf,
    ExportFormat.foundry: render_foundry,
}


async def export(
    cat: Catalogue, character: Character, fmt: ExportFormat, signer: RollSigner | None = None
) -> ExportFile:
    """Render one export. THE place where an export's format, success or failure and duration
    are decided: ``track("export")`` records export_operations_total{format},
    export_success_total / export_failure_total and export_duration_seconds.

    With ``signer``, the JSON document signs the dice the server rolled for the character."""
    rolls = tuple(dice.signatures(cat, signer, character)) if signer else ()
    snap = Snapshot.of(character, rolls)  # plain values: the renderer runs in a worker thread
    started = time.perf_counter()
    with track("export", format=fmt.value):
        try:
            result = await run_in_threadpool(RENDERERS[fmt], cat, snap, utcnow())
        except Exception:
            duration = time.perf_counter() - started
            log.exception(
                "export failed: format=%s character=%s duration=%.3fs",
                fmt.value,
                snap.id,
                duration,
            )
            raise ProblemError(
                500,
                f"The {fmt.value} export could not be generated; it has been logged.",
                title="Internal Server Error",
            ) from None
    duration = time.perf_counter() - started
    log.info(
        "export: format=%s character=%s bytes=%d duration=%.3fs",
        fmt.value,
        snap.id,
        len(result.content),
        duration,
    )
    return result


async def import_character(
    db: AsyncSession,
    cat: Catalogue,
    user: User,
    document: Any,
    signer: RollSigner,
    *,
    require_verified_rolls: bool = False,
) -> Character:
    """Validate an export document with the rules and store it as a new character of ``user``.

    Dice whose signature verifies (this server's key, ``user``'s account, the exported
    character's id and level) are stored as the new character's rolls: verified. Any other dice
    are imported unverified, or refused with a 422 naming them when ``require_verified_rolls``
    (docs/security.md, "Dice")."""
    imported = importer.validate(cat, document)
    checked = dice.verify_claims(signer, user.id, imported.source_id, imported.rolls)
    if require_verified_rolls:
        problems = [
            {
                "field": claim.field,
                "reason": "the signature does not verify: not rolled by this server for your "
                "account, or changed since"
                if signature
                else "not signed: no proof this server rolled these dice",
            }
            for (claim, signature), (_, proven) in zip(imported.rolls, checked, strict=True)
            if not proven
        ]
        if problems:
            raise invalid(problems, "These dice cannot be shown to be this server's rolls.")
    now = utcnow()
    character = Character(
        id=uuid.uuid4(),
        user_id=user.id,
        name=imported.name,
        level=imported.level,
        build=imported.build,
        inventory=imported.inventory,
        currency=imported.currency,
        notes=imported.notes,
        created_at=now,
        updated_at=now,
        rolls=[dice.stored(claim, user.id) for claim, proven in checked if proven],
    )
    db.add(character)
    await db.flush()
    return character
