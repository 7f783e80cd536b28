"""User activity (for the active users and sessions gauges).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_activity",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_user_activity"),
    )
    op.create_index("ix_user_activity_seen_at", "user_activity", ["seen_at"])


def downgrade() -> None:
    op.drop_table("user_activity")
