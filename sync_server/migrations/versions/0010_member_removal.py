"""A coordinator can remove a member from the organisation: when, and who did.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("removed_at_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("removed_by", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("removed_by")
        batch.drop_column("removed_at_ms")
