"""An index on the owning organisation of a share, so that a pull can tell cheaply whether the
caller's organisation shares anything (or is shared with), and skip the sharing pull when not.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_share_org_id", "share", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_share_org_id", table_name="share")
