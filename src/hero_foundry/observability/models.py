from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from hero_foundry.storage.base import Base


class UserActivity(Base):
    """Last request time of a user or a login (``kind``), for the active-users gauges."""

    __tablename__ = "user_activity"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Unix time of the last recorded request.
    seen_at: Mapped[float] = mapped_column(Float, index=True)
