"""Closing cases, retention and erasure on the server: the endpoints, what every device's pull
then holds (a purge, nothing of the case), pushes refused, and ``outreach-server purge``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner

from shared.kinds import Tier
from shared.protocol import DEFAULT_RETENTION_DAYS, CaseErased, CaseStatus, RetentionPolicy, Role
from sync_server.cli import app as cli
from tests.server.helpers import (
    Harness,
    MovableClock,
    Org,
    case_key_grant,
    contact_change,
    new_id,
    person_change,
    problem,
)
from tests.support.server import TEST_SERVER_SECRET, bootstrap_organisation

_DAY_MS = 86_400_000


def _person(harness: Harness, org: Org) -> str:
    person = new_id()
    coordinator = org.coordinator
    response = harness.push(
        coordinator,
        [
            person_change(org, coordinator, person, "name", "Sam"),
            person_change(org, coordinator, person, "date_of_birth", "1990-01-01"),
            contact_change(org, coordinator, person, tier=Tier.BASIC),
            contact_change(org, coordinator, person, tier=Tier.FULL),
        ],
        [case_key_grant(org, person, Tier.BASIC), case_key_grant(org, person, Tier.FULL)],
    )
    assert {result.status for result in response.results} == {"accepted"}
    return person


def _post(harness: Harness, org: Org, case_id: str, action: str) -> object:
    return harness.client.post(f"/v1/cases/{case_id}/{action}", headers=org.coordinator.headers)


def _status(harness: Harness, org: Org, case_id: str, action: str | None = None) -> CaseStatus:
    if action is None:
        response = harness.client.get(f"/v1/cases/{case_id}", headers=org.coordinator.headers)
    else:
        response = harness.client.post(f"/v1/cases/{case_id}/{action}", headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    return CaseStatus.model_validate(response.json())


def _erase(harness: Harness, org: Org, case_id: str) -> CaseErased:
    response = harness.client.post(f"/v1/cases/{case_id}/erase", headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    return CaseErased.model_validate(response.json())


def _rows_of(app: FastAPI, case_id: str) -> dict[str, int]:
    with app.state.engine.connect() as connection:

        def count(sql: str) -> int:
            return int(connection.execute(text(sql), {"case": case_id}).scalar_one())

        return {
            "versions": count("SELECT count(*) FROM version WHERE case_id = :case"),
            "records": count("SELECT count(*) FROM record WHERE case_id = :case OR record_id = :case"),
            "key_grants": count("SELECT count(*) FROM key_grant WHERE case_id = :case"),
            "assignments": count("SELECT count(*) FROM assignment WHERE case_id = :case"),
        }


def _audit_actions(harness: Harness, org: Org) -> list[str]:
    response = harness.client.get("/v1/audit", headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["entries"]]


def test_close_reopen_and_retention(harness: Harness, clock: MovableClock) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    opened = _status(harness, org, person)
    assert opened.closed_at_ms is None
    assert opened.erase_after_ms is None
    assert opened.retention_days == DEFAULT_RETENTION_DAYS

    closed = _status(harness, org, person, "close")
    assert closed.closed_at_ms is not None
    assert closed.erase_after_ms == closed.closed_at_ms + DEFAULT_RETENTION_DAYS * _DAY_MS
    clock.advance(seconds=5)
    assert _status(harness, org, person, "close").closed_at_ms == closed.closed_at_ms  # closing again: no change

    response = harness.client.put("/v1/org/retention", json={"retention_days": 30}, headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    assert RetentionPolicy.model_validate(response.json()).retention_days == 30
    got = harness.client.get("/v1/org/retention", headers=org.coordinator.headers)
    assert got.json() == {"retention_days": 30}
    assert _status(harness, org, person).erase_after_ms == closed.closed_at_ms + 30 * _DAY_MS

    reopened = _status(harness, org, person, "reopen")
    assert reopened.closed_at_ms is None
    assert reopened.erase_after_ms is None
    problem(_post(harness, org, person, "reopen"), 409, "case_not_closed")
    actions = _audit_actions(harness, org)
    assert {"case_closed", "case_reopened", "retention_changed"} <= set(actions)
    assert actions.count("case_closed") == 1


def test_bad_requests_are_clear_problems(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    other = harness.new_org()
    theirs = _person(harness, other)
    for action in ("close", "reopen", "erase"):
        problem(_post(harness, org, new_id(), action), 404, "case_not_found")
        problem(_post(harness, org, theirs, action), 404, "case_not_found")
        for caller in (worker, mentor):
            response = harness.client.post(f"/v1/cases/{person}/{action}", headers=caller.headers)
            problem(response, 403, "coordinators_only")
        problem(_post(harness, org, "not-a-case", action), 422)
    problem(harness.client.get(f"/v1/cases/{theirs}", headers=org.coordinator.headers), 404, "case_not_found")
    # A link worker is told whether a case is closed (read only); a peer mentor is not.
    told = harness.client.get(f"/v1/cases/{person}", headers=worker.headers)
    assert told.status_code == 200, told.text
    problem(harness.client.get(f"/v1/cases/{person}", headers=mentor.headers), 403, "full_members_only")
    for days in (0, -5, 40_000, "six years"):
        response = harness.client.put(
            "/v1/org/retention", json={"retention_days": days}, headers=org.coordinator.headers
        )
        problem(response, 422)
    problem(harness.client.put("/v1/org/retention", json={"retention_days": 9}, headers=worker.headers), 403)
    # Nothing of the other organisation's case was touched.
    assert _status(harness, other, theirs).closed_at_ms is None
    assert _rows_of(harness.app, theirs)["versions"] == 4


def test_erasure_deletes_the_case_and_every_device_is_told_to_purge_it(harness: Harness) -> None:
    org = harness.new_org()
    person = _person(harness, org)
    kept = _person(harness, org)
    worker = harness.join(org, Role.LINK_WORKER)
    mentor = harness.join(org, Role.PEER_MENTOR)
    assigned = harness.client.post(f"/v1/cases/{person}/mentors/{mentor.user_id}", headers=org.coordinator.headers)
    assert assigned.status_code == 200, assigned.text
    other = harness.new_org()
    _person(harness, other)
    cursors = {member.user_id: harness.pull(member, limit=1000).next for member in (org.coordinator, worker, mentor)}
    other_cursor = harness.pull(other.coordinator).next
    _status(harness, org, person, "close")

    erased = _erase(harness, org, person)
    assert (erased.versions, erased.records, erased.key_grants, erased.assignments) == (4, 3, 2, 1)
    assert _rows_of(harness.app, person) == {"versions": 0, "records": 0, "key_grants": 0, "assignments": 0}
    assert _rows_of(harness.app, kept)["versions"] == 4
    # Erasing again (a lost answer, or records of who opened it found since) deletes nothing more.
    again = _post(harness, org, person, "erase")
    assert again.status_code == 200, again.text
    assert CaseErased.model_validate(again.json()).versions == 0
    problem(_post(harness, org, person, "close"), 409, "case_erased")
    problem(harness.client.get(f"/v1/cases/{person}", headers=org.coordinator.headers), 409, "case_erased")

    for member in (org.coordinator, worker, mentor):
        # A device that synced before, and one offline since the start: both get the purge, nothing else.
        for since in (cursors[member.user_id], 0):
            page = harness.pull(member, since=since)
            assert [(purge.case_id, purge.reason) for purge in page.purges] == [(person, "erased")]
            assert all(version.case_id != person for version in page.versions)
            assert all(grant.case_id != person for grant in page.key_grants)
        after = harness.pull(member, since=harness.pull(member, since=cursors[member.user_id]).next)
        assert after.purges == []  # once past the tombstone, it is not repeated
    assert harness.pull(other.coordinator, since=other_cursor).purges == []
    assert harness.pull(other.coordinator).purges == []

    # Nothing can be added to an erased case, nor can it be created again.
    coordinator = org.coordinator
    refused = harness.push(
        worker,
        [
            contact_change(org, worker, person),
            person_change(org, worker, person, "name", "Sam again"),
            contact_change(org, worker, kept),
        ],
        [case_key_grant(org, person, Tier.BASIC)],
    )
    assert [(r.status, r.reason) for r in refused.results] == [
        ("rejected", "case_erased"),
        ("rejected", "case_erased"),
        ("accepted", None),
    ]
    assert "erased" in (refused.results[0].detail or "")
    assert [(r.status, r.reason) for r in refused.grant_results] == [("rejected", "case_erased")]
    assert [(r.status, r.reason) for r in harness.push(mentor, [contact_change(org, mentor, person)]).results] == [
        ("rejected", "case_erased")
    ]
    assert _rows_of(harness.app, person) == {"versions": 0, "records": 0, "key_grants": 0, "assignments": 0}
    assert harness.pull(coordinator, since=0).purges[0].case_id == person

    actions = _audit_actions(harness, org)
    assert {"case_closed", "case_erased", "case_purged"} <= set(actions)
    entries = harness.client.get("/v1/audit", headers=coordinator.headers).json()["entries"]
    erasure = next(entry for entry in entries if entry["action"] == "case_erased")
    assert erasure["details"] == {
        "case_id": person,
        "by": "coordinator",
        "versions": 4,
        "records": 3,
        "key_grants": 2,
        "assignments": 1,
        "case_views": 0,
    }


def test_a_page_that_stops_before_the_tombstone_leaves_the_purge_for_the_next(harness: Harness) -> None:
    org = harness.new_org()
    first = _person(harness, org)
    second = _person(harness, org)
    _erase(harness, org, second)
    # Six items of ``first`` are left (4 versions, 2 grants); pages of 4 reach the tombstone on the second.
    page = harness.pull(org.coordinator, since=0, limit=4)
    assert page.has_more
    assert page.purges == []
    rest = harness.pull(org.coordinator, since=page.next, limit=4)
    assert [purge.case_id for purge in rest.purges] == [second]
    assert {version.case_id for version in page.versions + rest.versions} == {first}
    assert not rest.has_more


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "OUTREACH_ENVIRONMENT": "test",
        "OUTREACH_SERVER_SECRET": TEST_SERVER_SECRET,
        "OUTREACH_DATA_DIR": str(tmp_path),
        "OUTREACH_DATABASE_URL": database_url,
    }.items():
        monkeypatch.setenv(name, value)


def _closed_days_ago(app: FastAPI, case_id: str, days: float) -> None:
    """Move a closure into the past (the CLI runs on the real clock, and sessions expire)."""
    with app.state.engine.begin() as connection:
        connection.execute(
            text("UPDATE case_state SET closed_at_ms = closed_at_ms - :ms WHERE case_id = :case"),
            {"ms": int(days * _DAY_MS), "case": case_id},
        )


def test_cli_purge_erases_cases_past_retention(cli_env: None, harness: Harness) -> None:
    org = harness.new_org()
    due, recent, still_open = _person(harness, org), _person(harness, org), _person(harness, org)
    response = harness.client.put("/v1/org/retention", json={"retention_days": 30}, headers=org.coordinator.headers)
    assert response.status_code == 200, response.text
    _status(harness, org, due, "close")
    _closed_days_ago(harness.app, due, 31)
    _status(harness, org, recent, "close")
    _closed_days_ago(harness.app, recent, 29)  # not yet
    runner = CliRunner()

    dry = runner.invoke(cli, ["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would erase {due}" in dry.output
    assert recent not in dry.output
    assert _rows_of(harness.app, due)["versions"] == 4

    run = runner.invoke(cli, ["purge"])
    assert run.exit_code == 0, run.output
    assert f"erased {due}: versions=4 records=3 key_grants=2 assignments=0" in run.output
    assert recent not in run.output
    assert still_open not in run.output
    assert _rows_of(harness.app, due)["versions"] == 0
    assert _rows_of(harness.app, recent)["versions"] == 4
    assert [purge.case_id for purge in harness.pull(org.coordinator).purges] == [due]
    assert due not in runner.invoke(cli, ["purge", "--dry-run"]).output  # erased once

    # --case erases one case now, open or not, after asking (or with --yes).
    planned = runner.invoke(cli, ["purge", "--case", still_open, "--dry-run"])
    assert planned.exit_code == 0, planned.output
    assert f"would erase {still_open}" in planned.output
    assert runner.invoke(cli, ["purge", "--case", still_open], input="n\n").exit_code == 1
    assert _rows_of(harness.app, still_open)["versions"] == 4
    one = runner.invoke(cli, ["purge", "--case", still_open], input="y\n")
    assert one.exit_code == 0, one.output
    assert f"erased {still_open}" in one.output
    again = runner.invoke(cli, ["purge", "--case", still_open, "--yes"])
    assert again.exit_code == 1
    assert "was erased" in again.output
    assert runner.invoke(cli, ["purge", "--case", still_open, "--dry-run"]).exit_code == 1
    unknown = runner.invoke(cli, ["purge", "--case", new_id(), "--yes"])
    assert unknown.exit_code == 1
    assert "no person" in unknown.output
    entries = harness.client.get("/v1/audit", headers=org.coordinator.headers).json()["entries"]
    by = {entry["details"]["case_id"]: entry["details"]["by"] for entry in entries if entry["action"] == "case_erased"}
    assert by == {due: "retention", still_open: "admin"}
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0


def test_cli_retention_shows_and_sets_the_period(cli_env: None, harness: Harness) -> None:
    org_name = f"Retention Outreach {new_id()}"
    bootstrap_organisation(harness.app, org_name)
    runner = CliRunner()
    shown = runner.invoke(cli, ["retention", "--org", org_name])
    assert shown.exit_code == 0, shown.output
    assert f"kept {DEFAULT_RETENTION_DAYS} days" in shown.output
    changed = runner.invoke(cli, ["retention", "--org", org_name, "--days", "3650"])
    assert changed.exit_code == 0, changed.output
    assert re.search(r"kept 3650 days", runner.invoke(cli, ["retention", "--org", org_name]).output)
    assert runner.invoke(cli, ["retention", "--org", org_name, "--days", "0"]).exit_code == 2
    assert runner.invoke(cli, ["retention", "--org", "No Such Org"]).exit_code == 1
