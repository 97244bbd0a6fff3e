"""Consent-driven shares: which partner organisation may receive which tiers of which case, until when.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("partner_org_id", sa.String(36), nullable=False),
        sa.Column("tiers", sa.String(20), nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("starts_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("withdrawn_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("withdrawn_by", sa.String(36), nullable=True),
        sa.Column("withdrawn_seq", sa.BigInteger(), nullable=True),
        sa.Column("withdrawal_record_id", sa.String(36), nullable=True),
        sa.Column("rotation_claimed_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("rotation_claimed_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_share_org_id_organisation"),
        sa.ForeignKeyConstraint(["partner_org_id"], ["organisation.id"], name="fk_share_partner_org_id_organisation"),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name="fk_share_created_by_user"),
        sa.ForeignKeyConstraint(["withdrawn_by"], ["user.id"], name="fk_share_withdrawn_by_user"),
        sa.ForeignKeyConstraint(["rotation_claimed_by"], ["device.id"], name="fk_share_rotation_claimed_by_device"),
        sa.PrimaryKeyConstraint("id", name="pk_share"),
    )
    op.create_index("ix_share_partner_org_id_org_id", "share", ["partner_org_id", "org_id"])
    op.create_index("ix_share_case_id", "share", ["case_id"])


def downgrade() -> None:
    op.drop_table("share")
