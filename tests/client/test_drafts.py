"""A half-filled form survives the app being closed: the draft is kept on the phone, encrypted under
the device key, and the PIN brings the worker back to it; saving the form forgets it."""

from __future__ import annotations

import asyncio

from outreach_app.services import AccountStatus
from outreach_app.state import AppState, Screen
from outreach_app.state.app_state import DRAFT_KEPT_AFTER_SECONDS
from tests.client.conftest import PIN, SERVER_URL, Team
from tests.client.test_sync import shared_case

NOTE = "Waited at the gate from seven; he came out at 9:40 with a carrier bag and no phone"


def _state(team: Team) -> AppState:
    return AppState(team.worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")


def test_a_form_left_half_filled_when_the_app_is_closed_comes_back_after_the_pin(team: Team) -> None:
    case_id = shared_case(team)

    async def before_the_app_is_closed() -> None:
        state = _state(team)
        await state.start()
        await state.open_person(case_id)
        state.start_logging_contact()
        state.keep_draft("note", NOTE)
        state.keep_draft("setting", "prison_gate")
        await asyncio.sleep(DRAFT_KEPT_AFTER_SECONDS + 0.5)  # the worker stops typing; the draft is kept

    asyncio.run(before_the_app_is_closed())
    # The phone kills the app: nothing is shut down in order.
    database = team.worker.path
    team.worker.reopen()
    files = [database, *database.parent.glob(database.name + "-*")]  # with the write-ahead log
    assert not any(NOTE.encode() in path.read_bytes() for path in files)  # kept, but not in the clear
    assert team.worker.app.account.status() is AccountStatus.LOCKED

    async def after_the_app_is_opened_again() -> None:
        state = _state(team)
        notices: list[str] = []
        state.on_notice = lambda notice: notices.append(notice.text)
        await state.start()
        assert state.screen is Screen.UNLOCK
        await state.unlock(PIN)
        assert state.screen is Screen.LOG_CONTACT
        assert state.case_id == case_id
        assert state.draft["note"] == NOTE
        assert state.draft["setting"] == "prison_gate"
        assert "The form you had not saved is back, as you left it." in notices

        await state.log_contact(
            occurred_at="2026-12-01 09:45",
            setting="prison_gate",
            contact_type="face_to_face",
            note=NOTE,
            basis="fact",
            tier="full",
        )
        assert state.screen is Screen.PERSON
        await asyncio.sleep(DRAFT_KEPT_AFTER_SECONDS + 0.5)
        assert team.worker.app.drafts.restore() is None  # saved: nothing to bring back

    asyncio.run(after_the_app_is_opened_again())


def test_a_locked_phone_cannot_read_the_kept_draft(team: Team) -> None:
    case_id = shared_case(team)
    drafts = team.worker.app.drafts
    drafts.keep("log_contact", case_id, {"note": NOTE})
    assert drafts.restore() is not None
    team.worker.app.account.lock()
    assert drafts.restore() is None  # locked: no key to read it with
