"""Case change counts (kept by triggers) and the encrypted case summaries they keep current.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# A version of a case inserted, updated or deleted counts as a change of the case; a deleted one
# also takes the case's summary with it (an erased case must leave nothing readable behind).
_TRIGGERS = {
    "local_version_inserted": """AFTER INSERT ON local_version WHEN NEW.case_id IS NOT NULL BEGIN
        INSERT OR IGNORE INTO case_change (case_id, changes) VALUES (NEW.case_id, 0);
        UPDATE case_change SET changes = changes + 1 WHERE case_id = NEW.case_id;
    END""",
    "local_version_updated": """AFTER UPDATE ON local_version WHEN NEW.case_id IS NOT NULL BEGIN
        INSERT OR IGNORE INTO case_change (case_id, changes) VALUES (NEW.case_id, 0);
        UPDATE case_change SET changes = changes + 1 WHERE case_id = NEW.case_id;
    END""",
    "local_version_deleted": """AFTER DELETE ON local_version WHEN OLD.case_id IS NOT NULL BEGIN
        INSERT OR IGNORE INTO case_change (case_id, changes) VALUES (OLD.case_id, 0);
        UPDATE case_change SET changes = changes + 1 WHERE case_id = OLD.case_id;
        DELETE FROM case_summary WHERE case_id = OLD.case_id;
    END""",
}


def upgrade() -> None:
    op.create_table(
        "case_change",
        sa.Column("case_id", sa.String(), primary_key=True),
        sa.Column("changes", sa.Integer(), nullable=False),
    )
    op.create_table(
        "case_summary",
        sa.Column("case_id", sa.String(), primary_key=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("keys", sa.String(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("ciphertext", sa.String(), nullable=False),
    )
    # Cases already on the phone count from here.
    op.execute(
        "INSERT INTO case_change (case_id, changes) "
        "SELECT DISTINCT case_id, 0 FROM local_version WHERE case_id IS NOT NULL"
    )
    for name, body in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.drop_table("case_summary")
    op.drop_table("case_change")
