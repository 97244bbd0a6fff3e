"""``DashboardState``: the coordinator's caseload dashboard on the Desk, and the worker opened from it.

Composed into ``DeskState`` as ``state.desk.dashboard``; it uses the app state's plumbing and, like
it, imports neither flet nor storage. The filters (a worker, whether people work with us, a release
window) are applied by ``DashboardService``; the state keeps the ones chosen while the app is
unlocked and forgets them, with everything it read, when it locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import Dashboard, DashboardFilters, WorkerCaseload
from outreach_app.state.navigation import Notice, Screen

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["DashboardState"]


class DashboardState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.board: Dashboard | None = None
        self.filters = DashboardFilters()
        self.worker_key: str | None = None  # the worker whose people are open

    def forget(self) -> None:
        self.board, self.filters, self.worker_key = None, DashboardFilters(), None

    def place(self) -> dict[str, str]:
        """The worker open and the filters chosen, to show the same list again after the PIN."""
        filters = self.filters
        return {
            "worker": self.worker_key or "",
            "filter_worker": filters.worker or "",
            "filter_engagement": filters.engagement or "",
            "filter_release": str(filters.release_days or ""),
        }

    def restore(self, place: dict[str, str]) -> None:
        """Back to a ``place()`` (the caller counts the board again)."""
        release = place.get("filter_release", "")
        self.worker_key = place.get("worker") or None
        self.filters = DashboardFilters(
            worker=place.get("filter_worker") or None,
            engagement=place.get("filter_engagement") or None,
            release_days=int(release) if release.isdigit() else None,
        )

    async def reload(self) -> None:
        """Count the team's caseloads on this phone (a coordinator's) with the filters chosen."""
        app = self._app
        if not app.is_coordinator:
            self.forget()
            return
        filters = self.filters
        try:
            self.board = await app._run(lambda: app.gatepost.dashboard.dashboard(filters))
        except AppError as error:
            self.board = None
            app.on_notice(Notice(error.message, is_error=True))

    async def choose(
        self, *, worker: str | None = None, engagement: str | None = None, release: str | None = None
    ) -> None:
        """Change a filter: ``""`` means everyone; ``None`` leaves that filter as it is."""
        app = self._app
        app.touch()
        current = self.filters
        self.filters = DashboardFilters(
            worker=current.worker if worker is None else worker or None,
            engagement=current.engagement if engagement is None else engagement or None,
            release_days=current.release_days if release is None else int(release) if release else None,
        )
        await self.reload()
        app.on_screen()

    @property
    def worker(self) -> WorkerCaseload | None:
        if self.board is None or self.worker_key is None:
            return None
        return self.board.worker(self.worker_key)

    async def open_worker(self, key: str) -> None:
        """One worker's people, each opening their record."""
        app = self._app
        app.touch()
        self.worker_key = key
        app.screen = Screen.WORKER_CASELOAD
        app.on_screen()

    async def back_to_desk(self) -> None:
        self.worker_key = None
        await self._app.desk.show_desk()
