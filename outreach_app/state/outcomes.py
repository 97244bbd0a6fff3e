"""``OutcomesState``: where the open person lives and their work and training (the facts the outcomes
report counts), the worker's intents to record them, and the coordinator's outcomes report (a period,
its figures, the people behind a figure, and the anonymised CSV for commissioners).

Composed into ``AppState`` as ``state.outcomes`` and loaded with the person's record. Where someone
lives and whether they are in work are dated "since": the outcomes report counts what held on the day
an order or licence ended. Link workers and coordinators record them (full tier); a peer mentor's
phone holds none. Imports neither flet nor storage.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import Accommodation, Employment, ReportFile
from outreach_app.state.navigation import Notice, Screen
from shared.kinds import ACCOMMODATION_TYPES, EMPLOYMENT_STATUSES
from shared.outcomes import Figure, OutcomesReport, Period

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["OutcomesState"]


class OutcomesState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.accommodation: list[Accommodation] = []  # the open person's, latest first
        self.employment: list[Employment] = []
        # The coordinator's report: the period chosen, its figures, and the figure opened.
        self.period: Period | None = None
        self.report: OutcomesReport | None = None
        self.figure: Figure | None = None
        self.people: list[tuple[str, str]] = []  # (case id, name) behind the figure opened

    def forget_case(self) -> None:
        """The open person's facts (leaving their record)."""
        self.accommodation, self.employment = [], []

    def forget(self) -> None:
        """Everything, the report and its names included (the app locks)."""
        self.forget_case()
        self.period, self.report, self.figure, self.people = None, None, None, []

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._app.now_ms() / 1000).date()

    async def load_case(self, case_id: str) -> None:
        app = self._app
        if app.is_mentor:
            self.forget_case()
            return
        casework = app.gatepost.casework

        def read() -> tuple[list[Accommodation], list[Employment]]:
            return casework.accommodation(case_id), casework.employment(case_id)

        try:
            self.accommodation, self.employment = await app._run(read)
        except AppError:
            self.forget_case()

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

    # --- the coordinator's outcomes report ------------------------------------------------------

    async def show_report(self, start: str | None = None, end: str | None = None) -> None:
        """The report for the period from ``start`` to ``end`` (YYYY-MM-DD, both included); this
        quarter when neither is given, or the period shown before."""
        app = self._app
        app.touch()
        if start is None and end is None:
            period = self.period or Period.quarter(self.today())
        else:
            app.draft = {"start": start or "", "end": end or ""}
            try:
                period = Period(
                    dt.date.fromisoformat((start or "").strip()), dt.date.fromisoformat((end or "").strip())
                )
            except ValueError:
                return app._problems({"period": "Give the period as two dates like 2026-10-01, the first one first."})
        report = await app._guarded(lambda: app.gatepost.reports.outcomes(period))
        if report is None:
            return
        app.leave_record()
        self.period, self.report, self.figure, self.people = period, report, None, []
        app.form_problems = {}
        app.draft = {"start": period.start.isoformat(), "end": period.end.isoformat()}
        app.screen = Screen.OUTCOMES
        app.on_screen()

    async def reload_report(self, start: str, end: str) -> None:
        """The report of a period shown before the lock, counted again after the PIN (on this phone)."""
        app = self._app
        try:
            period = Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
        except ValueError:
            period = Period.quarter(self.today())
        try:
            self.report = await app._run(lambda: app.gatepost.reports.outcomes(period))
        except AppError as error:
            self.report = None
            app.on_notice(Notice(error.message, is_error=True))
        self.period, self.figure, self.people = period, None, []

    async def show_quarter(self, back: int) -> None:
        """This quarter (0) or the one before (1)."""
        period = Period.quarter(self.today(), back=back)
        await self.show_report(period.start.isoformat(), period.end.isoformat())

    async def open_figure(self, key: str) -> None:
        """The people behind one figure, by name (the coordinator only)."""
        app, report = self._app, self.report
        if report is None:
            return
        figure = report.figure(key)
        people = await app._guarded(lambda: app.gatepost.reports.names(figure.case_ids))
        if people is None:
            return
        self.figure, self.people = figure, people
        app.screen = Screen.OUTCOME_PEOPLE
        app.on_screen()

    async def back_to_report(self) -> None:
        app = self._app
        self.figure, self.people = None, []
        if self.report is None:
            await app.desk.show_desk()
            return
        app.touch()
        app.screen = Screen.OUTCOMES
        app.on_screen()

    async def export_csv(self) -> ReportFile | None:
        """The anonymised figures of the period shown, as a CSV file; the view saves it."""
        app, period = self._app, self.period
        if period is None:
            return None
        return await app._guarded(lambda: app.gatepost.reports.anonymised_csv(period))

    async def export_summary(self) -> ReportFile | None:
        """The same figures on one printable page with charts; the view saves it."""
        app, period = self._app, self.period
        if period is None:
            return None
        return await app._guarded(lambda: app.gatepost.reports.anonymised_summary(period))

    def note_export_saved(self, file_name: str, saved: bool) -> None:
        if not saved:
            self._app.on_notice(Notice("The figures were not saved."))
            return
        self._app.on_notice(
            Notice(f"Saved {file_name}: the figures only, no names, numbers under 5 hidden. Ready for commissioners.")
        )
