"""Subject access: a coordinator's phone produces the person's whole record as a readable file;
nobody else may, and nothing in it can run in a browser."""

from __future__ import annotations

import pytest

from outreach_app.errors import NotAllowed
from tests.client.conftest import Team
from tests.client.test_sync import log_note, shared_case


def test_the_coordinator_exports_everything_held_about_one_person(team: Team) -> None:
    worker, coordinator = team.worker, team.coordinator
    case_id = shared_case(team)
    worker.app.records.update_person(case_id, "phone", "07700 900111")
    worker.app.records.update_person(case_id, "phone", "07700 900222")
    log_note(worker, case_id, "Met at the gate. <script>alert('x')</script> Wants his own flat.")
    worker.app.sync.sync_now()
    coordinator.app.sync.sync_now()

    export = coordinator.app.exports.subject_access(case_id)
    assert export.file_name.startswith("record-Dean-Walsh-")
    assert export.file_name.endswith(".html")
    page = export.content.decode("utf-8")
    assert "Record of Dean Walsh" in page
    assert "07700 900111" in page  # the history, not only the current value
    assert "07700 900222" in page
    assert "Amira Link" in page  # who wrote it
    assert "Met at the gate. &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Wants his own flat." in page
    assert "<script>" not in page
    assert "HMP Bristol" in page


def test_only_a_coordinator_may_export(team: Team) -> None:
    case_id = shared_case(team)
    with pytest.raises(NotAllowed):
        team.worker.app.exports.subject_access(case_id)
