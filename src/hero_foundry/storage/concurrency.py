"""Writes that must not overwrite what another request changed meanwhile.

Drafts, characters and level-up sessions carry a ``revision`` (SQLAlchemy's version counter):
every ORM update and delete of such a row is ``UPDATE ... WHERE id = :id AND revision = :seen``,
and a rowcount of 0 (someone else wrote first) raises ``StaleDataError``. :func:`flush` turns
that into a 409 problem at the step that lost, instead of a 500 at commit time. On PostgreSQL
the rows are also locked (``SELECT ... FOR UPDATE``) when a request loads them to change them,
so there the requests wait for each other and the check never fails; SQLite has no row locks,
and the revision check is what serializes the writers.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hero_foundry.problems import ProblemError

CHANGED_MEANWHILE = "It was changed by another request meanwhile: reload it and try again."


async def flush(db: AsyncSession, detail: str = CHANGED_MEANWHILE) -> None:
    """Write pending changes now; a lost revision check is a 409 problem."""
    try:
        await db.flush()
    except StaleDataError:
        raise ProblemError(409, detail) from None
