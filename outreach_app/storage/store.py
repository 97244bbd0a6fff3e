"""``LocalStore``: the device's SQLite database (WAL, ``synchronous=FULL``), migrated on open.

Every write happens in one ``BEGIN IMMEDIATE`` transaction (``with store.write() as session``),
so a crash leaves either all of a change or none of it, and two threads never interleave a
read-modify-write of the clock or the cursor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session, select

from outreach_app.storage.tables import DeviceState

__all__ = ["LocalStore", "StateKey"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_BEGIN_OPTION = "gatepost_begin"


class StateKey(StrEnum):
    """Entries of ``device_state``. None of them holds anything about a person."""

    SERVER_URL = "server_url"
    DEVICE_ID = "device_id"
    DEVICE_NAME = "device_name"
    USER_ID = "user_id"
    EMAIL = "email"
    DISPLAY_NAME = "display_name"
    ROLE = "role"
    ORG_ID = "org_id"
    ORG_NAME = "org_name"
    ORG_PUBLIC_KEY = "org_public_key"
    ORG_KEY_VERSION = "org_key_version"
    # Organisation key setup waiting to reach the server (JSON of OrganisationKeySetup).
    PENDING_ORG_SETUP = "pending_org_setup"
    PUBLIC_KEY = "public_key"
    WRAPPED_PRIVATE_KEY = "wrapped_private_key"  # as the server keeps it: under the password's wrap key
    KDF = "kdf"  # the account's KdfParams as JSON
    # Session: the refresh token encrypted under the device key (JSON {nonce, ct}).
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a key name)
    # The device key wrapped under scrypt(PIN); the envelope records the scrypt parameters and salt.
    WRAPPED_DEVICE_KEY = "wrapped_device_key"
    FAILED_PIN_ATTEMPTS = "failed_pin_attempts"
    DEVICE_KEY_DESTROYED = "device_key_destroyed"
    PULL_CURSOR = "pull_cursor"
    HLC_WALL = "hlc_wall"
    HLC_COUNTER = "hlc_counter"
    CLOCK_OFFSET_MS = "clock_offset_ms"  # server time minus this phone's time, learned at sync
    LAST_SYNCED_AT_MS = "last_synced_at_ms"
    SYNC_OFFLINE = "sync_offline"
    SYNC_LAST_ERROR = "sync_last_error"


class LocalStore:
    """One device's database. Open with ``LocalStore.open(path)``; close when done."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self._engine = engine
        self._writer = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path) -> LocalStore:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})
        _configure(engine)
        store = cls(path, engine)
        store.migrate()
        return store

    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._lock, self._writer.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._lock, Session(self._writer, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot."""
        # Closing (not rolling back) ends the transaction and keeps loaded objects usable.
        with Session(self._engine, expire_on_commit=False) as session:
            yield session

    # --- device_state ----------------------------------------------------------------------------

    @staticmethod
    def state_of(session: Session) -> dict[str, str]:
        return {row.key: row.value for row in session.exec(select(DeviceState))}

    @staticmethod
    def get(session: Session, key: StateKey) -> str | None:
        row = session.get(DeviceState, key.value)
        return None if row is None else row.value

    @staticmethod
    def put(session: Session, values: Mapping[StateKey, str | int | None]) -> None:
        """Set entries; ``None`` removes one."""
        for key, value in values.items():
            row = session.get(DeviceState, key.value)
            if value is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(DeviceState(key=key.value, value=str(value)))
            else:
                row.value = str(value)
                session.add(row)
        session.flush()

    def state(self) -> dict[str, str]:
        with self.read() as session:
            return self.state_of(session)


def _configure(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
