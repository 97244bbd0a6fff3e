"""The outbox in push order: pending versions by clock stamp, read by an index instead of a sort.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_local_version_pending", table_name="local_version")
    op.create_index("ix_local_version_outbox", "local_version", ["pending", "hlc"])


def downgrade() -> None:
    op.drop_index("ix_local_version_outbox", table_name="local_version")
    op.create_index("ix_local_version_pending", "local_version", ["pending"])
