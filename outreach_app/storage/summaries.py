"""Case summaries on the device: reading them with the change counts they depend on, and keeping new ones.

A summary is what ``outreach_app.services.facts`` worked out from one case's versions, encrypted
under the device key (the caller encrypts; this module only stores). It is current while the case's
change count (kept by triggers on ``local_version``, see migration 0002) is the one it was worked
out at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from outreach_app.storage.tables import CaseSummary, LocalVersion

__all__ = ["case_changes", "case_summaries", "keep_case_summaries", "latest_by_author"]


def case_changes(session: Session) -> dict[str, int]:
    """case id -> how many times its versions changed on this device."""
    rows = session.connection().exec_driver_sql("SELECT case_id, changes FROM case_change").fetchall()
    return {str(case_id): int(changes) for case_id, changes in rows}


def case_summaries(session: Session) -> dict[str, CaseSummary]:
    return {row.case_id: row for row in session.exec(select(CaseSummary))}


def keep_case_summaries(session: Session, summaries: Sequence[CaseSummary]) -> int:
    """Store the summaries whose case has not changed since they were worked out; returns how many."""
    if not summaries:
        return 0
    now = case_changes(session)
    kept = 0
    for summary in summaries:
        if now.get(summary.case_id) == summary.changes:
            session.merge(summary)
            kept += 1
    return kept


def latest_by_author(session: Session, kinds: Iterable[str]) -> list[LocalVersion]:
    """For each user who wrote versions of ``kinds``, their latest one (by clock stamp)."""
    kinds = list(kinds)
    if not kinds:
        return []
    marks = ", ".join("?" for _ in kinds)
    # SQLite gives the other columns of an aggregate query with max() from the row holding the maximum.
    statement = (
        "SELECT change_id, max(hlc) FROM local_version "  # noqa: S608 (only placeholders are interpolated)
        f"WHERE kind IN ({marks}) AND author_user_id IS NOT NULL GROUP BY author_user_id"
    )
    change_ids = [row[0] for row in session.connection().exec_driver_sql(statement, tuple(kinds)).fetchall()]
    if not change_ids:
        return []
    return list(session.exec(select(LocalVersion).where(col(LocalVersion.change_id).in_(change_ids))).all())
