"""``dice_rolls``: every roll the server made (or verified on import), one per subject.

A roll belongs to a draft (the ability scores, 4d6 six times) or to a character and the level it
is for (that level's hit die); a finalized draft's roll becomes its character's level-1 roll.
Partial unique indexes make "once" a property of the database, not of the code: a second insert
for the same draft, or the same character, kind and level, conflicts, whatever the timing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from hero_foundry.storage.base import Base, JSONDoc, UTCDateTime, utcnow

ABILITY_SCORES, HIT_POINTS = "ability_scores", "hit_points"
KINDS = (ABILITY_SCORES, HIT_POINTS)
DRAFT_PRESENT = text("draft_id IS NOT NULL")
CHARACTER_PRESENT = text("character_id IS NOT NULL")


class DiceRoll(Base):
    """One roll: who it is for, which die, and the dice as rolled."""

    __tablename__ = "dice_rolls"
    __table_args__ = (
        Index(
            "uq_dice_rolls_draft",
            "draft_id",
            unique=True,
            sqlite_where=DRAFT_PRESENT,
            postgresql_where=DRAFT_PRESENT,
        ),
        Index(
            "uq_dice_rolls_character_level",
            "character_id",
            "kind",
            "level",
            unique=True,
            sqlite_where=CHARACTER_PRESENT,
            postgresql_where=CHARACTER_PRESENT,
        ),
        CheckConstraint("draft_id IS NOT NULL OR character_id IS NOT NULL", name="subject"),
        CheckConstraint("kind IN ('ability_scores', 'hit_points')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    draft_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("character_drafts.id", ondelete="CASCADE"), nullable=True
    )
    character_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("characters.id", ondelete="CASCADE"), nullable=True
    )
    #: The character level the roll is for: 1 for ability scores, 2-20 for a hit die.
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    die: Mapped[int] = mapped_column(Integer)
    #: Ability scores: six lists of four d6; hit points: one die, ``[n]``.
    dice: Mapped[Any] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
