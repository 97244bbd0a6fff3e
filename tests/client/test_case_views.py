"""Opening a person's record is recorded for the coordinators' audit trail, encrypted so the server
cannot tell whose record was opened, and delivered to coordinators only."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from outreach_app.state import AppState
from tests.client.conftest import SERVER_URL, InProcessServer, Team
from tests.client.test_sync import shared_case


def test_a_workers_record_views_reach_the_coordinator_and_nobody_else(team: Team, server: InProcessServer) -> None:
    case_id = shared_case(team)
    worker = AppState(team.worker.app, default_server_url=SERVER_URL, device_name="Amira's phone")

    async def open_twice() -> None:
        await worker.start()
        await worker.open_person(case_id)
        await worker.open_person(case_id)  # a second look within ten minutes is the same visit

    asyncio.run(open_twice())
    team.worker.app.sync.sync_now()

    # The server holds one case view: no case id, and nothing readable.
    with server.app.state.engine.connect() as connection:
        query = "SELECT case_id, tier, key_id, ciphertext FROM version WHERE kind = 'case_view'"
        rows = connection.execute(text(query)).all()
    assert len(rows) == 1
    assert rows[0].case_id is None
    assert rows[0].key_id.startswith("org:")
    assert case_id not in rows[0].ciphertext

    team.coordinator.app.sync.sync_now()
    views = team.coordinator.app.records.case_views()
    assert [(view.viewer, view.person, view.case_id) for view in views] == [("Amira Link", "Dean Walsh", case_id)]

    # A link worker's phone does not receive colleagues' record views (only its own, which it wrote).
    assert team.coordinator.app.records.note_case_viewed(case_id)
    team.coordinator.app.sync.sync_now()
    team.worker.app.sync.sync_now()
    assert [view.viewer for view in team.worker.app.records.case_views()] == ["Amira Link"]
    coordinator = AppState(team.coordinator.app, default_server_url=SERVER_URL, device_name="Priya's phone")

    async def coordinator_trail() -> list[str]:
        await coordinator.start()
        await coordinator.show_audit_trail()
        return [event.text for event in coordinator.audit_events]

    trail = asyncio.run(coordinator_trail())
    assert "Amira Link opened Dean Walsh's record" in trail
    assert "Priya Coordinator opened Dean Walsh's record" in trail
