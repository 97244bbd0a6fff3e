"""The first device schema: versions, key grants, rejections, keyring and device state.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "local_version",
        sa.Column("change_id", sa.String(), primary_key=True),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("hlc", sa.String(), nullable=False),
        sa.Column("base_hlc", sa.String(), nullable=True),
        sa.Column("author_device_id", sa.String(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("ciphertext", sa.String(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("amends", sa.String(), nullable=True),
        sa.Column("settles", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.String(), nullable=True),
        sa.Column("author_user_id", sa.String(), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_local_version_case", "local_version", ["case_id", "kind"])
    op.create_index("ix_local_version_field", "local_version", ["record_id", "field", "hlc"])
    op.create_index("ix_local_version_pending", "local_version", ["pending"])

    op.create_table(
        "key_grant",
        sa.Column("grant_id", sa.String(), primary_key=True),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=True),
        sa.Column("recipient_kind", sa.String(), nullable=False),
        sa.Column("recipient_id", sa.String(), nullable=False),
        sa.Column("wrapped_with", sa.String(), nullable=False),
        sa.Column("wrapped", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.String(), nullable=True),
        sa.Column("created_by_user_id", sa.String(), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_key_grant_key", "key_grant", ["key_id"])
    op.create_index("ix_key_grant_pending", "key_grant", ["pending"])

    op.create_table(
        "push_rejection",
        sa.Column("item_id", sa.String(), primary_key=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("at_ms", sa.Integer(), nullable=False),
    )
    op.create_table(
        "keyring",
        sa.Column("key_id", sa.String(), primary_key=True),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("ciphertext", sa.String(), nullable=False),
    )
    op.create_table(
        "device_state",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
    )


def downgrade() -> None:
    for table in ("device_state", "keyring", "push_rejection", "key_grant", "local_version"):
        op.drop_table(table)
