"""Dice rolls stored once per draft and character level; no check-then-act races.

- ``dice_rolls``: every roll the server makes, with partial unique indexes (one per draft; one
  per character, kind and level). Filled from the rolls already made: the ability scores of
  every draft (attached to its character when finalized) and the hit dice of committed and open
  level-ups. Characters imported before this revision have no stored rolls: their dice stay
  unverified (docs/security.md, "Dice").
- ``revision`` on ``character_drafts``, ``characters`` and ``level_up_sessions``: every update
  is conditional on it (``storage/concurrency.py``).
- ``uq_level_up_sessions_open``: one open level-up per character. Extra open sessions that the
  old check-then-insert let through are abandoned first (the newest stays open).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from hero_foundry.storage.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")
VERSIONED = ("character_drafts", "characters", "level_up_sessions")
OPEN_SESSION = sa.text("status = 'open'")
DRAFT_PRESENT = sa.text("draft_id IS NOT NULL")
CHARACTER_PRESENT = sa.text("character_id IS NOT NULL")

drafts = sa.table(
    "character_drafts",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("state", JSONDoc),
    sa.column("character_id", sa.Uuid()),
)
sessions = sa.table(
    "level_up_sessions",
    sa.column("id", sa.Uuid()),
    sa.column("character_id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("state", JSONDoc),
    sa.column("started_at", UTCDateTime()),
    sa.column("finished_at", UTCDateTime()),
)
rolls = sa.table(
    "dice_rolls",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("draft_id", sa.Uuid()),
    sa.column("character_id", sa.Uuid()),
    sa.column("level", sa.Integer()),
    sa.column("die", sa.Integer()),
    sa.column("dice", JSONDoc),
    sa.column("created_at", UTCDateTime()),
)


def upgrade() -> None:
    op.create_table(
        "dice_rolls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("draft_id", sa.Uuid(), nullable=True),
        sa.Column("character_id", sa.Uuid(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("die", sa.Integer(), nullable=False),
        sa.Column("dice", JSONDoc, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dice_rolls"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_dice_rolls_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["character_drafts.id"],
            name="fk_dice_rolls_draft_id_character_drafts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name="fk_dice_rolls_character_id_characters",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "draft_id IS NOT NULL OR character_id IS NOT NULL", name=op.f("ck_dice_rolls_subject")
        ),
        sa.CheckConstraint(
            "kind IN ('ability_scores', 'hit_points')", name=op.f("ck_dice_rolls_kind")
        ),
    )
    op.create_index("ix_dice_rolls_user_id", "dice_rolls", ["user_id"])
    op.create_index(
        "uq_dice_rolls_draft",
        "dice_rolls",
        ["draft_id"],
        unique=True,
        sqlite_where=DRAFT_PRESENT,
        postgresql_where=DRAFT_PRESENT,
    )
    op.create_index(
        "uq_dice_rolls_character_level",
        "dice_rolls",
        ["character_id", "kind", "level"],
        unique=True,
        sqlite_where=CHARACTER_PRESENT,
        postgresql_where=CHARACTER_PRESENT,
    )
    for table in VERSIONED:
        op.add_column(
            table, sa.Column("revision", sa.Integer(), nullable=False, server_default="1")
        )
    bind = op.get_bind()
    now = datetime.now(UTC)
    _close_extra_open_sessions(bind, now)
    op.create_index(
        "uq_level_up_sessions_open",
        "level_up_sessions",
        ["character_id"],
        unique=True,
        sqlite_where=OPEN_SESSION,
        postgresql_where=OPEN_SESSION,
    )
    _store_existing_rolls(bind, now)


def _close_extra_open_sessions(bind: sa.Connection, now: datetime) -> None:
    """Keep each character's newest open level-up open; abandon the others."""
    rows = bind.execute(
        sa.select(sessions.c.id, sessions.c.character_id)
        .where(sessions.c.status == "open")
        .order_by(sessions.c.started_at.desc(), sessions.c.id)
    ).all()
    kept: set[uuid.UUID] = set()
    extra = []
    for session_id, character_id in rows:
        if character_id in kept:
            extra.append(session_id)
        kept.add(character_id)
    if extra:
        bind.execute(
            sessions.update()
            .where(sessions.c.id.in_(extra))
            .values(status="abandoned", finished_at=now)
        )


def _store_existing_rolls(bind: sa.Connection, now: datetime) -> None:
    """The rolls made before this revision: every draft's ability scores, and the hit dice of
    committed (then open) level-ups, one per character and level."""
    from hero_foundry.srd import get_catalogue

    new = []
    for draft_id, user_id, state, character_id in bind.execute(
        sa.select(drafts.c.id, drafts.c.user_id, drafts.c.state, drafts.c.character_id)
    ):
        dice = (state or {}).get("rolled")
        if dice:
            new.append(
                {
                    "user_id": user_id,
                    "kind": "ability_scores",
                    "draft_id": draft_id,
                    "character_id": character_id,
                    "level": 1 if character_id else None,
                    "die": 6,
                    "dice": dice,
                }
            )
    classes = get_catalogue().tables["classes"]
    seen: set[tuple[uuid.UUID, int]] = set()
    for character_id, user_id, state in bind.execute(
        sa.select(sessions.c.character_id, sessions.c.user_id, sessions.c.state)
        .where(sessions.c.status.in_(("committed", "open")))
        .order_by(sessions.c.status)  # "committed" before "open"
    ):
        state = state or {}
        level = int(state.get("from_level") or 0) + 1
        value = state.get("hp_roll")
        klass = classes.get(state.get("class_index") or "")
        if value is None or klass is None or (character_id, level) in seen:
            continue
        seen.add((character_id, level))
        new.append(
            {
                "user_id": user_id,
                "kind": "hit_points",
                "draft_id": None,
                "character_id": character_id,
                "level": level,
                "die": klass["hit_die"],
                "dice": [value],
            }
        )
    if new:
        bind.execute(rolls.insert(), [{"id": uuid.uuid4(), "created_at": now, **r} for r in new])


def downgrade() -> None:
    op.drop_index("uq_level_up_sessions_open", table_name="level_up_sessions")
    for table in VERSIONED:
        op.drop_column(table, "revision")
    op.drop_table("dice_rolls")
