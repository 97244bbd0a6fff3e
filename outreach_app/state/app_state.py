"""``AppState``: the worker's intents (sign in, unlock, add a person, log a contact, sync) and
what the screens show. It runs the blocking services off the event loop and tells the views
what changed through three callbacks: the screen, the sync bar, and a notice to show.

Views never touch storage or the network; services never import flet. This module imports
neither flet nor storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from outreach_app.errors import (
    AppError,
    DeviceKeyDestroyed,
    DeviceRevoked,
    NotReady,
    SessionExpired,
    ValidationFailed,
    WrongPin,
)
from outreach_app.services import (
    AccountStatus,
    AuditEvent,
    CaseSharing,
    CaseState,
    FollowUp,
    Gatepost,
    Mentors,
    PersonRecord,
    PersonSummary,
    Profile,
    RegisteredDevice,
    SubjectAccessFile,
    SyncStatus,
    store_rebuilt_message,
    system_now_ms,
)
from outreach_app.state.day import DayState
from outreach_app.state.desk import DeskState
from outreach_app.state.directory import DIRECTORY_SCREENS, DirectoryState
from outreach_app.state.lead import LeadState
from outreach_app.state.navigation import NOT_FORMS, RESUMABLE, TOP_LEVEL, Notice, Screen
from outreach_app.state.outcomes import OutcomesState
from outreach_app.state.plan import PlanState
from outreach_app.state.team import TeamState
from shared.protocol import Role

__all__ = ["AppState", "Notice", "Screen", "kept_for", "sync_status_text", "time_ago"]

T = TypeVar("T")

# A form's draft is kept on the phone this long after the last keystroke.
DRAFT_KEPT_AFTER_SECONDS = 1.0
# How often an unlocked app tries to sync by itself, and refreshes "Synced N min ago".
AUTO_SYNC_SECONDS = 30.0


def sync_status_text(status: SyncStatus, *, syncing: bool, now_ms: int) -> str:
    """The one line that always tells the worker where their work is."""
    if syncing:
        return "Syncing…"
    if status.pending:
        waiting = f"{status.pending} change{'s' if status.pending != 1 else ''} waiting"
        return f"{waiting} — offline" if status.offline else waiting
    if status.offline:
        return "Offline — everything you saved is on this phone"
    if status.last_synced_at_ms is None:
        return "Not synced yet"
    return f"Synced {time_ago(status.last_synced_at_ms, now_ms)}"


def kept_for(days: int) -> str:
    """ "2192 days (about 6 years)", "30 days"."""
    if days < 365:
        return f"{days} day{'s' if days != 1 else ''}"
    years = round(days / 365.25)
    return f"{days} days (about {years} year{'s' if years != 1 else ''})"


def time_ago(then_ms: int, now_ms: int) -> str:
    """ "just now", "5 min ago", "3 h ago", "4 days ago"."""
    minutes = max(0, now_ms - then_ms) // 60_000
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"


class AppState:
    """One per app session (a phone, or a browser tab in web mode)."""

    def __init__(
        self,
        gatepost: Gatepost,
        *,
        default_server_url: str,
        device_name: str,
        now_ms: Callable[[], int] = system_now_ms,
        lock_after_seconds: int = 5 * 60,
    ) -> None:
        self.gatepost = gatepost
        self.default_server_url = default_server_url
        self.device_name = device_name
        self.now_ms = now_ms
        self.screen = Screen.SIGN_IN
        # The top-level screen the worker last chose (Today or the caseload); Back returns there.
        self.home = Screen.TODAY
        self.day = DayState(self)
        self.lead = LeadState(self)
        self.outcomes = OutcomesState(self)
        self.register_mode = False
        self.reset_mode = False  # the "I forgot my password" form
        self.busy = False
        self.profile: Profile | None = None
        self.people: list[PersonSummary] = []
        self.search_text = ""
        self.case_id: str | None = None
        self.record: PersonRecord | None = None
        # A coordinator's view of the open person's peer mentors; None when the server was unreachable.
        self.mentors: Mentors | None = None
        # Who the open person's record is shared with (coordinators and link workers; from the server).
        self.sharing: CaseSharing | None = None
        # A coordinator's view of whether the open person's case is closed; None when unreachable.
        self.case_state: CaseState | None = None
        self.form_problems: dict[str, str] = {}
        # What the worker typed into the open form, so a re-render (a problem shown) keeps it.
        self._draft: dict[str, str] = {}
        self._draft_task: asyncio.Task[None] | None = None
        self._draft_changed = False  # typed since the draft task last looked
        self.pin_message: str | None = None
        # Shown on the sign-in screen after this phone's database had to be rebuilt.
        self.sign_in_message: str | None = None
        self.syncing = False
        # False while the screen is away (a closed browser tab): nobody sees a background sync then.
        self.screen_connected = True
        self.auto_sync_seconds = AUTO_SYNC_SECONDS
        self.sync_progress: float | None = None
        self.sync_status: SyncStatus | None = None
        self.devices: list[RegisteredDevice] = []
        self.audit_events: list[AuditEvent] = []
        # Coordinators: shares made without consent, in plain words (shown with the audit trail).
        self.without_consent: list[str] = []
        # The server asked for the password again; unsaved forms stay open until the worker chooses.
        self.session_expired = False
        self.on_screen: Callable[[], None] = lambda: None
        # "system", "dark" or "light"; the views apply it and keep the choice on the phone.
        self.theme = "system"
        self.on_theme: Callable[[str], None] = lambda theme: None
        self.on_sync_bar: Callable[[], None] = lambda: None
        self.on_notice: Callable[[Notice], None] = lambda notice: None
        self._sync_lock = asyncio.Lock()
        # The last sync deleted a record a coordinator erased (said when the open record goes).
        self._erased_in_last_sync = False
        # Inactivity lock: what the worker last did, and where to take them back after the PIN.
        self.lock_after_ms = lock_after_seconds * 1000
        self.last_activity_ms = now_ms()
        self._resume: tuple[Screen, str | None, dict[str, str]] | None = None
        # The open person's needs, plan and referrals, and the intents about them.
        self.plan = PlanState(self)
        # The service directory (the Services screen) and the intents about it.
        self.directory = DirectoryState(self)
        # The coordinator's desk (conflicts to settle) and the intents about it.
        self.desk = DeskState(self)
        # The coordinator's Team screen (members, invitations, devices), opened from the Desk.
        self.team = TeamState(self)

    # --- start ---------------------------------------------------------------------------------

    async def start(self) -> None:
        status = await self._run(self.gatepost.account.status)
        rebuilt = await self._run(self.gatepost.account.store_rebuilt)
        self.sign_in_message = store_rebuilt_message(rebuilt) if rebuilt is not None else None
        self.screen = {
            AccountStatus.SIGNED_OUT: Screen.SIGN_IN,
            AccountStatus.NEEDS_PIN: Screen.SET_PIN,
            AccountStatus.LOCKED: Screen.UNLOCK,
            AccountStatus.UNLOCKED: Screen.TODAY,
        }[status]
        if status is AccountStatus.UNLOCKED:
            resume = await self._kept_draft()
            if resume is not None:
                await self._return_to(*resume)
            else:
                await self.go_home()
        else:
            self.on_screen()

    @property
    def unlocked(self) -> bool:
        return self.screen not in (Screen.SIGN_IN, Screen.SET_PIN, Screen.UNLOCK)

    def sync_text(self) -> str:
        if self.session_expired:
            return "Sign in again to send your changes"
        if self.sync_status is None:
            return "Not synced yet"
        return sync_status_text(self.sync_status, syncing=self.syncing, now_ms=self.now_ms())

    # --- signing in ----------------------------------------------------------------------------

    def show_register(self, register: bool) -> None:
        self.register_mode, self.reset_mode = register, False
        self.form_problems = {}
        self.on_screen()

    def show_reset(self, reset: bool) -> None:
        self.register_mode, self.reset_mode = False, reset
        self.form_problems = {}
        self.on_screen()

    async def reset_password(self, server_url: str, reset_code: str, email: str, new_password: str) -> None:
        self.draft = {"server": server_url, "code": reset_code, "email": email}
        problems = _required({"server": server_url, "reset_code": reset_code, "email": email, "password": new_password})
        if problems:
            return self._problems(problems)
        await self._account_step(
            lambda: self.gatepost.account.reset_password(
                server_url.strip(), reset_code.strip(), email.strip(), new_password, self.device_name
            )
        )
        if self.screen is not Screen.SIGN_IN:
            self.reset_mode = False

    async def create_password_reset(self, user_id: str) -> str | None:
        """A reset code to read out to a member (coordinators); None when it could not be made."""
        invitation = await self._guarded(lambda: self.gatepost.account.create_password_reset(user_id))
        return invitation.code if invitation is not None else None

    async def sign_in(self, server_url: str, email: str, password: str) -> None:
        self.draft = {"server": server_url, "email": email}
        problems = _required({"server": server_url, "email": email, "password": password})
        if problems:
            return self._problems(problems)
        await self._account_step(
            lambda: self.gatepost.account.sign_in(server_url.strip(), email.strip(), password, self.device_name)
        )

    async def register(
        self, server_url: str, invitation_code: str, display_name: str, email: str, password: str
    ) -> None:
        self.draft = {"server": server_url, "code": invitation_code, "name": display_name, "email": email}
        problems = _required(
            {"server": server_url, "code": invitation_code, "name": display_name, "email": email, "password": password}
        )
        if problems:
            return self._problems(problems)
        await self._account_step(
            lambda: self.gatepost.account.register(
                server_url.strip(),
                invitation_code.strip(),
                email.strip(),
                password,
                display_name.strip(),
                self.device_name,
            )
        )

    async def _account_step(self, step: Callable[[], Profile]) -> None:
        self.form_problems = {}
        profile = await self._guarded(step)
        if profile is None:
            return
        self.profile = profile
        self.session_expired = False
        self.sign_in_message = None
        status = await self._run(self.gatepost.account.status)
        if status is AccountStatus.NEEDS_PIN:
            self.screen = Screen.SET_PIN
            self.on_screen()
        else:
            await self.go_home()

    async def set_pin(self, pin: str, repeat: str) -> None:
        if pin != repeat:
            return self._problems({"repeat": "The two PINs are not the same."})
        if await self._guarded(lambda: self.gatepost.account.set_pin(pin)) is _FAILED:
            return
        await self.go_home()
        await self.sync_now(quiet=True)

    async def unlock(self, pin: str) -> None:
        try:
            await self._run(lambda: self.gatepost.account.unlock(pin))
        except WrongPin as wrong:
            tries = wrong.attempts_left
            self.pin_message = (
                f"Wrong PIN. {tries} {'try' if tries == 1 else 'tries'} left before this phone needs your password."
            )
            self.on_screen()
            return
        except DeviceKeyDestroyed as destroyed:
            self.pin_message = None
            self.screen = Screen.SIGN_IN
            self.register_mode = False
            self.on_screen()
            self.on_notice(Notice(destroyed.message, is_error=True))
            return
        except AppError as error:
            self.on_notice(Notice(error.message, is_error=True))
            return
        self.pin_message = None
        self.touch()
        resume, self._resume = self._resume, None
        if resume is None:
            resume = await self._kept_draft()
        if resume is not None and resume[0] in RESUMABLE:
            await self._return_to(*resume)
        else:
            await self.go_home()
        await self.sync_now(quiet=True)

    async def _kept_draft(self) -> tuple[Screen, str | None, dict[str, str]] | None:
        """A form the app was closed in the middle of (kept encrypted on the phone), if its person is
        still here."""
        draft = await self._run(self.gatepost.drafts.restore)
        if draft is None or draft.form not in {screen.value for screen in RESUMABLE - NOT_FORMS}:
            return None
        if draft.case_id is not None:
            try:
                await self._run(lambda: self.gatepost.records.person_record(draft.case_id or ""))
            except AppError:
                await self._run(self.gatepost.drafts.discard)
                return None
        self.on_notice(Notice("The form you had not saved is back, as you left it."))
        return Screen(draft.form), draft.case_id, dict(draft.fields)

    async def _return_to(self, screen: Screen, case_id: str | None, draft: dict[str, str]) -> None:
        """Back to where the worker was when the app locked itself, with what they had typed."""
        self.profile = await self._run(self.gatepost.account.profile)
        await self.refresh_sync_status()
        if case_id is not None:
            self.case_id = case_id
            self.record = await self._run(lambda: self.gatepost.records.person_record(case_id))
            await self.day.load_case(case_id)
            await self.lead.load_case(case_id)
            await self.outcomes.load_case(case_id)
            await self.plan.load(case_id)
        if screen is Screen.TODAY:
            await self.day.reload_today()
        if screen in DIRECTORY_SCREENS:
            await self.directory.reload()
        if screen is Screen.DESK:
            await self.desk.reload()
        if screen is Screen.TEAM:
            await self.team.reload()
        if screen is Screen.WORKER_CASELOAD:
            self.desk.dashboard.restore(draft)
            await self.desk.reload()
            draft = {}
        if screen is Screen.OUTCOMES:
            await self.outcomes.reload_report(draft.get("start", ""), draft.get("end", ""))
        self.draft, self.form_problems = draft, {}
        self.screen = screen
        self.on_screen()

    def toggle_dark_mode(self) -> None:
        """Dark at night in a car park, light in the sun: the worker's choice, kept on the phone."""
        self.touch()
        self.theme = "light" if self.theme == "dark" else "dark"
        self.on_theme(self.theme)
        self.on_screen()

    # --- inactivity ----------------------------------------------------------------------------

    def touch(self) -> None:
        """The worker did something: the inactivity lock starts counting again."""
        self.last_activity_ms = self.now_ms()

    def keep_draft(self, name: str, value: str) -> None:
        """What the worker is typing, kept so a lock (or a problem shown) does not lose it."""
        self._draft[name] = value
        self.touch()
        self._keep_draft_soon()

    @property
    def draft(self) -> dict[str, str]:
        """The open form's values as typed (kept on the phone too, encrypted, for a closed app)."""
        return self._draft

    @draft.setter
    def draft(self, values: dict[str, str]) -> None:
        self._draft = values
        self._keep_draft_soon()

    def _keep_draft_soon(self) -> None:
        """Keep the draft on the phone a moment after the last keystroke (one write, not one per key)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_draft()
            return
        self._draft_changed = True
        if self._draft_task is None or self._draft_task.done():
            self._draft_task = loop.create_task(self._write_draft_later())

    async def _write_draft_later(self) -> None:
        # Keystrokes that land while a write is under way are written by the next round.
        while self._draft_changed:
            await asyncio.sleep(DRAFT_KEPT_AFTER_SECONDS)
            self._draft_changed = False
            with contextlib.suppress(AppError):
                await self._run(self._write_draft)

    def _write_draft(self) -> None:
        if not self.unlocked or self.gatepost.account.status() is not AccountStatus.UNLOCKED:
            return  # no keys to encrypt it with; the form is still on screen or in the lock's memory
        if self.screen in RESUMABLE - TOP_LEVEL - NOT_FORMS and self.screen is not Screen.PERSON:
            self.gatepost.drafts.keep(self.screen.value, self.case_id, dict(self._draft))
        else:
            self.gatepost.drafts.discard()

    async def lock_if_idle(self) -> bool:
        """Lock when nobody has touched the unlocked app for ``lock_after_ms``; True when it locked."""
        if not self.unlocked or self.now_ms() - self.last_activity_ms < self.lock_after_ms:
            return False
        await self.lock(keep_place=True)
        self.on_notice(Notice("Locked after a few minutes without use. Your PIN opens it where you were."))
        return True

    async def auto_lock_forever(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(15.0, self.lock_after_ms / 4000)))
            await self.lock_if_idle()

    def _ask_for_password(self) -> None:
        self.screen = Screen.SIGN_IN
        self.register_mode = False
        self.on_screen()

    def use_password_instead(self) -> None:
        self.screen = Screen.SIGN_IN
        self.register_mode = False
        self.pin_message = None
        self.on_screen()

    def _place(self) -> tuple[Screen, str | None, dict[str, str]]:
        """Where the worker is, to come back to after the PIN: the screen, the person, the form as
        typed, and for the coordinator's lists the worker or period shown (never a person's details)."""
        if self.screen is Screen.WORKER_CASELOAD:
            return self.screen, None, self.desk.dashboard.place()
        if self.screen in (Screen.OUTCOMES, Screen.OUTCOME_PEOPLE):
            period = self.outcomes.period
            shown = {"start": period.start.isoformat(), "end": period.end.isoformat()} if period else {}
            return Screen.OUTCOMES, None, {**self.draft, **shown}  # the people behind a figure: the report
        if self.screen is Screen.TEAM:
            return self.screen, None, dict(self.draft)
        return self.screen, self.case_id, dict(self.draft)

    async def lock(self, *, keep_place: bool = False) -> None:
        """Forget the keys; nothing about a person stays on screen or in this state.

        ``keep_place`` (the inactivity lock): after the PIN, go back to the same screen and the
        same half-typed form; a lock the worker asked for goes back to the caseload.
        """
        self._resume = self._place() if keep_place else None
        with contextlib.suppress(AppError):
            await self._run(self._write_draft)  # while the keys are still here
        await self._run(self.gatepost.account.lock)
        self.people, self.record, self.devices, self.audit_events = [], None, [], []
        self.mentors, self.sharing, self.case_state = None, None, None
        self.day.forget()
        self.lead.forget()
        self.outcomes.forget()
        self.plan.clear()
        self.directory.forget()
        self.desk.forget()
        self.team.forget()
        self.screen = Screen.UNLOCK
        self.on_screen()

    # --- caseload and records ------------------------------------------------------------------

    async def go_home(self) -> None:
        """Back to the top-level screen the worker last chose: Today, the caseload or Services."""
        if self.home is Screen.CASELOAD:
            await self.show_caseload()
        elif self.home is Screen.SERVICES:
            await self.directory.show_services()
        elif self.home is Screen.DESK and self.is_coordinator:
            await self.desk.show_desk()
        else:
            await self.day.show_today()

    async def _enter_caseload(self) -> None:
        self.home = Screen.CASELOAD
        self.profile = await self._run(self.gatepost.account.profile)
        self.screen = Screen.CASELOAD
        await self._reload_people()
        await self.refresh_sync_status()
        self.on_screen()

    async def _reload_people(self) -> None:
        self.people = await self._run(lambda: self.gatepost.records.list_people(self.search_text)) or []

    async def search(self, text: str) -> None:
        self.touch()
        self.search_text = text
        await self._reload_people()
        self.on_screen()

    async def show_caseload(self) -> None:
        self.touch()
        self.form_problems = {}
        self.leave_record()
        await self._enter_caseload()

    def leave_record(self) -> None:
        """Going to a top-level screen: no person's record stays open behind it."""
        self.case_id, self.record, self.mentors, self.sharing, self.case_state = None, None, None, None, None
        self.plan.clear()
        self.outcomes.forget_case()

    def open_form(self, screen: Screen, draft: Mapping[str, str] | None = None) -> None:
        """Show a form, empty or started with ``draft`` (its empty values left out)."""
        self.touch()
        self.form_problems = {}
        self.draft = {key: value for key, value in (draft or {}).items() if value}
        self.screen = screen
        self.on_screen()

    def start_adding_person(self) -> None:
        self.open_form(Screen.ADD_PERSON)

    async def add_person(self, values: Mapping[str, str]) -> None:
        self.draft = dict(values)
        cleaned = {name: value.strip() for name, value in values.items() if value and value.strip()}
        case_id = await self._guarded(lambda: self.gatepost.records.add_person(cleaned))
        if case_id is None:
            return
        self.on_notice(Notice("Saved on this phone."))
        await self.open_person(case_id)
        await self.sync_now(quiet=True)

    async def open_person(self, case_id: str) -> None:
        self.touch()
        self.form_problems, self.draft = {}, {}
        if self.case_id != case_id:
            self.mentors, self.sharing, self.case_state = None, None, None
        self.case_id = case_id
        self.record = await self._run(lambda: self.gatepost.records.person_record(case_id))
        await self.day.load_case(case_id)
        await self.lead.load_case(case_id)
        await self.outcomes.load_case(case_id)
        await self.plan.load(case_id)
        self.screen = Screen.PERSON
        self.on_screen()  # at once, from the phone: opening a record never waits for the network
        # For the coordinators' audit trail; a record that cannot be written now is not worth a notice.
        with contextlib.suppress(AppError):
            await self._run(lambda: self.gatepost.records.note_case_viewed(case_id))
        # Mentors come from the server (coordinators): shown when they arrive, if still on this record.
        mentors = await self._case_mentors(case_id)
        case_state = await self._case_state(case_id)
        changed = (mentors, case_state) != (self.mentors, self.case_state)
        if changed and self.screen is Screen.PERSON and self.case_id == case_id:
            self.mentors, self.case_state = mentors, case_state
            self.on_screen()
        sharing = await self._case_sharing(case_id)
        if sharing != self.sharing and self.screen is Screen.PERSON and self.case_id == case_id:
            self.sharing = sharing
            self.on_screen()

    async def _case_sharing(self, case_id: str) -> CaseSharing | None:
        if self.is_mentor or self.record is None or self.record.shared_by is not None:
            return None
        try:
            return await self._run(lambda: self.gatepost.sharing.case_sharing(case_id))
        except AppError:
            return None  # offline, or the person has not reached the server yet: the screen says so

    def start_recording_consent(self, *, without_consent: bool = False) -> None:
        self.open_form(Screen.SHARE_WITHOUT_CONSENT if without_consent else Screen.RECORD_CONSENT)

    async def record_consent(
        self,
        *,
        recipients: list[str],
        tiers: list[str],
        purposes: str,
        explained: bool,
        consequences_explained: bool,
        recorded_how: str,
        consent_date: str,
        review_date: str,
    ) -> None:
        """Record the person's consent and share with the organisations they chose (online)."""
        case_id = self.case_id
        if case_id is None:
            return
        self.draft = {"purposes": purposes, "recorded_how": recorded_how, "consent_date": consent_date,
                      "review_date": review_date}  # fmt: skip
        sharing = await self._guarded(
            lambda: self.gatepost.sharing.record_consent(
                case_id,
                recipients=recipients,
                tiers=tiers,
                purposes=purposes,
                explained=explained,
                consequences_explained=consequences_explained,
                recorded_how=recorded_how,
                consent_date=consent_date.strip(),
                review_date=review_date.strip(),
            )
        )
        if sharing is None:
            return
        self.on_notice(Notice("Consent recorded. The organisations chosen receive the record at their next sync."))
        await self.open_person(case_id)

    async def share_without_consent(
        self,
        *,
        recipients: list[str],
        tiers: list[str],
        lawful_basis: str,
        reason: str,
        decided_by: str,
        decision_date: str,
        review_date: str,
    ) -> None:
        """Share on a recorded lawful basis (online)."""
        case_id = self.case_id
        if case_id is None:
            return
        self.draft = {"reason": reason, "decided_by": decided_by, "lawful_basis": lawful_basis,
                      "consent_date": decision_date, "review_date": review_date}  # fmt: skip
        sharing = await self._guarded(
            lambda: self.gatepost.sharing.share_without_consent(
                case_id,
                recipients=recipients,
                tiers=tiers,
                lawful_basis=lawful_basis,
                reason=reason,
                decided_by=decided_by,
                decision_date=decision_date.strip(),
                review_date=review_date.strip(),
            )
        )
        if sharing is None:
            return
        self.on_notice(Notice("Shared without consent. The coordinator sees it in the list of such shares."))
        await self.open_person(case_id)

    def start_renewing_consent(self, share_id: str) -> None:
        """The renewal form, started with what the person agreed to last time."""
        sharing = self.sharing
        share = next((s for s in sharing.active if s.share_id == share_id), None) if sharing else None
        if sharing is None or share is None:
            return  # ended meanwhile: the record shows it
        last = next((r for r in sharing.records if r.record_id == share.record_id), None)
        self.open_form(
            Screen.RENEW_CONSENT,
            {
                "share_id": share_id,
                "partner": share.partner_org_name,
                "purposes": last.purposes if last else "",
                "recorded_how": last.recorded_how if last else "",
            },
        )

    async def renew_consent(
        self,
        *,
        purposes: str,
        explained: bool,
        consequences_explained: bool,
        recorded_how: str,
        consent_date: str,
        review_date: str,
    ) -> None:
        """Renew the consent a share rests on, with a new review date (online)."""
        case_id, share_id = self.case_id, self.draft.get("share_id", "")
        if case_id is None or not share_id:
            return
        partner = self.draft.get("partner", "")
        self.draft = {**self.draft, "purposes": purposes, "recorded_how": recorded_how,
                      "consent_date": consent_date, "review_date": review_date}  # fmt: skip
        sharing = await self._guarded(
            lambda: self.gatepost.sharing.renew(
                case_id,
                share_id,
                purposes=purposes,
                explained=explained,
                consequences_explained=consequences_explained,
                recorded_how=recorded_how,
                consent_date=consent_date.strip(),
                review_date=review_date.strip(),
            )
        )
        if sharing is None:
            return
        self.on_notice(Notice(f"Consent renewed. {partner or 'The organisation'} goes on receiving the record."))
        await self.open_person(case_id)

    async def withdraw_share(self, share_id: str, partner_name: str) -> None:
        """Withdraw a share of the open person's record (online)."""
        case_id = self.case_id
        if case_id is None:
            return
        if await self._guarded(lambda: self.gatepost.sharing.withdraw(case_id, share_id)) is None:
            return
        self.on_notice(Notice(f"{partner_name} no longer receives this record. Their phones delete it."))
        await self.open_person(case_id)

    @property
    def is_coordinator(self) -> bool:
        return self.profile is not None and self.profile.role is Role.COORDINATOR

    @property
    def is_mentor(self) -> bool:
        return self.profile is not None and self.profile.role is Role.PEER_MENTOR

    async def _case_mentors(self, case_id: str) -> Mentors | None:
        if not self.is_coordinator:
            return None
        try:
            return await self._run(lambda: self.gatepost.mentors.mentors(case_id))
        except AppError:
            return None  # offline, or the person has not reached the server yet: the screen says so

    async def _case_state(self, case_id: str) -> CaseState | None:
        if self.is_mentor or (self.record is not None and self.record.shared_by is not None):
            return None
        try:
            return await self._run(lambda: self.gatepost.cases.status(case_id))
        except AppError:
            return None  # offline, or not on the server yet: the screen says so

    # --- closing and erasing (coordinators; online) --------------------------------------------

    async def close_case(self) -> None:
        case_id = self.case_id
        if case_id is None:
            return
        closed = await self._guarded(lambda: self.gatepost.cases.close_case(case_id))
        if closed is None:
            return
        self.case_state = closed
        self.on_notice(Notice(f"Case closed. It is kept {kept_for(closed.retention_days)}, then erased."))
        await self.open_person(case_id)

    async def reopen_case(self) -> None:
        case_id = self.case_id
        if case_id is None:
            return
        reopened = await self._guarded(lambda: self.gatepost.cases.reopen_case(case_id))
        if reopened is None:
            return
        self.case_state = reopened
        self.on_notice(Notice("Case reopened. It is kept until it is closed again."))
        await self.open_person(case_id)

    async def erase_record(self) -> None:
        """Erase the open person's record everywhere (the view has asked for confirmation)."""
        case_id = self.case_id
        if case_id is None:
            return
        name = self.record.name if self.record is not None and self.record.name else "The person"
        if await self._guarded(lambda: self.gatepost.cases.erase_case(case_id)) is None:
            return
        await self.go_home()
        await self.refresh_sync_status()
        self.on_notice(
            Notice(
                f"{name}'s record was erased from the server and this phone. Other phones delete it at their next sync."
            )
        )

    async def set_retention_days(self, days_text: str) -> None:
        text = days_text.strip()
        if not text.isdigit():
            return self._problems({"retention_days": "Give the number of days, for example 2192 for six years."})
        days = await self._guarded(lambda: self.gatepost.cases.set_retention_days(int(text)))
        if days is None:
            return
        self.form_problems = {}
        self.on_notice(Notice(f"Closed cases are now kept {kept_for(days)}, then erased."))
        if self.case_id is not None:
            await self.open_person(self.case_id)

    async def assign_mentor(self, user_id: str | None) -> None:
        """Assign a peer mentor to the open person (coordinators; online)."""
        case_id = self.case_id
        if case_id is None:
            return
        if not user_id:
            return self._problems({"mentor": "Choose a peer mentor to assign."})
        mentors = await self._guarded(lambda: self.gatepost.mentors.assign_mentor(case_id, user_id))
        if mentors is None:
            return
        name = next((m.display_name for m in mentors.assigned if m.user_id == user_id), "The mentor")
        self.on_notice(Notice(f"{name} is now a peer mentor of this person. Their phone gets the basic details."))
        await self.open_person(case_id)

    async def unassign_mentor(self, user_id: str, name: str) -> None:
        """Unassign a peer mentor from the open person (coordinators; online)."""
        case_id = self.case_id
        if case_id is None:
            return
        if await self._guarded(lambda: self.gatepost.mentors.unassign_mentor(case_id, user_id)) is None:
            return
        self.on_notice(Notice(f"{name} is no longer a peer mentor of this person. Their phone deletes the record."))
        await self.open_person(case_id)

    def start_logging_contact(self) -> None:
        self.open_form(Screen.LOG_CONTACT)

    def default_contact_time(self) -> str:
        return dt.datetime.fromtimestamp(self.now_ms() / 1000).strftime("%Y-%m-%d %H:%M")

    async def log_contact(
        self,
        *,
        occurred_at: str,
        setting: str,
        contact_type: str,
        note: str,
        basis: str,
        tier: str,
        duration: str = "",
        need_areas: Sequence[str] = (),
        follow_up_on: str = "",
        follow_up_action: str = "",
    ) -> None:
        """Save a contact, and with it (in the same step) the follow-up when a date is given."""
        case_id = self.case_id
        if case_id is None:
            return
        self.draft = {
            "occurred_at": occurred_at,
            "setting": setting,
            "contact_type": contact_type,
            "note": note,
            "basis": basis,
            "tier": tier,
            "duration": duration,
            "need_areas": ",".join(need_areas),
            "follow_up_on": follow_up_on,
            "follow_up_action": follow_up_action,
        }
        when = occurred_at.strip().replace(" ", "T", 1)
        follow_up = FollowUp(due_on=follow_up_on, action=follow_up_action) if follow_up_on else None
        saved = await self._guarded(
            lambda: self.gatepost.records.log_contact(
                case_id,
                occurred_at=when,
                setting=setting,
                contact_type=contact_type,
                note=note.strip(),
                basis=basis,
                tier=tier,
                duration=duration,
                need_areas=need_areas,
                follow_up=follow_up,
            )
        )
        if saved is None:
            return
        self.on_notice(
            Notice("Contact and follow-up saved on this phone." if follow_up else "Contact saved on this phone.")
        )
        await self.open_person(case_id)
        await self.sync_now(quiet=True)

    async def update_field(self, field: str, value: str, settles: tuple[str, ...] = ()) -> None:
        case_id = self.case_id
        if case_id is None:
            return
        result = await self._guarded(
            lambda: self.gatepost.records.update_person(case_id, field, value.strip(), settles=settles)
        )
        if result is _FAILED:
            return
        await self.open_person(case_id)
        await self.sync_now(quiet=True)

    # --- devices -------------------------------------------------------------------------------

    async def show_devices(self) -> None:
        """Your devices (a coordinator: the team's), from the server."""
        devices = await self._guarded(self.gatepost.account.devices)
        if devices is None:
            return
        self.devices = list(devices)
        self.screen = Screen.DEVICES
        self.on_screen()

    async def sign_out_device(self, device_id: str) -> None:
        signed_out = await self._guarded(lambda: self.gatepost.account.sign_out_device(device_id))
        if signed_out is None:
            return
        self.on_notice(
            Notice(f"{signed_out.name} is signed out. It will erase its Gatepost data when it next connects.")
        )
        await self.show_devices()

    async def export_record(self) -> SubjectAccessFile | None:
        """The open person's whole record as a file (coordinators); the view saves it."""
        case_id = self.case_id
        if case_id is None:
            return None
        return await self._guarded(lambda: self.gatepost.exports.subject_access(case_id))

    def note_export_saved(self, file_name: str, saved: bool) -> None:
        if not saved:
            self.on_notice(Notice("The record was not saved."))
            return
        self.on_notice(Notice(f"Saved {file_name}. Give it to the person; keep no copy you do not need."))

    async def show_audit_trail(self) -> None:
        """The organisation's audit trail, newest first (coordinators)."""
        events = await self._guarded(self.gatepost.account.audit_trail)
        if events is None:
            return
        views = await self._run(self.gatepost.records.case_views)
        opened = [
            AuditEvent(
                position=0,
                at_ms=view.at_ms,
                action="record_opened",
                text=f"{view.viewer} opened {view.person}'s record",
            )
            for view in views
        ]
        # The server's trail and the record views this phone can read, newest first.
        self.audit_events = sorted([*events, *opened], key=lambda event: event.at_ms, reverse=True)
        names = {person.case_id: person.name or "Someone" for person in self.people}
        try:
            self.without_consent = await self._run(lambda: self.gatepost.sharing.without_consent_lines(names))
        except AppError:
            self.without_consent = []
        self.screen = Screen.AUDIT
        self.on_screen()

    def _after_revocation(self, revoked: DeviceRevoked) -> None:
        """This device was signed out elsewhere and has erased itself: nothing of the caseload stays on screen."""
        self.profile, self.people, self.record, self.case_id = None, [], None, None
        self.mentors, self.sharing, self.case_state = None, None, None
        self.devices, self.audit_events = [], []
        self.plan.clear()
        self.outcomes.forget()
        self.directory.forget()
        self.desk.forget()
        self.team.forget()
        self.draft, self.form_problems, self.session_expired = {}, {}, False
        # Said on the sign-in screen until they sign in again: a notice that fades would leave a worker
        # looking at an empty phone with no idea why.
        self.sign_in_message = revoked.message
        self.screen = Screen.SIGN_IN
        self.register_mode = False
        self.on_screen()

    # --- sync ----------------------------------------------------------------------------------

    async def refresh_sync_status(self) -> None:
        self.sync_status = await self._run(self.gatepost.sync.status)
        self.on_sync_bar()

    async def sync_now(self, *, quiet: bool = False) -> None:
        """Push and pull now. ``quiet`` (automatic syncs) shows no notice when offline."""
        if not quiet:
            self.touch()
        if not self.unlocked or self._sync_lock.locked():
            return
        if self.session_expired:
            if not quiet:
                self._ask_for_password()
            return
        async with self._sync_lock:
            self.syncing, self.sync_progress = True, 0.0
            self.on_sync_bar()
            loop = asyncio.get_running_loop()

            def progress(fraction: float, _what: str) -> None:
                self.sync_progress = fraction
                loop.call_soon_threadsafe(self.on_sync_bar)

            try:
                report = await self._run(lambda: self.gatepost.sync.sync_now(progress))
            except DeviceRevoked as revoked:
                self.syncing, self.sync_progress = False, None
                self._after_revocation(revoked)
                return
            except SessionExpired as expired:
                self.syncing, self.sync_progress = False, None
                self.session_expired = True
                await self.refresh_sync_status()
                self.on_notice(Notice(f"{expired.message} Press Sign in when you are ready.", is_error=True))
                return
            except AppError as error:
                report = None
                self.on_notice(Notice(error.message, is_error=True))
            finally:
                self.syncing, self.sync_progress = False, None
            await self.refresh_sync_status()
        if report is not None:
            if report.keys_opened or (self.profile is not None and not self.profile.has_organisation_key):
                self.profile = await self._run(self.gatepost.account.profile)
            if report.offline and not quiet:
                self.on_notice(Notice(report.message or "No connection. Your work is saved on this phone."))
            if report.not_accepted:
                self.on_notice(
                    Notice(f"The server did not accept {len(report.not_accepted)} change(s); see the record.", True)
                )
            if report.erased:
                people = "person's record" if report.erased == 1 else "people's records"
                self.on_notice(Notice(f"A coordinator erased {report.erased} {people}: deleted from this phone."))
            if report.dropped:
                self.on_notice(
                    Notice(
                        f"{report.dropped} unsent change(s) about a person no longer on this phone were deleted "
                        "with their record (it was erased, or you no longer work with them).",
                        is_error=True,
                    )
                )
            self._erased_in_last_sync = report.erased > 0
            if report.received or report.sent or report.keys_opened or report.purged:
                await self._refresh_read_screens()
            elif self.screen in (Screen.CASELOAD, Screen.TODAY, Screen.SERVICES, Screen.DESK):
                self.on_screen()

    async def _refresh_read_screens(self) -> None:
        # Forms keep what the worker is typing; only read-only screens are rebuilt.
        if self.screen is Screen.CASELOAD:
            await self._reload_people()
            self.on_screen()
        elif self.screen is Screen.TODAY:
            await self.day.reload_today()
            self.on_screen()
        elif self.screen in (Screen.SERVICES, Screen.CHOOSE_SERVICE):
            await self.directory.reload()
            self.on_screen()
        elif self.screen is Screen.DESK:
            await self.desk.reload()
            self.on_screen()
        elif self.screen is Screen.PERSON and self.case_id is not None:
            await self._reload_record(self.case_id)

    async def _reload_record(self, case_id: str) -> None:
        """Rebuild the open record in place; if the worker moved on meanwhile (listing the mentors
        waits for the server), leave their new screen alone rather than taking them back."""
        try:
            record = await self._run(lambda: self.gatepost.records.person_record(case_id))
        except NotReady:
            # No longer on this phone (a peer mentor was unassigned from the person).
            if self.screen is Screen.PERSON and self.case_id == case_id:
                await self.go_home()
                if self._erased_in_last_sync:
                    self.on_notice(Notice("A coordinator erased this person's record: it is no longer on this phone."))
                else:
                    self.on_notice(Notice("This person is no longer on this phone."))
            return
        mentors = await self._case_mentors(case_id)
        case_state = await self._case_state(case_id)
        if self.screen is Screen.PERSON and self.case_id == case_id:
            await self.day.load_case(case_id)
            await self.lead.load_case(case_id)
            await self.outcomes.load_case(case_id)
            await self.plan.load(case_id)
            self.record, self.mentors, self.case_state = record, mentors, case_state
            self.on_screen()

    async def auto_sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.auto_sync_seconds)
            if self.unlocked and self.screen_connected:
                await self.sync_now(quiet=True)

    def screen_left(self) -> None:
        """The screen went away (a browser tab closed or lost its connection).

        The session lingers in case it comes back; until then it does not sync by itself, so an
        abandoned tab costs nothing. The inactivity lock still runs.
        """
        self.screen_connected = False

    def screen_returned(self) -> None:
        self.screen_connected = True

    # --- plumbing ------------------------------------------------------------------------------

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    async def _guarded(self, work: Callable[[], T]) -> T | None:
        """Run a service call; show a plain message instead of raising. ``None`` means it failed."""
        self.touch()
        self.busy = True
        self.on_sync_bar()
        try:
            result = await self._run(work)
        except ValidationFailed as invalid:
            self._problems(invalid.problems)
            return None
        except DeviceRevoked as revoked:
            self._after_revocation(revoked)
            return None
        except SessionExpired as expired:
            self.session_expired = True
            self.on_notice(Notice(expired.message, is_error=True))
            self.on_sync_bar()
            return None
        except AppError as error:
            self.on_notice(Notice(error.message, is_error=True))
            return None
        finally:
            self.busy = False
            self.on_sync_bar()
        return _DONE if result is None else result  # type: ignore[return-value]

    def _problems(self, problems: Mapping[str, str]) -> None:
        self.form_problems = dict(problems)
        self.on_screen()
        self.on_notice(Notice(next(iter(problems.values())), is_error=True))


class _Sentinel:
    pass


# ``_guarded`` returns ``_DONE`` for a successful call that returns None, and None on failure.
_DONE = _Sentinel()
_FAILED = None


def _required(values: Mapping[str, str]) -> dict[str, str]:
    labels = {
        "server": "Server address",
        "email": "Email",
        "password": "Password",
        "code": "Invitation code",
        "reset_code": "Reset code",
        "name": "Your name",
    }
    return {name: f"{labels[name]} is needed." for name, value in values.items() if not value or not value.strip()}
