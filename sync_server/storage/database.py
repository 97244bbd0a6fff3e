"""Engine construction, Alembic migration, and the write lock that orders sequence numbers.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``, foreign keys on and a 10 s busy
timeout. SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN`` so that a transaction can be
opened ``IMMEDIATE`` when it is going to write sequence numbers (see ``begin_write``); on
PostgreSQL the same job is done by ``SELECT ... FOR UPDATE`` on the organisation row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
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
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

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
    session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})


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
