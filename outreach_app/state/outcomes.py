"""``OutcomesState``: where the open person lives and their work and training (the facts the outcomes
report counts), and the worker's intents to record them.

Composed into ``AppState`` as ``state.outcomes`` and loaded with the person's record. Where someone
lives and whether they are in work are dated "since": the outcomes report counts what held on the day
an order or licence ended. Link workers and coordinators record them (full tier); a peer mentor's
phone holds none. Imports neither flet nor storage.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import Accommodation, Employment
from outreach_app.state.navigation import Notice, Screen
from shared.kinds import ACCOMMODATION_TYPES, EMPLOYMENT_STATUSES

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["OutcomesState"]


class OutcomesState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.accommodation: list[Accommodation] = []  # the open person's, latest first
        self.employment: list[Employment] = []

    def forget(self) -> None:
        self.accommodation, self.employment = [], []

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._app.now_ms() / 1000).date()

    async def load_case(self, case_id: str) -> None:
        app = self._app
        if app.is_mentor:
            self.forget()
            return
        casework = app.gatepost.casework

        def read() -> tuple[list[Accommodation], list[Employment]]:
            return casework.accommodation(case_id), casework.employment(case_id)

        try:
            self.accommodation, self.employment = await app._run(read)
        except AppError:
            self.forget()

    # --- where they live ------------------------------------------------------------------------

    def start_recording_accommodation(self) -> None:
        self._app.open_form(Screen.RECORD_ACCOMMODATION, {"from_on": self.today().isoformat()})

    async def record_accommodation(self, *, accommodation_type: str, suitable: str, from_on: str) -> None:
        app, case_id = self._app, self._app.case_id
        if case_id is None:
            return
        app.draft = {"accommodation_type": accommodation_type, "suitable": suitable, "from_on": from_on}
        problems: dict[str, str] = {}
        if not accommodation_type:
            problems["accommodation_type"] = "Choose where they live."
        if suitable not in ("yes", "no"):
            problems["suitable"] = "Say whether it suits them."
        if problems:
            return app._problems(problems)
        saved = await app._guarded(
            lambda: app.gatepost.casework.record_accommodation(
                case_id, accommodation_type=accommodation_type, suitable=suitable == "yes", from_on=from_on.strip()
            )
        )
        if saved is None:
            return
        where = ACCOMMODATION_TYPES.get(accommodation_type, accommodation_type)
        await self._saved(case_id, f"Where they live saved on this phone: {where}.")

    # --- work and training ----------------------------------------------------------------------

    def start_recording_work(self) -> None:
        self._app.open_form(Screen.RECORD_WORK, {"from_on": self.today().isoformat()})

    async def record_work(self, *, status: str, ete_stage: str, from_on: str) -> None:
        app, case_id = self._app, self._app.case_id
        if case_id is None:
            return
        app.draft = {"status": status, "ete_stage": ete_stage, "from_on": from_on}
        if not status:
            return app._problems({"status": "Say whether they are in work."})
        saved = await app._guarded(
            lambda: app.gatepost.casework.record_employment(
                case_id, status=status, ete_stage=ete_stage or None, from_on=from_on.strip()
            )
        )
        if saved is None:
            return
        words = EMPLOYMENT_STATUSES.get(status, status)
        await self._saved(case_id, f"Work and training saved on this phone: {words}.")

    async def _saved(self, case_id: str, message: str) -> None:
        self._app.on_notice(Notice(message))
        await self._app.open_person(case_id)
        await self._app.sync_now(quiet=True)
