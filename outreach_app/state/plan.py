"""``PlanState``: the open person's needs, plan (actions and follow-ups) and referrals, and the
worker's intents about them: rate a need, add to the plan, mark an action done, refer (after
reading the referral summary), and move a referral on.

``AppState`` composes one (``state.plan``) and asks it to reload whenever the person's record is
loaded, so a sync that brings a colleague's rating shows it. Like ``AppState`` this module imports
neither flet nor storage: blocking calls go through the app state's ``_run`` and ``_guarded``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from outreach_app.errors import AppError
from outreach_app.services import NeedHistory, PlanAction, Referral
from outreach_app.state.navigation import Notice, Screen
from shared.kinds import NEED_RATING, REFERRAL, validate_value
from shared.resettlement import NEED_AREAS, FollowUpState

if TYPE_CHECKING:
    from outreach_app.state.app_state import AppState

__all__ = ["NEXT_STATUSES", "PlanState", "ReferralSummary", "day_text", "movement_text", "referral_next_statuses"]

# Where a referral can go from each status (declined and started are where it ends).
NEXT_STATUSES: Mapping[str, tuple[str, ...]] = {
    "sent": ("accepted", "declined"),
    "accepted": ("started", "declined"),
    "declined": (),
    "started": (),
}


def referral_next_statuses(referral: Referral) -> tuple[str, ...]:
    return NEXT_STATUSES.get(referral.status, ())


def day_text(day: dt.date, today: dt.date | None = None) -> str:
    """ "3 Nov" this year, "3 Nov 2025" another year."""
    if today is not None and day.year == today.year:
        return f"{day.day} {day:%b}"
    return f"{day.day} {day:%b %Y}"


def movement_text(need: NeedHistory, today: dt.date | None = None) -> str:
    """Distance travelled in words: "Moved 2 steps towards green since 3 Nov"."""
    first = need.ratings[0]
    since = day_text(first.rated_on, today)
    if len(need.ratings) == 1 or need.distance is None:
        return f"First rated on {since}"
    steps = abs(need.distance)
    if steps == 0:
        return f"No overall change since {since}"
    towards = "green" if need.distance > 0 else "red"
    return f"Moved {steps} step{'s' if steps != 1 else ''} towards {towards} since {since}"


@dataclass(frozen=True)
class ReferralSummary:
    """What the worker reads before a referral is recorded: the person's whole picture, every need
    and not only offending. The app sends it nowhere; the worker reads it out or copies it."""

    name: str
    service_label: str
    to_whom: str
    need_label: str | None
    sent_on: dt.date
    goals: str | None
    needs: tuple[NeedHistory, ...]  # every rated need, latest rating with its reason
    not_rated: tuple[str, ...]  # need areas nobody has rated yet
    open_actions: tuple[PlanAction, ...]

    def as_text(self, today: dt.date | None = None) -> str:
        lines = [f"Referral of {self.name} to {self.to_whom} ({self.service_label})"]
        if self.need_label:
            lines.append(f"For: {self.need_label}")
        lines += ["", "Their own goals:", self.goals or "Not written down yet.", "", "Needs:"]
        for need in self.needs:
            latest = need.latest
            line = f"- {need.label}: {latest.rating.value.capitalize()} on {day_text(latest.rated_on, today)}"
            if latest.reason:
                line += f" - {latest.reason}"
            if latest.handled:
                line += f" ({latest.handled})"
            lines.append(line)
        if not self.needs:
            lines.append("- No need rated yet.")
        if self.not_rated:
            lines.append(f"Not rated yet: {', '.join(self.not_rated)}.")
        lines += ["", "Open actions of their plan:"]
        for action in self.open_actions:
            lines.append(f"- {action.action} ({action.owner}, by {day_text(action.due_on, today)})")
        if not self.open_actions:
            lines.append("- None.")
        return "\n".join(lines)


class PlanState:
    """The needs, plan and referrals of the person open in ``AppState``."""

    def __init__(self, app: AppState) -> None:
        self._app = app
        self.case_id: str | None = None
        self.needs: list[NeedHistory] = []
        self.plan: list[PlanAction] = []
        self.referrals: list[Referral] = []
        # A referral the worker is about to record, shown as a summary first.
        self.pending_referral: dict[str, str] | None = None
        # The referral being moved on.
        self.moving: Referral | None = None

    # --- what the screens show ------------------------------------------------------------------

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._app.now_ms() / 1000).date()

    @property
    def open_actions(self) -> list[PlanAction]:
        return [action for action in self.plan if not action.done]

    @property
    def done_actions(self) -> list[PlanAction]:
        return [action for action in self.plan if action.done]

    @property
    def overdue(self) -> list[PlanAction]:
        return [action for action in self.plan if action.state is FollowUpState.OVERDUE]

    def clear(self) -> None:
        """Nothing about a person stays here once their record is closed or the app locks."""
        self.case_id, self.needs, self.plan, self.referrals = None, [], [], []
        self.pending_referral, self.moving = None, None

    async def load(self, case_id: str) -> None:
        """Read the person's needs, plan and referrals from this phone (never the network).

        A peer mentor's phone holds none of them (full tier), so it asks for nothing."""
        if self._app.is_mentor:
            self.clear()
            return
        casework = self._app.gatepost.casework
        today = self.today()

        def read() -> tuple[list[NeedHistory], list[PlanAction], list[Referral]]:
            return casework.needs(case_id), casework.plan(case_id, today), casework.referrals(case_id)

        try:
            needs, plan, referrals = await self._app._run(read)
        except AppError:
            needs, plan, referrals = [], [], []  # not readable on this phone (yet): the sections say so
        if self.case_id != case_id:
            self.pending_referral, self.moving = None, None
        self.case_id, self.needs, self.plan, self.referrals = case_id, needs, plan, referrals

    # --- needs ----------------------------------------------------------------------------------

    def start_rating_need(self, need_area: str | None = None) -> None:
        """The "Rate a need" form, with the need chosen when the worker started from it."""
        self._app.open_form(Screen.RATE_NEED, {"need_area": need_area} if need_area else {})

    async def rate_need(self, *, need_area: str, rating: str, rated_on: str, reason: str, handled: str) -> None:
        app, case_id = self._app, self._app.case_id
        if case_id is None:
            return
        app.draft = {"need_area": need_area, "rating": rating, "rated_on": rated_on, "reason": reason,
                     "handled": handled}  # fmt: skip
        problems = _date_problem("rated_on", NEED_RATING.fields["rated_on"].label, rated_on)
        if not need_area:
            problems["need_area"] = "Choose the need you are rating."
        if not rating:
            problems["rating"] = "Choose red, amber or green."
        if problems:
            return app._problems(problems)
        on = dt.date.fromisoformat(rated_on.strip())
        saved = await app._guarded(
            lambda: app.gatepost.casework.rate_need(
                case_id, need_area, rating, rated_on=on, reason=reason, handled=handled or None
            )
        )
        if saved is None:
            return
        label = NEED_AREAS.get(need_area, need_area)
        await self._saved(case_id, f"{label} rated {rating} on this phone.")

    # --- the plan -------------------------------------------------------------------------------

    def start_adding_action(self, *, follow_up: bool = False) -> None:
        owner = self._app.profile.display_name if self._app.profile is not None else ""
        self._app.open_form(Screen.ADD_ACTION, {"owner": owner, "follow_up": "yes" if follow_up else ""})

    async def add_action(self, *, action: str, owner: str, due_on: str, need_area: str, follow_up: bool) -> None:
        app, case_id = self._app, self._app.case_id
        if case_id is None:
            return
        app.draft = {"action": action, "owner": owner, "due_on": due_on, "need_area": need_area,
                     "follow_up": "yes" if follow_up else ""}  # fmt: skip
        saved = await app._guarded(
            lambda: app.gatepost.casework.add_plan_action(
                case_id,
                action=action.strip(),
                owner=owner.strip(),
                due_on=due_on.strip(),
                need_area=need_area or None,
                follow_up=follow_up,
            )
        )
        if saved is None:
            return
        what = "Follow-up" if follow_up else "Action"
        await self._saved(case_id, f"{what} added to the plan on this phone.")

    async def set_done(self, record_id: str, done: bool) -> None:
        app, case_id = self._app, self._app.case_id
        if case_id is None:
            return

        def mark() -> bool:
            app.gatepost.casework.set_action_done(case_id, record_id, done)
            return True

        if await app._guarded(mark) is None:
            await self._refresh(case_id)  # the box goes back to what is saved
            return
        app.on_notice(Notice("Marked done." if done else "Marked not done: it is open again."))
        await self._refresh(case_id)
        await app.sync_now(quiet=True)

    # --- referrals ------------------------------------------------------------------------------

    def start_referring(self, need_area: str | None = None) -> None:
        self.pending_referral = None
        self._app.open_form(Screen.REFER, {"need_area": need_area} if need_area else {})

    def review_referral(self, *, service: str, to_whom: str, need_area: str, sent_on: str) -> None:
        """Check the referral form and show the summary of the person's needs before recording it."""
        app = self._app
        if app.case_id is None:
            return
        app.touch()
        values = {"service": service, "to_whom": to_whom.strip(), "need_area": need_area, "sent_on": sent_on.strip()}
        app.draft = dict(values)
        problems = {
            name: problem
            for name, value in values.items()
            if (problem := validate_value(REFERRAL.fields[name], value or None)) is not None
        }
        if problems:
            return app._problems(problems)
        app.form_problems = {}
        self.pending_referral = values
        app.screen = Screen.REFERRAL_SUMMARY
        app.on_screen()

    def change_referral(self) -> None:
        """Back from the summary to the form, as it was filled in."""
        app = self._app
        app.touch()
        app.draft, app.form_problems = dict(self.pending_referral or {}), {}
        app.screen = Screen.REFER
        app.on_screen()

    def referral_summary(self) -> ReferralSummary | None:
        pending, record = self.pending_referral, self._app.record
        if pending is None or record is None:
            return None
        rated = {need.need_area for need in self.needs}
        goals = next((view.value for view in record.fields if view.name == "goals"), None)
        need = pending.get("need_area")
        return ReferralSummary(
            name=record.name or "The person",
            service_label=REFERRAL.fields["service"].choices.get(pending["service"], pending["service"]),
            to_whom=pending["to_whom"],
            need_label=NEED_AREAS.get(need) if need else None,
            sent_on=dt.date.fromisoformat(pending["sent_on"]),
            goals=goals if isinstance(goals, str) and goals.strip() else None,
            needs=tuple(self.needs),
            not_rated=tuple(label for area, label in NEED_AREAS.items() if area not in rated),
            open_actions=tuple(self.open_actions),
        )

    async def send_referral(self) -> None:
        """Record the referral the worker has read the summary of, as sent on its date."""
        app, case_id, pending = self._app, self._app.case_id, self.pending_referral
        if case_id is None or pending is None:
            return
        saved = await app._guarded(
            lambda: app.gatepost.casework.refer(
                case_id,
                service=pending["service"],
                to_whom=pending["to_whom"],
                sent_on=pending["sent_on"],
                need_area=pending.get("need_area") or None,
            )
        )
        if saved is None:
            return
        self.pending_referral = None
        await self._saved(case_id, f"Referral to {pending['to_whom']} saved as sent, on this phone.")

    def start_moving(self, referral: Referral) -> None:
        self.moving = referral
        next_statuses = referral_next_statuses(referral)
        self._app.open_form(Screen.MOVE_REFERRAL, {"status": next_statuses[0]} if next_statuses else {})

    async def move_referral(self, *, status: str, on: str, declined_reason: str) -> None:
        """Accepted, declined (with the reason) or started, on a day."""
        app, case_id, referral = self._app, self._app.case_id, self.moving
        if case_id is None or referral is None:
            return
        app.draft = {"status": status, "status_on": on, "declined_reason": declined_reason}
        problems = _date_problem("status_on", "The date", on)
        if status not in referral_next_statuses(referral):
            problems["status"] = "Choose what happened to the referral."
        if status == "declined" and not declined_reason.strip():
            problems["declined_reason"] = "Say why it was declined."
        if problems:
            return app._problems(problems)
        day = dt.date.fromisoformat(on.strip())

        def update() -> bool:
            app.gatepost.casework.update_referral(
                case_id, referral.record_id, status, on=day, declined_reason=declined_reason.strip()
            )
            return True

        if await app._guarded(update) is None:
            return
        self.moving = None
        label = REFERRAL.fields["status"].choices.get(status, status).lower()
        await self._saved(case_id, f"Referral to {referral.to_whom} marked {label}.")

    # --- plumbing -------------------------------------------------------------------------------

    async def _saved(self, case_id: str, message: str) -> None:
        self._app.on_notice(Notice(message))
        await self._app.open_person(case_id)
        await self._app.sync_now(quiet=True)

    async def _refresh(self, case_id: str) -> None:
        await self.load(case_id)
        if self._app.screen is Screen.PERSON and self._app.case_id == case_id:
            self._app.on_screen()


def _date_problem(name: str, label: str, text: str) -> dict[str, str]:
    """A problem with a date typed as YYYY-MM-DD, in the words the services use."""
    text = text.strip()
    if not text:
        return {name: f"{label} is needed."}
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return {name: f"{label} must be a date like 2026-11-25."}
    return {} if len(text) == 10 else {name: f"{label} must be a date like 2026-11-25."}
