"""``DayState``: the worker's day. Today (the first screen), and for the open person the release
plan (the gate checklist and who meets them where and when) and what happened at the gate.

Composed into ``AppState`` as ``state.day``; it uses the app state's plumbing (``_run``,
``_guarded``, the callbacks) and, like it, imports neither flet nor storage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import GateOutcome, ReleasePlan, Today
from outreach_app.state.navigation import Notice, Screen
from shared.kinds import RELEASE_PLAN, ValueType
from shared.resettlement import Release, ReleaseFlag, release_flags

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["DayState"]


class DayState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.today: Today | None = None
        # The open person's release plan and gate outcomes (None / empty until loaded).
        self.release_plan: ReleasePlan | None = None
        self.gate_outcomes: list[GateOutcome] = []

    def forget(self) -> None:
        """Locking: nothing about a person stays in memory."""
        self.today, self.release_plan, self.gate_outcomes = None, None, []

    # --- Today ---------------------------------------------------------------------------------

    async def show_today(self) -> None:
        app = self._app
        app.touch()
        app.home = Screen.TODAY
        app.form_problems = {}
        app.leave_record()
        app.profile = await app._run(app.gatepost.account.profile)
        await self.reload_today()
        app.screen = Screen.TODAY
        await app.refresh_sync_status()
        app.on_screen()

    async def reload_today(self) -> None:
        try:
            self.today = await self._app._run(self._app.gatepost.casework.today)
        except AppError as error:
            self.today = None
            self._app.on_notice(_error_notice(error))
        await self._app.desk.reload(dashboard=False)  # coordinators: "N conflicts to settle"

    async def log_contact_with(self, case_id: str) -> None:
        """Today's quickest path: straight to the contact form for this person (one tap)."""
        if await self._open_quietly(case_id):
            self._app.start_logging_contact()

    async def record_outcome_for(self, case_id: str) -> None:
        """From Today's gate meeting straight to what happened at the gate."""
        if await self._open_quietly(case_id):
            self.start_gate_outcome()

    async def _open_quietly(self, case_id: str) -> bool:
        """Make ``case_id`` the open person without showing the record or asking the server."""
        app = self._app
        app.touch()
        try:
            record = await app._run(lambda: app.gatepost.records.person_record(case_id))
        except AppError as error:
            app.on_notice(_error_notice(error))
            return False
        if app.case_id != case_id:
            app.mentors, app.sharing, app.case_state = None, None, None
        app.case_id, app.record = case_id, record
        await self.load_case(case_id)
        return True

    # --- the open person's release plan and the gate --------------------------------------------

    async def load_case(self, case_id: str) -> None:
        app = self._app
        try:
            self.release_plan = await app._run(lambda: app.gatepost.casework.release_plan(case_id))
            self.gate_outcomes = await app._run(lambda: app.gatepost.casework.gate_outcomes(case_id))
        except AppError:
            self.release_plan, self.gate_outcomes = None, []

    def start_gate_checklist(self) -> None:
        self._app.open_form(Screen.GATE_CHECKLIST)

    def start_gate_outcome(self) -> None:
        self._app.open_form(Screen.GATE_OUTCOME)

    async def save_release_plan(self, values: Mapping[str, object]) -> None:
        """Save the checklist items and arrangements that changed, then back to the record."""
        app = self._app
        case_id = app.case_id
        if case_id is None:
            return
        app.draft = {name: _draft_text(value) for name, value in values.items()}
        # Only what the worker changed: an untouched empty box is not a "no" to write down.
        current = self.release_plan.values if self.release_plan is not None else {}
        changed = {name: value for name, value in values.items() if value != current.get(name, _empty(name))}
        written = await app._guarded(lambda: app.gatepost.casework.save_release_plan(case_id, changed))
        if written is None:
            return
        count = 0 if not isinstance(written, int) else written
        app.on_notice(_saved_notice("Nothing changed." if count == 0 else "Release plan saved on this phone."))
        await app.open_person(case_id)
        await app.sync_now(quiet=True)

    async def record_gate_outcome(
        self,
        *,
        met: str,
        not_met_reason: str,
        accompanied_to: str,
        housed_on_release_day: str,
        reached_planned_address: str,
        help_given: str,
    ) -> None:
        """``met`` and the yes/no answers are "yes", "no" or "" (not answered)."""
        app = self._app
        case_id = app.case_id
        if case_id is None:
            return
        app.draft = {
            "met": met,
            "not_met_reason": not_met_reason,
            "accompanied_to": accompanied_to,
            "housed_on_release_day": housed_on_release_day,
            "reached_planned_address": reached_planned_address,
            "help_given": help_given,
        }
        if met not in ("yes", "no"):
            app._problems({"met": "Say whether you met them at the gate."})
            return
        saved = await app._guarded(
            lambda: app.gatepost.casework.record_gate_outcome(
                case_id,
                met=met == "yes",
                not_met_reason=not_met_reason or None,
                accompanied_to=accompanied_to,
                housed_on_release_day=_yes_no(housed_on_release_day),
                reached_planned_address=_yes_no(reached_planned_address),
                help_given=help_given,
            )
        )
        if saved is None:
            return
        app.on_notice(_saved_notice("Gate outcome saved on this phone."))
        await app.open_person(case_id)
        await app.sync_now(quiet=True)

    def release_flags(self) -> tuple[ReleaseFlag, ...]:
        """The open person's release warnings (Friday afternoon, no accommodation, time unknown)."""
        app = self._app
        release = Release.parse(app.record.field("release_at").value) if app.record is not None else None
        if release is None:
            return ()
        plan = self.release_plan
        return release_flags(release, plan.accommodation if plan is not None else None)

    def default_meeting_time(self) -> str:
        """The release time if known (a worker meets them as they come out), for the form."""
        app = self._app
        if app.record is not None:
            release_at = app.record.field("release_at").value
            if release_at and "T" in release_at:
                return release_at.replace("T", " ", 1)
        return ""

    def today_date(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._app.now_ms() / 1000).date()


def _empty(name: str) -> object:
    spec = RELEASE_PLAN.fields.get(name)
    return False if spec is not None and spec.value_type is ValueType.BOOLEAN else ""


def _yes_no(answer: str) -> bool | None:
    return {"yes": True, "no": False}.get(answer)


def _draft_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _saved_notice(text: str) -> Notice:
    return Notice(text)


def _error_notice(error: AppError) -> Notice:
    return Notice(error.message, is_error=True)
