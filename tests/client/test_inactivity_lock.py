"""The app locks itself when nobody has touched it for a while, and the PIN takes the worker back to
the half-typed note they were writing; nothing about a person stays in the locked app's state."""

from __future__ import annotations

import asyncio

from outreach_app.services import AccountStatus
from outreach_app.state import AppState, Screen
from tests.client.conftest import PIN, SERVER_URL, Team
from tests.client.test_sync import shared_case

LOCK_AFTER_S = 300


def test_idle_app_locks_and_the_pin_returns_to_the_half_written_note(team: Team) -> None:
    case_id = shared_case(team)
    clock = {"now": 1_800_000_000_000}
    state = AppState(
        team.worker.app,
        default_server_url=SERVER_URL,
        device_name="Amira's phone",
        now_ms=lambda: clock["now"],
        lock_after_seconds=LOCK_AFTER_S,
    )

    async def scenario() -> None:
        await state.start()
        assert state.screen is Screen.TODAY  # the first screen
        await state.open_person(case_id)
        state.start_logging_contact()
        state.keep_draft("note", "Waited at the gate from 7; he came out at")

        clock["now"] += (LOCK_AFTER_S - 10) * 1000
        assert not await state.lock_if_idle()  # still in use
        state.keep_draft("note", "Waited at the gate from 7; he came out at 9:40.")
        clock["now"] += (LOCK_AFTER_S - 10) * 1000
        assert not await state.lock_if_idle()  # typing counts as use
        clock["now"] += 20_000
        assert await state.lock_if_idle()

        assert state.screen is Screen.UNLOCK
        assert team.worker.app.account.status() is AccountStatus.LOCKED
        assert state.record is None
        assert state.people == []

        await state.unlock(PIN)
        assert state.screen is Screen.LOG_CONTACT
        assert state.case_id == case_id
        assert state.record is not None
        assert state.draft["note"] == "Waited at the gate from 7; he came out at 9:40."

    asyncio.run(scenario())


def test_a_lock_the_worker_asks_for_goes_back_to_the_first_screen(team: Team) -> None:
    case_id = shared_case(team)
    state = AppState(team.worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")

    async def scenario() -> None:
        await state.start()
        await state.open_person(case_id)
        await state.lock()
        await state.unlock(PIN)
        assert state.screen is Screen.TODAY

    asyncio.run(scenario())


def test_the_pin_brings_a_coordinator_back_to_the_team_a_workers_caseload_and_the_report(team: Team) -> None:
    shared_case(team)
    coordinator = team.coordinator
    clock = {"now": 1_800_000_000_000}
    state = AppState(
        coordinator.app,
        default_server_url=SERVER_URL,
        device_name="Priya's phone",
        now_ms=lambda: clock["now"],
        lock_after_seconds=LOCK_AFTER_S,
    )

    async def idle_then_unlock() -> None:
        clock["now"] += (LOCK_AFTER_S + 1) * 1000
        assert await state.lock_if_idle()
        assert state.screen is Screen.UNLOCK
        await state.unlock(PIN)

    async def scenario() -> None:
        await state.start()
        await state.desk.show_desk()

        # One worker's caseload, opened from the dashboard: the same worker after the PIN.
        board = state.desk.dashboard.board
        assert board is not None
        worker = next(w for w in board.workers if not w.is_you)  # the link worker who added Dean
        await state.desk.dashboard.open_worker(worker.key)
        await idle_then_unlock()
        assert state.screen is Screen.WORKER_CASELOAD
        shown = state.desk.dashboard.worker
        assert shown is not None
        assert shown.key == worker.key
        assert [person.name for person in shown.people] == ["Dean Walsh"]

        # The outcomes report, for the same period; from the people behind a figure, the report.
        await state.outcomes.show_report("2020-01-01", "2020-03-31")
        assert state.screen is Screen.OUTCOMES
        await idle_then_unlock()
        assert state.screen is Screen.OUTCOMES
        assert state.outcomes.report is not None
        assert state.outcomes.period is not None
        assert state.outcomes.period.start.isoformat() == "2020-01-01"
        assert state.draft["end"] == "2020-03-31"
        await state.outcomes.open_figure(state.outcomes.report.figures[0].key)
        assert state.screen is Screen.OUTCOME_PEOPLE
        await idle_then_unlock()
        assert state.screen is Screen.OUTCOMES
        assert state.outcomes.period.end.isoformat() == "2020-03-31"

        # The Team screen; offline, the PIN still brings it back, saying why the team is not shown.
        await state.team.show_team()
        assert state.screen is Screen.TEAM
        await idle_then_unlock()
        assert state.screen is Screen.TEAM
        assert state.team.team is not None
        coordinator.network.down = True
        await idle_then_unlock()
        assert state.screen is Screen.TEAM
        assert state.team.team is None
        assert state.team.unavailable is not None
        assert "needs the network" in state.team.unavailable
        coordinator.network.down = False
        await state.team.show_team()
        assert state.team.team is not None
        assert state.team.unavailable is None

    asyncio.run(scenario())
