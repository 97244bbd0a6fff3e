"""Reading many versions at once, for screens that count over the whole caseload (the outcomes
report, Today).

Loading ``LocalVersion`` ORM objects costs about 60 µs a row on a phone-class CPU (SQLModel sets up
pydantic's private attributes for each, and the ``settles`` JSON column is parsed for every row):
for 500 people with 20,000 contacts that alone is well over a second. ``read_versions`` selects the
same columns as plain tuples into ``VersionRow`` objects that carry every attribute the readers use
(``decrypt_version``, ``stamp_of``, ``counts_in_merge``), and parses ``settles`` only for the rows
that have any. The rows are read only, never added to a session.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlmodel import Session

from outreach_app.storage.tables import LocalVersion

__all__ = ["VersionRow", "read_versions"]


@dataclass(slots=True)
class VersionRow:
    """The columns of one ``LocalVersion``, read only."""

    change_id: str
    record_id: str
    case_id: str | None
    kind: str
    field: str
    tier: str
    key_id: str
    hlc: str
    base_hlc: str | None
    author_device_id: str
    author_user_id: str | None
    nonce: str
    ciphertext: str
    tag: str
    amends: str | None
    pending: bool
    acknowledged: bool
    settles: list[str] = field(default_factory=list)

    def as_version(self) -> LocalVersion:
        """This row where a function asks for a ``LocalVersion`` to read (it has every attribute
        those functions read; it is never written back)."""
        return cast(LocalVersion, self)


_COLUMNS = (
    "change_id",
    "record_id",
    "case_id",
    "kind",
    "field",
    "tier",
    "key_id",
    "hlc",
    "base_hlc",
    "author_device_id",
    "author_user_id",
    "nonce",
    "ciphertext",
    "tag",
    "amends",
    "pending",
    "acknowledged",
)


def read_versions(
    session: Session, kinds: Sequence[str], case_ids: Collection[str] | None = None
) -> list[LocalVersion]:
    """Every version of these kinds this device holds (of these cases only, when given), as read-only rows."""
    if not kinds or (case_ids is not None and not case_ids):
        return []
    if case_ids is None:
        return _read(session, kinds, ())
    chosen = sorted(case_ids)
    rows: list[LocalVersion] = []
    for start in range(0, len(chosen), _CASES_AT_ONCE):
        rows.extend(_read(session, kinds, chosen[start : start + _CASES_AT_ONCE]))
    return rows


_CASES_AT_ONCE = 500  # well under SQLite's limit on bound parameters


def _read(session: Session, kinds: Sequence[str], case_ids: Sequence[str]) -> list[LocalVersion]:
    marks = ", ".join("?" for _ in kinds)
    where = f"kind IN ({marks})"
    if case_ids:
        where += f" AND case_id IN ({', '.join('?' for _ in case_ids)})"
    # Column names are this module's constants; kinds and case ids are bound parameters.
    statement = f"SELECT {', '.join(_COLUMNS)}, settles FROM local_version WHERE {where}"  # noqa: S608
    rows: list[LocalVersion] = []
    for values in session.connection().exec_driver_sql(statement, (*kinds, *case_ids)).fetchall():
        *plain, pending, acknowledged, settles = values
        row = VersionRow(*plain, bool(pending), bool(acknowledged))
        if settles and settles != "[]":
            row.settles = [str(item) for item in json.loads(settles)]
        rows.append(row.as_version())
    return rows
