"""Engine construction, Alembic migration, and the write lock that orders sequence numbers.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``, foreign keys on and a 10 s busy
timeout. SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN`` so that a transaction can be
opened ``IMMEDIATE`` when it is going to write sequence numbers (see ``begin_write``); on
PostgreSQL the same job is done by ``SELECT ... FOR UPDATE`` on the organisation row.

Within one server process, SQLite writers also queue on a lock of the engine before ``BEGIN
IMMEDIATE``: SQLite's own busy handler makes a waiting writer sleep and retry (up to 100 ms a
time), which under many concurrent pushes costs far more than the writes. The busy timeout still
applies between processes.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "begin_write",
    "is_sqlite",
    "make_engine",
    "migrate",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_BEGIN_OPTION = "gatepost_sqlite_begin"
_MIGRATION_LOCK_ID = 0x6761746570  # "gatep": serialises concurrent migrations on PostgreSQL
_WRITE_LOCK = "gatepost_write_lock"
_WRITE_LOCK_TIMEOUT_S = 10.0  # then BEGIN IMMEDIATE meets SQLite's busy timeout, as before
# Enough connections that requests waiting for the write lock do not hold up the reads.
_SQLITE_POOL_SIZE = 20
_SQLITE_MAX_OVERFLOW = 40
_write_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_write_locks_guard = threading.Lock()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """A synchronous engine for ``url``; creates the directory of a SQLite file if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 10},
        pool_size=_SQLITE_POOL_SIZE,
        max_overflow=_SQLITE_MAX_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see ``_on_begin``) instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

    return engine


def begin_write(session: Session) -> None:
    """Start a fresh transaction on ``session`` that will write sequence numbers.

    Whatever the session read so far is committed (it holds no pending writes at this point). On
    SQLite the new transaction is ``BEGIN IMMEDIATE``, taking the database write lock at once so
    two pushes cannot interleave; on PostgreSQL the caller then locks the organisation row.
    """
    if session.in_transaction():
        session.commit()
    bind = session.get_bind()
    lock = _write_lock(bind) if isinstance(bind, Engine) and is_sqlite(bind) else None
    if lock is not None and lock.acquire(timeout=_WRITE_LOCK_TIMEOUT_S):
        session.info[_WRITE_LOCK] = lock  # released when this transaction ends (below)
    try:
        session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
    except BaseException:
        _release_write_lock(session)
        raise


def _write_lock(engine: Engine) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(engine, threading.Lock())


def _release_write_lock(session: Session) -> None:
    lock = session.info.pop(_WRITE_LOCK, None)
    if lock is not None:
        lock.release()


@event.listens_for(Session, "after_transaction_end")
def _on_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        _release_write_lock(session)


def alembic_config(url: str) -> Config:
    """A programmatic Alembic configuration (no ini file needed, works from an installed wheel)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, *, engine: Engine | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``)."""
    config = alembic_config(url)
    owned = engine is None
    engine = engine if engine is not None else make_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Several server processes may start at once against one database.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    finally:
        if owned:
            engine.dispose()
