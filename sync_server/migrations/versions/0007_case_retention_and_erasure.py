"""Closing cases, retention and erasure: each organisation's retention period, and a row per case
that records when it was closed and, once erased, the tombstone devices purge it by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Six years (see shared.protocol.DEFAULT_RETENTION_DAYS); existing organisations get it too.
_DEFAULT_RETENTION_DAYS = "2192"


def upgrade() -> None:
    with op.batch_alter_table("organisation") as batch:
        batch.add_column(
            sa.Column("retention_days", sa.Integer(), nullable=False, server_default=_DEFAULT_RETENTION_DAYS)
        )
    op.create_table(
        "case_state",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("closed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(36), nullable=True),
        sa.Column("erased_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("erased_by", sa.String(36), nullable=True),
        sa.Column("erased_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_case_state_org_id_organisation"),
        sa.ForeignKeyConstraint(["closed_by"], ["user.id"], name="fk_case_state_closed_by_user"),
        sa.ForeignKeyConstraint(["erased_by"], ["user.id"], name="fk_case_state_erased_by_user"),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_state"),
    )
    op.create_index("ix_case_state_org_id_erased_seq", "case_state", ["org_id", "erased_seq"])
    op.create_index("ix_case_state_closed_at_ms", "case_state", ["closed_at_ms"])


def downgrade() -> None:
    op.drop_table("case_state")
    with op.batch_alter_table("organisation") as batch:
        batch.drop_column("retention_days")
