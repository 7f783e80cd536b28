"""Persistence: SQLAlchemy 2 (async) engine and sessions, Alembic migrations."""
