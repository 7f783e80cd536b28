"""Alembic environment: migrations run on the connection handed over by storage.migrate."""

from __future__ import annotations

from alembic import context

from hero_foundry.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guard against running the alembic CLI directly
    raise SystemExit("run migrations with `hero-foundry db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
