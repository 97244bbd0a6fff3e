"""The device database: its migrations, its durability settings, and the façade around it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from outreach_app.config import app_data_dir, default_server_url
from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.services import AccountStatus, Gatepost, device_store_path
from outreach_app.storage import LocalStore, StateKey
from outreach_app.storage.tables import metadata
from tests.client.conftest import Team


def test_migrations_build_exactly_the_declared_tables(tmp_path: Path) -> None:
    store = LocalStore.open(tmp_path / "device.sqlite")
    try:
        with store._engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert diff == []
    finally:
        store.close()
    # Opening again is a no-op at the newest revision.
    LocalStore.open(tmp_path / "device.sqlite").close()


def test_database_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    store = LocalStore.open(tmp_path / "device.sqlite")
    try:
        with store.read() as session:
            connection = session.connection()
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        store.close()


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalStore.open(tmp_path / "device.sqlite")
    try:

        def crash_mid_write() -> None:
            with store.write() as session:
                LocalStore.put(session, {StateKey.PULL_CURSOR: 42})
                raise RuntimeError("crash in the middle")

        with pytest.raises(RuntimeError):
            crash_mid_write()
        assert StateKey.PULL_CURSOR not in store.state()
    finally:
        store.close()


def test_where_data_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLET_APP_STORAGE_DATA", raising=False)
    monkeypatch.setenv("OUTREACH_APP_DATA", str(tmp_path / "outreach"))
    assert app_data_dir() == tmp_path / "outreach"
    monkeypatch.setenv("FLET_APP_STORAGE_DATA", str(tmp_path / "flet"))
    assert app_data_dir() == tmp_path / "flet"
    monkeypatch.delenv("OUTREACH_SERVER_URL", raising=False)
    assert default_server_url() == "http://127.0.0.1:8000"
    assert device_store_path(tmp_path, "browser-1") == tmp_path / "devices" / "browser-1" / "gatepost.sqlite"
    with pytest.raises(ValueError, match="slot"):
        device_store_path(tmp_path, "../escape")


def test_a_new_device_is_signed_out_and_refuses_work(tmp_path: Path) -> None:
    with Gatepost.open(tmp_path) as app:
        assert app.account.status() is AccountStatus.SIGNED_OUT
        assert app.store_path == tmp_path / "gatepost.sqlite"
        with pytest.raises(NotReady):
            app.records.list_people()
        with pytest.raises(NotReady):
            app.account.unlock("1234")


def test_form_problems_are_plain_words(team: Team) -> None:
    records = team.worker.app.records
    with pytest.raises(ValidationFailed) as failed:
        records.add_person({"name": "", "release_at": "next friday", "shoe_size": "9"})
    assert set(failed.value.problems) == {"name", "release_at", "shoe_size"}
    assert failed.value.problems["release_at"].startswith("Release date and time must be a date")
    case_id = records.add_person({"name": "Lee Carter"})
    with pytest.raises(ValidationFailed) as failed:
        records.log_contact(
            case_id,
            occurred_at="yesterday",
            setting="moon",
            contact_type="phone_call",
            note="",
            basis="fact",
            tier="full",
        )
    assert set(failed.value.problems) == {"occurred_at", "setting", "note"}
    with pytest.raises(ValidationFailed):
        team.worker.app.account.set_pin("12")
    assert records.update_person(case_id, "name", "Lee Carter") is None  # unchanged: no new version


def test_sign_in_form_refuses_plain_http_to_another_machine(tmp_path: Path) -> None:
    device = Gatepost.open(tmp_path / "gatepost.sqlite")
    try:
        with pytest.raises(ValidationFailed) as refused:
            device.account.sign_in("http://sync.example.org", "sam@example.org", "password", "Work phone")
        assert refused.value.problems["server_url"].startswith("The server address must start with https://")
    finally:
        device.close()
