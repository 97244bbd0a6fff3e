"""``LocalStore``: the device's SQLite database (WAL, ``synchronous=FULL``), migrated on open.

Every write happens in one ``BEGIN IMMEDIATE`` transaction (``with store.write() as session``),
so a crash leaves either all of a change or none of it, and two threads never interleave a
read-modify-write of the clock or the cursor. Before each transaction commits, what it changed
in the outbox is appended to the ``OutboxJournal`` beside the database (``gatepost.outbox``).

Opening checks the database (SQLite header, ``PRAGMA quick_check``, migrations). A database that
fails, or that vanished while its journal remains, is moved aside (``<name>.corrupt-<UTC time>``)
and a fresh one is built holding the journal's unsent versions and grants and who the device
belongs to; ``StateKey.STORE_REBUILT`` says what happened until the user signs in again (the
keys were in the lost database), after which a sync pulls everything else from the server.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from outreach_app.storage.journal import JournalEntry, OutboxJournal
from outreach_app.storage.tables import DeviceState, KeyGrantRow, LocalVersion
from shared.clock import Hlc
from shared.protocol import ChangeIn, KeyGrantIn

__all__ = ["JOURNAL_SUFFIX", "LocalStore", "StateKey", "StoreRebuilt", "journal_path"]

JOURNAL_SUFFIX = ".outbox"
_SQLITE_HEADER = b"SQLite format 3\x00"
_CHANGE_FIELDS = set(ChangeIn.model_fields)
_GRANT_FIELDS = set(KeyGrantIn.model_fields)

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_BEGIN_OPTION = "gatepost_begin"


class StateKey(StrEnum):
    """Entries of ``device_state``. None of them holds anything about a person in the clear."""

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
    # The half-filled form (outreach_app.services.drafts), encrypted under the device key.
    DRAFT = "draft"
    SYNC_LAST_ERROR = "sync_last_error"
    # The database was damaged or missing and was rebuilt (JSON of StoreRebuilt); cleared at sign-in.
    STORE_REBUILT = "store_rebuilt"
    # What partner organisations share with ours: a pull cursor per owning organisation (JSON
    # {org id: seq}) and the active shares as last pulled (JSON list of ShareInfo: ids, names, dates).
    SHARED_CURSORS = "shared_cursors"
    SHARED_WITH_US = "shared_with_us"
    # Ids of people whose record a coordinator erased (JSON list): a record of who opened one of
    # them that arrives later is deleted on arrival. On a coordinator's phone, such records the
    # server still holds, waiting to be named to it (JSON {case id: [record ids]}).
    ERASED_CASES = "erased_cases"
    CASE_VIEWS_TO_ERASE = "case_views_to_erase"
    # A coordinator's unassignments whose key rotation is not done yet (JSON [[case id, mentor user
    # id], ...]): written before asking the server, so a lost answer still ends in a rotation.
    MENTOR_ROTATIONS_DUE = "mentor_rotations_due"


# Kept in the journal with the outbox: who the device belongs to (so a rebuilt database signs in as
# the same device), and a coordinator's organisation key setup not yet sent (case keys made
# meanwhile are wrapped under that key; the setup holds it sealed to the coordinator).
_IDENTITY_KEYS = (
    StateKey.SERVER_URL,
    StateKey.DEVICE_ID,
    StateKey.DEVICE_NAME,
    StateKey.USER_ID,
    StateKey.EMAIL,
    StateKey.DISPLAY_NAME,
    StateKey.ROLE,
    StateKey.ORG_ID,
    StateKey.ORG_NAME,
    StateKey.ORG_KEY_VERSION,
    StateKey.PENDING_ORG_SETUP,
)


@dataclass(frozen=True)
class StoreRebuilt:
    """What happened when the database could not be used."""

    reason: Literal["damaged", "missing"]
    kept: int  # unsent versions recovered from the journal
    moved_to: str | None  # file name the damaged database was moved to
    at_ms: int

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoreRebuilt:
        values = json.loads(text)
        return cls(
            reason=values["reason"], kept=int(values["kept"]), moved_to=values.get("moved_to"), at_ms=values["at_ms"]
        )


class _Damaged(Exception):
    pass


def journal_path(database: Path) -> Path:
    return database.with_name(database.stem + JOURNAL_SUFFIX)


_STATE_GET = "SELECT value FROM device_state WHERE key = ?"
_STATE_PUT = (
    "INSERT INTO device_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_STATE_DELETE = "DELETE FROM device_state WHERE key = ?"

_OUTBOX_CHANGES = "gatepost.outbox_changes"
_IDENTITY_WRITTEN = "gatepost.identity_written"


@dataclass
class _OutboxChanges:
    """Outbox rows a write transaction touched, collected at each flush."""

    touched: dict[str, LocalVersion | KeyGrantRow] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def collect(self, session: Session, _context: Any) -> None:
        for obj in (*session.new, *session.dirty):
            if isinstance(obj, LocalVersion):
                self.touched[obj.change_id] = obj
            elif isinstance(obj, KeyGrantRow):
                self.touched[obj.grant_id] = obj
        for obj in session.deleted:
            if isinstance(obj, LocalVersion):
                self.deleted.add(obj.change_id)
            elif isinstance(obj, KeyGrantRow):
                self.deleted.add(obj.grant_id)


class LocalStore:
    """One device's database. Open with ``LocalStore.open(path)``; close when done."""

    def __init__(self, path: Path, engine: Engine, journal: OutboxJournal) -> None:
        self.path = path
        self.journal = journal
        self._engine = engine
        self._writer = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self._lock = threading.RLock()
        # Counts committed writes, so what a screen worked out from the store can be kept until it changes.
        self.generation = 0

    @classmethod
    def open(cls, path: Path) -> LocalStore:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date.

        A damaged database, or one that vanished while its journal remains, is moved aside and
        rebuilt from the journal (see the module docstring); ``StateKey.STORE_REBUILT`` says so.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        journal = OutboxJournal(journal_path(path))
        has_data = path.exists() and path.stat().st_size > 0
        reason: Literal["damaged", "missing"] = "missing"
        if has_data or not journal.existed:  # no data and no journal: a new device
            try:
                store = cls._connect(path, journal, check=has_data)
            except (_Damaged, SQLAlchemyError, sqlite3.Error, CommandError):
                reason = "damaged"
            else:
                store.reconcile_journal()
                return store
        moved_to = _move_aside(path)
        store = cls._connect(path, journal, check=False)
        store._rebuild(reason, moved_to)
        return store

    @classmethod
    def _connect(cls, path: Path, journal: OutboxJournal, *, check: bool) -> LocalStore:
        if check:
            with path.open("rb") as file:
                if file.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                    raise _Damaged("not a SQLite database")
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})
        _configure(engine)
        store = cls(path, engine, journal)
        try:
            if check:
                with engine.connect() as connection:
                    result = [row[0] for row in connection.exec_driver_sql("PRAGMA quick_check")]
                if result != ["ok"]:
                    raise _Damaged("; ".join(str(line) for line in result[:3]))
            store.migrate()
            store.state()
        except BaseException:
            engine.dispose()
            raise
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
        """One write transaction: committed when the block ends, rolled back if it raises.

        What it changed in the outbox reaches the journal (fsynced) before the commit, so the
        journal never holds less than the committed outbox.
        """
        with self._lock, Session(self._writer, expire_on_commit=False) as session:
            changes = _OutboxChanges()
            session.info[_OUTBOX_CHANGES] = changes
            event.listen(session, "after_flush", changes.collect)
            try:
                yield session
                session.flush()
                self._journal_step(session, changes)
                session.commit()
            except BaseException:
                session.rollback()
                self.generation += 1  # a failed commit may still have changed something
                raise
            self.generation += 1

    @contextmanager
    def write_derived(self) -> Iterator[Session]:
        """A write transaction for what the app works out from the record (case summaries), never the
        record or the outbox: it is not counted in ``generation`` and has no journal step."""
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

    # --- the outbox journal --------------------------------------------------------------------

    def _journal_step(self, session: Session, changes: _OutboxChanges) -> None:
        puts: list[JournalEntry] = []
        drops = set(changes.deleted)
        for item_id, row in changes.touched.items():
            if item_id in changes.deleted:
                continue
            if row.pending:
                puts.append(_journal_entry(row))
            else:
                drops.add(item_id)
        # Who the device belongs to is read again only when this write set some of it.
        identity = _identity(self.state_of(session)) if session.info.get(_IDENTITY_WRITTEN) else None
        self.journal.record(puts, drops, identity)

    @staticmethod
    def left_outbox(session: Session, item_ids: Iterable[str]) -> None:
        """Tell the journal that a bulk statement of this write took these items out of the outbox
        (the journal sees ORM changes by itself, not bulk ``UPDATE`` statements)."""
        changes = session.info.get(_OUTBOX_CHANGES)
        if isinstance(changes, _OutboxChanges):
            changes.deleted.update(item_ids)

    def reconcile_journal(self) -> None:
        """Make the journal hold exactly the database's outbox (a healthy database is the truth)."""
        with self._lock, self.read() as session:
            rows: list[LocalVersion | KeyGrantRow] = [
                *session.exec(select(KeyGrantRow).where(KeyGrantRow.pending).order_by(col(KeyGrantRow.grant_id))),
                *session.exec(select(LocalVersion).where(LocalVersion.pending).order_by(col(LocalVersion.hlc))),
            ]
            identity = _identity(self.state_of(session))
            self.journal.replace([_journal_entry(row) for row in rows], identity)

    def _rebuild(self, reason: Literal["damaged", "missing"], moved_to: Path | None) -> None:
        journal = self.journal
        versions = [ChangeIn.model_validate(entry.data) for entry in journal.entries("version")]
        grants = [KeyGrantIn.model_validate(entry.data) for entry in journal.entries("grant")]
        rebuilt = StoreRebuilt(
            reason=reason,
            kept=len(versions),
            moved_to=moved_to.name if moved_to is not None else None,
            at_ms=time.time_ns() // 1_000_000,
        )
        with self.write() as session:
            values: dict[StateKey, str | int | None] = {
                key: journal.identity[key.value] for key in _IDENTITY_KEYS if key.value in journal.identity
            }
            values[StateKey.STORE_REBUILT] = rebuilt.to_json()
            if versions:
                # The clock must stay ahead of every stamp this device already handed out.
                newest = max(Hlc.parse(version.hlc) for version in versions)
                values[StateKey.HLC_WALL], values[StateKey.HLC_COUNTER] = newest.wall_ms, newest.counter
            self.put(session, values)
            for grant in grants:
                session.add(KeyGrantRow.outgoing(grant))
            for version in versions:
                session.add(LocalVersion(**version.model_dump(mode="json"), pending=True, acknowledged=False))

    # --- device_state ----------------------------------------------------------------------------

    @staticmethod
    def state_of(session: Session) -> dict[str, str]:
        # Two columns, not ORM objects: a sync reads the whole state a few times.
        return dict(session.exec(select(DeviceState.key, DeviceState.value)).all())

    @staticmethod
    def get(session: Session, key: StateKey) -> str | None:
        row = session.connection().exec_driver_sql(_STATE_GET, (key.value,)).first()
        return None if row is None else str(row[0])

    @staticmethod
    def put(session: Session, values: Mapping[StateKey, str | int | None]) -> None:
        """Set entries; ``None`` removes one. Plain statements on the session's connection, no ORM
        objects: a sync writes its clock, offset and cursor on every page."""
        if any(key in _IDENTITY_KEYS for key in values):
            session.info[_IDENTITY_WRITTEN] = True
        kept = [(key.value, str(value)) for key, value in values.items() if value is not None]
        removed = [(key.value,) for key, value in values.items() if value is None]
        connection = session.connection()
        if kept:
            connection.exec_driver_sql(_STATE_PUT, kept)
        if removed:
            connection.exec_driver_sql(_STATE_DELETE, removed)

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


def _journal_entry(row: LocalVersion | KeyGrantRow) -> JournalEntry:
    if isinstance(row, LocalVersion):
        return JournalEntry("version", row.change_id, row.model_dump(mode="json", include=_CHANGE_FIELDS))
    return JournalEntry("grant", row.grant_id, row.model_dump(mode="json", include=_GRANT_FIELDS))


def _identity(state: Mapping[str, str]) -> dict[str, str]:
    return {key.value: state[key.value] for key in _IDENTITY_KEYS if key.value in state}


def _move_aside(path: Path) -> Path | None:
    """Move a damaged database (and its WAL and shared-memory files) out of the way; keep them."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(target.with_name(target.name + suffix))
    return target if target.exists() else None
