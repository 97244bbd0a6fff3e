"""``DeskState``: the coordinator's desk, a top-level screen beside Today, People and Services.

For now it holds "Conflicts to settle": every field two people changed differently, still open on
this phone (safety-critical first), and the coordinator's intents about them: keep one of the
values, type a new one, or open the record. Issue 6's dashboard, team and outcomes come here too.

Composed into ``AppState`` as ``state.desk``; it uses the app state's plumbing (``_run``,
``_guarded``, the callbacks) and, like it, imports neither flet nor storage. Settling is saved on
this phone first; a sync sends it and closes the conflict on every other phone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import OpenConflict
from outreach_app.state.dashboard import DashboardState
from outreach_app.state.navigation import Notice, Screen

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["DeskState"]


class DeskState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.conflicts: list[OpenConflict] = []
        # How many conflicts are open on this phone (Today's line for coordinators); None: not counted.
        self.conflict_count: int | None = None
        # The team's caseloads and the charts (issue 6), above the conflicts.
        self.dashboard = DashboardState(app)

    def forget(self) -> None:
        """Locking: the app holds nothing it read while unlocked."""
        self.conflicts, self.conflict_count = [], None
        self.dashboard.forget()

    async def show_desk(self) -> None:
        """The Desk, a top-level screen (coordinators): nobody's record stays open behind it."""
        app = self._app
        app.touch()
        app.home = Screen.DESK
        app.form_problems, app.draft = {}, {}
        app.leave_record()
        app.profile = await app._run(app.gatepost.account.profile)
        await self.reload()
        app.screen = Screen.DESK
        await app.refresh_sync_status()
        app.on_screen()

    async def reload(self, *, dashboard: bool = True) -> None:
        """Read the open conflicts from this phone (only a coordinator's phone lists them), and
        count the caseload dashboard again unless ``dashboard`` is False."""
        if not self._app.is_coordinator:
            self.forget()
            return
        if dashboard:
            await self.dashboard.reload()
        try:
            self.conflicts = await self._app._run(self._app.gatepost.conflicts.open_conflicts)
        except AppError as error:
            self.conflicts = []
            self._app.on_notice(Notice(error.message, is_error=True))
        self.conflict_count = len(self.conflicts)

    async def keep(self, key: str, change_id: str) -> None:
        """Settle a conflict by keeping one of the values people gave."""
        app = self._app
        settled = await app._guarded(lambda: app.gatepost.conflicts.keep(key, change_id))
        await self._after(settled, key)

    async def save_new_value(self, key: str, typed: str) -> None:
        """Settle a conflict with a value typed on the Desk."""
        app = self._app
        app.draft = {**app.draft, key: typed}
        settled = await app._guarded(lambda: app.gatepost.conflicts.settle_with(key, typed))
        await self._after(settled, key)

    async def _after(self, settled: OpenConflict | None, key: str) -> None:
        app = self._app
        if settled is None:
            await self.reload(dashboard=False)  # settled elsewhere meanwhile: the list leaves it out
            app.on_screen()
            return
        app.form_problems.pop(key, None)
        app.draft = {name: value for name, value in app.draft.items() if name != key}
        await self.reload(dashboard=False)
        app.on_screen()
        app.on_notice(Notice(f"Settled: {settled.title}. Other phones get it at their next sync."))
        await app.sync_now(quiet=True)

    async def open_record(self, key: str) -> None:
        """One tap from a conflict to its record: the person, or the service being edited."""
        item = next((conflict for conflict in self.conflicts if conflict.key == key), None)
        if item is None:
            return
        if item.case_id is not None:
            await self._app.open_person(item.case_id)
        else:
            await self._app.directory.start_editing(item.record_id)
