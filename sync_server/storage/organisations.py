"""Queries on organisations, and the row lock that orders sequence numbers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, bindparam, exists
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from sync_server.storage.database import begin_write
from sync_server.storage.tables import OrganisationRow, ShareRow

__all__ = [
    "add_organisation",
    "get_organisation",
    "get_organisation_by_name",
    "lock_organisation",
    "organisation_ids",
    "sequence_state",
]


def get_organisation(session: Session, org_id: str) -> OrganisationRow | None:
    return session.get(OrganisationRow, org_id)


_SEQUENCE_STATE: Select[*tuple[Any, ...]] = sa_select(
    col(OrganisationRow.id),
    col(OrganisationRow.last_seq),
    col(OrganisationRow.key_version),
    exists().where(col(ShareRow.org_id) == col(OrganisationRow.id)).label("made_shares"),
    exists().where(col(ShareRow.partner_org_id) == col(OrganisationRow.id)).label("shared_with"),
).where(col(OrganisationRow.id) == bindparam("org_id"))


def sequence_state(session: Session, org_id: str) -> Row[*tuple[Any, ...]] | None:
    """``id``, ``last_seq`` (the last committed seq) and ``key_version`` of an organisation, and
    whether it ever made a share (``made_shares``) or was shared with (``shared_with``), as plain
    columns in one query (a pull reads nothing else of it); None when it does not exist."""
    return session.connection().execute(_SEQUENCE_STATE, {"org_id": org_id}).first()


def get_organisation_by_name(session: Session, name: str) -> OrganisationRow | None:
    return session.exec(select(OrganisationRow).where(OrganisationRow.name == name)).first()


def organisation_ids(session: Session) -> list[str]:
    return sorted(session.exec(select(OrganisationRow.id)).all())


def add_organisation(session: Session, row: OrganisationRow) -> OrganisationRow:
    session.add(row)
    session.flush()
    return row


def lock_organisation(session: Session, org_id: str) -> OrganisationRow | None:
    """Start a write transaction holding the organisation's sequence lock until commit.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the organisation row. SQLite: the transaction is
    ``BEGIN IMMEDIATE`` (the whole database's write lock). Either way, two transactions that hand
    out sequence numbers in one organisation run one after the other, so sequence numbers become
    visible in commit order and a pull cursor never skips a change.
    """
    begin_write(session)
    statement = (
        select(OrganisationRow)
        .where(OrganisationRow.id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).first()
