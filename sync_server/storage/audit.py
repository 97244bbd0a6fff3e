"""Queries on the audit log: the chain head (locked to append), entries, and reading them back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from sync_server.storage.tables import SERVER_METADATA, AuditEntryRow, AuditHeadRow

__all__ = ["GENESIS_HASH", "add_entry", "chain_names", "chains", "entries", "entries_before", "lock_head"]

GENESIS_HASH = "0" * 64


_HEAD: Table = SERVER_METADATA.tables[AuditHeadRow.__tablename__]
_ENTRY: Table = SERVER_METADATA.tables[AuditEntryRow.__tablename__]
_READ_HEAD = select(_HEAD.c.position, _HEAD.c.entry_hash).where(_HEAD.c.chain == bindparam("chain")).with_for_update()
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.chain == bindparam("head_chain"))
    .values(position=bindparam("head_position"), entry_hash=bindparam("head_hash"))
)


def lock_head(session: Session, chain: str) -> tuple[int, str]:
    """The position and hash of the chain's newest entry, locked until commit (``FOR UPDATE``;
    SQLite holds the write lock already). A chain's first entry creates its head."""
    connection = session.connection()
    row = connection.execute(_READ_HEAD, {"chain": chain}).first()
    if row is None:
        insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            insert(_HEAD)
            .values(chain=chain, position=0, entry_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["chain"])
        )
        row = connection.execute(_READ_HEAD, {"chain": chain}).one()
    return int(row.position), str(row.entry_hash)


def add_entry(session: Session, entry: Mapping[str, object]) -> None:
    """Append ``entry`` (the audit entry's columns) and move its chain's head to it. Two statements
    on the connection: the ORM's unit of work cost more than both, on every push and pull."""
    connection = session.connection()
    connection.execute(_ENTRY.insert(), dict(entry))
    connection.execute(
        _MOVE_HEAD,
        {"head_chain": entry["chain"], "head_position": entry["position"], "head_hash": entry["entry_hash"]},
    )


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
