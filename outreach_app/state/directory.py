"""``DirectoryState``: the service directory (the "Services" screen, a top-level screen beside Today
and the caseload) and the worker's intents about it: search, filter by kind of service, add a
service, edit one (settling a disagreement), and choose one for a referral.

Composed into ``AppState`` as ``state.directory``; it uses the app state's plumbing (``_run``,
``_guarded``, the callbacks) and, like it, imports neither flet nor storage. Everything is read from
this phone and saved on it first; a sync sends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import DirectoryEntry
from outreach_app.state.navigation import Notice, Screen
from shared.kinds import DIRECTORY_ENTRY

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["DIRECTORY_SCREENS", "DirectoryState"]

# The screens this state shows (a sync refreshes the list; an inactivity lock comes back to them).
DIRECTORY_SCREENS = frozenset({Screen.SERVICES, Screen.EDIT_SERVICE, Screen.CHOOSE_SERVICE})
FIELDS = tuple(DIRECTORY_ENTRY.fields)


class DirectoryState:
    def __init__(self, app: AppState) -> None:
        self._app = app
        self.entries: list[DirectoryEntry] = []
        self.search_text = ""
        self.service_filter = ""  # a kind of service, or "" for every kind
        self.show_closed = False  # list services no longer running too
        # Why this phone shows no directory (a peer mentor, or no organisation key yet), or None.
        self.unavailable: str | None = None
        # The entry being edited (None: adding a new one), and its id (kept across a lock).
        self.editing: DirectoryEntry | None = None
        self.editing_id: str | None = None

    def forget(self) -> None:
        """Locking: the app holds nothing it read while unlocked."""
        self.entries, self.editing = [], None

    # --- the list -------------------------------------------------------------------------------

    async def show_services(self) -> None:
        """The Services screen, a top-level screen: nobody's record stays open behind it."""
        app = self._app
        app.touch()
        app.home = Screen.SERVICES
        app.form_problems, app.draft = {}, {}
        app.leave_record()
        app.profile = await app._run(app.gatepost.account.profile)
        await self.reload()
        app.screen = Screen.SERVICES
        await app.refresh_sync_status()
        app.on_screen()

    async def reload(self) -> None:
        """Read the directory (and the entry being edited) from this phone."""
        directory = self._app.gatepost.directory
        search, service = self.search_text, self.service_filter or None
        try:
            self.unavailable = await self._app._run(directory.unavailable_reason)
            if self.unavailable is not None:
                self.entries, self.editing = [], None
                return
            closed = self.show_closed and self._app.screen is not Screen.CHOOSE_SERVICE
            self.entries = await self._app._run(lambda: directory.entries(search, service, include_closed=closed))
            editing_id = self.editing_id
            self.editing = await self._app._run(lambda: directory.entry(editing_id)) if editing_id else None
        except AppError as error:
            self.entries, self.editing = [], None
            self.unavailable = error.message

    async def search(self, text: str) -> None:
        self._app.touch()
        self.search_text = text
        await self.reload()
        self._app.on_screen()

    async def filter_by(self, service: str) -> None:
        self._app.touch()
        self.service_filter = "" if service in ("", "all") else service
        await self.reload()
        self._app.on_screen()

    async def include_closed(self, shown: bool) -> None:
        self._app.touch()
        self.show_closed = shown
        await self.reload()
        self._app.on_screen()

    # --- adding and editing ---------------------------------------------------------------------

    def start_adding(self) -> None:
        self.editing, self.editing_id = None, None
        self._app.open_form(Screen.EDIT_SERVICE, {"service": self.service_filter} if self.service_filter else {})

    async def start_editing(self, record_id: str) -> None:
        app = self._app
        app.touch()
        entry = await app._guarded(lambda: app.gatepost.directory.entry(record_id))
        if not isinstance(entry, DirectoryEntry):
            return
        self.editing, self.editing_id = entry, record_id
        self._app.open_form(Screen.EDIT_SERVICE, {name: entry.values.get(name, "") for name in FIELDS})

    async def save(self, values: Mapping[str, str]) -> None:
        """Add the service, or save the fields of the one being edited that changed."""
        app = self._app
        app.draft = {name: str(value) for name, value in values.items()}
        directory = app.gatepost.directory
        editing = self.editing
        if editing is None:
            saved = await app._guarded(lambda: directory.add_entry(values))
            if saved is None:
                return
            message = f"{values.get('name', '').strip()} added to the services on this phone."
        else:
            current = editing.values
            changed = {name: value for name, value in values.items() if value.strip() != current.get(name, "")}
            written = await app._guarded(lambda: directory.update_entry(editing.record_id, changed))
            if written is None:
                return
            message = "Service saved on this phone." if changed else "Nothing was changed."
        self.editing, self.editing_id = None, None
        await self._back_to_list(message)
        await app.sync_now(quiet=True)

    async def settle(self, field: str, conflict_id: str, value: str) -> None:
        """Keep one of two values two people gave a field; the edit form stays open."""
        app, editing = self._app, self.editing
        if editing is None:
            return
        settled = await app._guarded(
            lambda: app.gatepost.directory.settle_conflict(editing.record_id, field, conflict_id, value)
        )
        if settled is None:
            return
        app.on_notice(Notice(f"{DIRECTORY_ENTRY.fields[field].label} settled: {value}"))
        await self.reload()
        app.draft[field] = value
        app.on_screen()
        await app.sync_now(quiet=True)

    async def cancel(self) -> None:
        self.editing, self.editing_id = None, None
        await self._back_to_list(None)

    async def _back_to_list(self, message: str | None) -> None:
        app = self._app
        app.form_problems, app.draft = {}, {}
        await self.reload()
        app.screen = Screen.SERVICES
        app.on_screen()
        if message:
            app.on_notice(Notice(message))

    # --- choosing a service for a referral ------------------------------------------------------

    async def choose_for_referral(self) -> None:
        """From the referral form: the directory to pick from; the form keeps what was typed."""
        app = self._app
        app.touch()
        app.form_problems = {}
        await self.reload()
        app.screen = Screen.CHOOSE_SERVICE
        app.on_screen()

    def use_for_referral(self, entry: DirectoryEntry | None) -> None:
        """Back to the referral form, with the kind of service and "Referred to" filled in."""
        app = self._app
        app.touch()
        if entry is not None:
            app.draft["service"], app.draft["to_whom"] = entry.service, entry.name
        app.screen = Screen.REFER
        app.on_screen()
        if entry is not None:
            app.on_notice(Notice(f"{entry.name} chosen from the service directory."))
