"""A pulled page's versions are counted per case by the statement that stores them.

The insert trigger of 0002 ran two statements for every row; a pulled page of 500 versions spent
about a third of its insert there. It now counts only versions written on this device (pending):
received ones (the only versions inserted as not pending) are counted by
``outreach_app.storage.outbox.insert_received``, one count per case of the page.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COUNT = """
        INSERT OR IGNORE INTO case_change (case_id, changes) VALUES (NEW.case_id, 0);
        UPDATE case_change SET changes = changes + 1 WHERE case_id = NEW.case_id;
    END"""


def upgrade() -> None:
    op.execute("DROP TRIGGER local_version_inserted")
    op.execute(
        "CREATE TRIGGER local_version_inserted AFTER INSERT ON local_version "
        f"WHEN NEW.case_id IS NOT NULL AND NEW.pending BEGIN{_COUNT}"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER local_version_inserted")
    op.execute(
        "CREATE TRIGGER local_version_inserted AFTER INSERT ON local_version "
        f"WHEN NEW.case_id IS NOT NULL BEGIN{_COUNT}"
    )
