"""The outbox index holds only the outbox: pending versions by clock stamp.

Indexed on (pending, hlc), every version the phone holds had an entry, so each received version
paid an index insert that no query used (a fifth of storing a pulled page). A partial index on
``hlc`` where ``pending IS 1`` is what the outbox queries read (the same expression, so SQLite can
use it), and received versions skip it.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_local_version_outbox", table_name="local_version")
    op.create_index("ix_local_version_outbox", "local_version", ["hlc"], sqlite_where=sa.text("pending IS 1"))


def downgrade() -> None:
    op.drop_index("ix_local_version_outbox", table_name="local_version")
    op.create_index("ix_local_version_outbox", "local_version", ["pending", "hlc"])
