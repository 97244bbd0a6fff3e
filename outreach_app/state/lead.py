"""``LeadState``: the open person's lead professional and handing that role over.

One named lead at a time (the person's ``lead_professional`` detail). An interim lead proposes the
community lead; someone else (the new lead, or a coordinator for them) accepts or declines; the
handover is complete only when recorded so, and then the new lead is the lead professional.

Composed into ``AppState`` as ``state.lead``; imports neither flet nor storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import Handover
from outreach_app.state.navigation import Notice, Screen

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["LeadState"]


class LeadState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.handovers: list[Handover] = []  # the open person's, newest first

    def forget(self) -> None:
        self.handovers = []

    @property
    def under_way(self) -> Handover | None:
        return next((handover for handover in self.handovers if handover.under_way), None)

    async def load_case(self, case_id: str) -> None:
        app = self._app
        try:
            self.handovers = await app._run(lambda: app.gatepost.casework.handovers(case_id))
        except AppError:
            self.handovers = []

    def start_handover(self) -> None:
        self._app.open_form(Screen.HANDOVER)

    async def propose(self, *, lead_name: str, lead_organisation: str, note: str) -> None:
        app = self._app
        case_id = app.case_id
        if case_id is None:
            return
        app.draft = {"lead_name": lead_name, "lead_organisation": lead_organisation, "note": note}
        done = await app._guarded(
            lambda: app.gatepost.casework.propose_handover(
                case_id, lead_name=lead_name, lead_organisation=lead_organisation, note=note
            )
        )
        if done is None:
            return
        app.on_notice(Notice(f"Handover to {lead_name.strip()} proposed. They, or a coordinator, accept it."))
        await self._back_to_record(case_id)

    async def answer(self, handover_id: str, *, accept: bool, note: str = "") -> None:
        app = self._app
        case_id = app.case_id
        if case_id is None:
            return
        done = await app._guarded(
            lambda: app.gatepost.casework.answer_handover(case_id, handover_id, accept=accept, note=note)
        )
        if done is None:
            return
        app.on_notice(Notice("Handover accepted." if accept else "Handover declined."))
        await self._back_to_record(case_id)

    async def complete(self, handover_id: str) -> None:
        app = self._app
        case_id = app.case_id
        if case_id is None:
            return
        done = await app._guarded(lambda: app.gatepost.casework.complete_handover(case_id, handover_id))
        if done is None:
            return
        app.on_notice(Notice("Handover completed: the new lead professional is on the record."))
        await self._back_to_record(case_id)

    async def _back_to_record(self, case_id: str) -> None:
        await self._app.open_person(case_id)
        await self._app.sync_now(quiet=True)
