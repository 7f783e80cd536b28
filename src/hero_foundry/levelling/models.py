from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from hero_foundry.storage.base import Base, JSONDoc, UTCDateTime, utcnow

OPEN, COMMITTED, ABANDONED = "open", "committed", "abandoned"


class LevelUpSession(Base):
    """One level being gained: the choices so far (a LevelUpState), when it started and ended."""

    __tablename__ = "level_up_sessions"
    #: One open level-up per character, whatever the timing of concurrent starts.
    __table_args__ = (
        Index(
            "uq_level_up_sessions_open",
            "character_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    character_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    state: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Every ORM update is conditional on it (storage/concurrency.py).
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": revision}
