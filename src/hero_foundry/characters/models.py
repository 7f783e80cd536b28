from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hero_foundry.dice.models import DiceRoll
from hero_foundry.storage.base import Base, JSONDoc, UTCDateTime, utcnow


class CharacterDraft(Base):
    """A creation wizard in progress: what the player chose so far (a CreationState)."""

    __tablename__ = "character_drafts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    character_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("characters.id", ondelete="SET NULL"), nullable=True
    )
    #: Every ORM update is conditional on it (storage/concurrency.py).
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": revision}


class Character(Base):
    """A finalized character. ``build`` is the creation state its derived numbers come from."""

    __tablename__ = "characters"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer, default=1)
    build: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    inventory: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    currency: Mapped[dict[str, int]] = mapped_column(JSONDoc, default=dict)
    notes: Mapped[str] = mapped_column(String(10_000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Every ORM update is conditional on it (storage/concurrency.py).
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: The dice the server rolled for it (or verified on import), loaded with the character.
    rolls: Mapped[list[DiceRoll]] = relationship(
        DiceRoll,
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=(DiceRoll.kind, DiceRoll.level),
    )

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": revision}
