"""Queries on the audit log: the chain head (locked to append), entries, and reading them back."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from sync_server.storage.tables import AuditEntryRow, AuditHeadRow

__all__ = ["GENESIS_HASH", "add_entry", "chain_names", "chains", "entries", "entries_before", "lock_head"]

GENESIS_HASH = "0" * 64


def lock_head(session: Session, chain: str) -> AuditHeadRow:
    """The chain's head, locked until commit (``FOR UPDATE``; SQLite holds the write lock already)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(AuditHeadRow)
        .values(chain=chain, position=0, entry_hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    statement = (
        select(AuditHeadRow)
        .where(AuditHeadRow.chain == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).one()


def add_entry(session: Session, head: AuditHeadRow, entry: AuditEntryRow) -> None:
    head.position, head.entry_hash = entry.position, entry.entry_hash
    session.add(entry)
    session.add(head)
    session.flush()


def entries_before(session: Session, chain: str, before: int | None, limit: int) -> list[AuditEntryRow]:
    """Up to ``limit`` entries of ``chain`` with position below ``before`` (newest first)."""
    statement = select(AuditEntryRow).where(AuditEntryRow.chain == chain)
    if before is not None:
        statement = statement.where(AuditEntryRow.position < before)
    return list(session.exec(statement.order_by(col(AuditEntryRow.position).desc()).limit(limit)).all())


def chains(session: Session) -> list[AuditHeadRow]:
    return list(session.exec(select(AuditHeadRow).order_by(col(AuditHeadRow.chain))).all())


def chain_names(session: Session) -> list[str]:
    """Every chain that has entries (a chain whose head row was deleted still shows here)."""
    return list(session.exec(select(AuditEntryRow.chain).distinct()).all())


def entries(session: Session, chain: str, batch: int = 1000) -> Iterator[AuditEntryRow]:
    """Every entry of ``chain`` in position order, read in batches."""
    after = -1
    while True:
        rows = list(
            session.exec(
                select(AuditEntryRow)
                .where(AuditEntryRow.chain == chain, AuditEntryRow.position > after)
                .order_by(col(AuditEntryRow.position))
                .limit(batch)
            ).all()
        )
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].position
