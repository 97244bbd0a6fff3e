"""Coordinator-led password reset: reset codes and when a member's keys were last replaced.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitation") as batch:
        batch.add_column(sa.Column("reset_user_id", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_invitation_reset_user_id_user", "user", ["reset_user_id"], ["id"])
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("keys_reset_at_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("keys_reset_at_ms")
    with op.batch_alter_table("invitation") as batch:
        batch.drop_constraint("fk_invitation_reset_user_id_user", type_="foreignkey")
        batch.drop_column("reset_user_id")
