"""The app syncs by itself while its screen is in front of someone, and not once the screen has gone.

A closed browser tab leaves its session behind for a while in case it comes back; a session nobody
sees must not keep pushing and pulling every half minute.
"""

from __future__ import annotations

import asyncio

from outreach_app.state import AppState
from tests.client.conftest import SERVER_URL, Team
from tests.client.test_sync import log_note, shared_case

TICK_S = 0.02


def test_background_sync_stops_while_the_screen_is_away_and_resumes_when_it_returns(team: Team) -> None:
    case_id = shared_case(team)
    worker = team.worker
    state = AppState(worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")
    state.auto_sync_seconds = TICK_S

    async def scenario() -> None:
        await state.start()
        background = asyncio.create_task(state.auto_sync_forever())
        try:
            state.screen_left()
            log_note(worker, case_id, "Saved while the tab was closed.")
            await asyncio.sleep(TICK_S * 15)
            assert worker.app.sync.status().pending == 1  # nothing synced in the background

            state.screen_returned()
            for _ in range(250):
                if worker.app.sync.status().pending == 0:
                    break
                await asyncio.sleep(TICK_S)
            assert worker.app.sync.status().pending == 0
        finally:
            background.cancel()

    asyncio.run(scenario())
