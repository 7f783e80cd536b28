"""``database_query_duration_seconds{operation}`` from SQLAlchemy's cursor events."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from hero_foundry.observability.metrics import DATABASE_QUERY_DURATION, DB_OPERATIONS

_KEY = "hero_foundry_query_start"


def operation(statement: str) -> str:
    word = statement.lstrip(" (\n\t").split(None, 1)[0].lower() if statement.strip() else ""
    return word if word in DB_OPERATIONS else "other"


def instrument(engine: AsyncEngine) -> None:
    """Time every statement the engine runs (idempotent per engine)."""
    sync = engine.sync_engine
    if event.contains(sync, "before_cursor_execute", _before):
        return
    event.listen(sync, "before_cursor_execute", _before)
    event.listen(sync, "after_cursor_execute", _after)
    event.listen(sync, "handle_error", _error)


def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    conn.info.setdefault(_KEY, []).append(time.perf_counter())


def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    starts = conn.info.get(_KEY)
    if starts:
        DATABASE_QUERY_DURATION.labels(operation(statement)).observe(
            time.perf_counter() - starts.pop()
        )


def _error(context: Any) -> None:
    starts = context.connection.info.get(_KEY) if context.connection is not None else None
    if starts:
        DATABASE_QUERY_DURATION.labels(operation(context.statement or "")).observe(
            time.perf_counter() - starts.pop()
        )
