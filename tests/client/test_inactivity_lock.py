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
