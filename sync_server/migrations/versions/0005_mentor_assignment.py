"""Peer mentor assignments: which mentor may receive the basic tier of which case, and when.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignment",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("mentor_user_id", sa.String(36), nullable=False),
        sa.Column("assigned_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("assigned_by", sa.String(36), nullable=False),
        sa.Column("assigned_seq", sa.BigInteger(), nullable=False),
        sa.Column("unassigned_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("unassigned_by", sa.String(36), nullable=True),
        sa.Column("unassigned_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_assignment_org_id_organisation"),
        sa.ForeignKeyConstraint(["mentor_user_id"], ["user.id"], name="fk_assignment_mentor_user_id_user"),
        sa.ForeignKeyConstraint(["assigned_by"], ["user.id"], name="fk_assignment_assigned_by_user"),
        sa.ForeignKeyConstraint(["unassigned_by"], ["user.id"], name="fk_assignment_unassigned_by_user"),
        sa.PrimaryKeyConstraint("id", name="pk_assignment"),
    )
    op.create_index("ix_assignment_mentor_user_id_case_id", "assignment", ["mentor_user_id", "case_id"])
    op.create_index("ix_assignment_case_id", "assignment", ["case_id"])


def downgrade() -> None:
    op.drop_table("assignment")
