"""``CaseworkService``: the work around a person, and the Today list that starts a worker's day.

- The release plan: the release-readiness checklist and who meets the person where and when (one
  mutable record per person, merged field by field like the person's details).
- Gate outcomes, need ratings, accommodation and work and training: append-only entries, written
  once (where someone lives and whether they are in work are dated "since", so that the outcomes
  report can tell what held on the day an order or licence ended).
- Plan actions (follow-ups among them) and referrals: mutable records, one per action or referral.
- ``today``: releases in the next 14 days with their flags, gate meetings today, follow-ups due and
  overdue, and people not seen for longer than the follow-up cadence allows.

Everything works offline: values are encrypted on the device and wait in the outbox; the rules
come from ``shared.resettlement``. A value this device cannot read is left out, never guessed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from outreach_app.errors import NotReady, ValidationFailed
from outreach_app.ids import uuid7
from outreach_app.services.device import Device, Identity
from outreach_app.services.facts import caseload_facts
from outreach_app.services.keys import CaseKeys, KeyChain
from outreach_app.services.rows import read_versions
from outreach_app.services.versions import (
    AUTHOR_NAME_KEY,
    Unreadable,
    append_entry,
    counts_in_merge,
    decrypt_version,
    new_version,
    stamp_of,
    write_entry,
)
from outreach_app.storage.tables import LocalVersion
from shared.clock import Hlc
from shared.crypto import JsonValue, equality_tag
from shared.kinds import (
    ACCOMMODATION,
    CONSENT,
    EMPLOYMENT,
    GATE_OUTCOME,
    LEAD_HANDOVER,
    NEED_RATING,
    PERSON,
    PLAN_ACTION,
    REFERRAL,
    RELEASE_PLAN,
    KindSpec,
    Tier,
    ValueType,
    entry_problems,
    kind_spec,
    validate_value,
)
from shared.merge import field_state
from shared.protocol import Role
from shared.resettlement import (
    NEED_AREAS,
    AccommodationPlan,
    AccommodationType,
    ConsentStep,
    ContactDue,
    EmploymentStatus,
    EteStage,
    FollowUpState,
    HandoverStep,
    Rating,
    Readiness,
    Release,
    ReleaseFlag,
    consents_to_review,
    contact_due,
    distance_travelled,
    follow_up_state,
    handover_progress,
    readiness,
    release_flags,
    releases_in_window,
    settled,
)

__all__ = [
    "CASEWORK_KINDS",
    "Accommodation",
    "CaseworkService",
    "ConsentReview",
    "Employment",
    "GateOutcome",
    "Handover",
    "HandoverEvent",
    "NeedHistory",
    "NeedRating",
    "NotSeen",
    "PlanAction",
    "Referral",
    "ReleasePlan",
    "Today",
    "TodayFollowUp",
    "TodayRelease",
    "write_field",
]

# The kinds this service reads and writes (the person's record shows them, not as unknown).
CASEWORK_KINDS = frozenset(
    spec.name
    for spec in (
        RELEASE_PLAN,
        GATE_OUTCOME,
        NEED_RATING,
        ACCOMMODATION,
        EMPLOYMENT,
        PLAN_ACTION,
        REFERRAL,
        LEAD_HANDOVER,
    )
)
_RELEASE_PLAN_NAMESPACE = uuid.UUID("6f1c2b0e-5d7a-4c1e-9a43-2f1b8f0c7d11")


def release_plan_id(case_id: str) -> str:
    """One release plan per person, with the same record id on every device, so that two workers
    filling the checklist offline edit the same record (and a real disagreement shows as a conflict)."""
    return str(uuid.uuid5(_RELEASE_PLAN_NAMESPACE, case_id))


# --- what the screens show ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReleasePlan:
    case_id: str
    values: Mapping[str, JsonValue]  # current value per field this device can read
    accommodation: AccommodationPlan | None
    readiness: Readiness
    conflicts: tuple[str, ...]  # fields two people filled in differently, still to settle


@dataclass(frozen=True)
class GateOutcome:
    record_id: str
    met: bool
    not_met_reason: str | None  # in plain words
    accompanied_to: str | None
    housed_on_release_day: bool | None
    reached_planned_address: bool | None
    help_given: str | None
    written_at_ms: int


@dataclass(frozen=True)
class Accommodation:
    """Where the person lives from a date, and whether it suits them."""

    record_id: str
    accommodation_type: AccommodationType
    suitable: bool
    from_on: dt.date
    recorded: int  # the merge order of the entry (a later one wins a tie on the same day)

    @property
    def label(self) -> str:
        return self.accommodation_type.label

    @property
    def settled(self) -> bool:
        """Settled as NI 143 defines it (hostels and Approved Premises included)."""
        return settled(self.accommodation_type, counting_hostels=True)


@dataclass(frozen=True)
class Employment:
    """In work or not from a date, and the ETE stage reached."""

    record_id: str
    status: EmploymentStatus
    ete_stage: EteStage | None
    from_on: dt.date
    recorded: int


@dataclass(frozen=True)
class NeedRating:
    record_id: str
    need_area: str
    rating: Rating
    rated_on: dt.date
    reason: str | None
    handled: str | None  # "Met in house", "Referred on", ...


@dataclass(frozen=True)
class NeedHistory:
    need_area: str
    label: str
    ratings: tuple[NeedRating, ...]  # oldest first
    distance: int | None  # steps moved from the first rating to the latest (red to green is +2)

    @property
    def latest(self) -> NeedRating:
        return self.ratings[-1]


@dataclass(frozen=True)
class PlanAction:
    record_id: str
    action: str
    owner: str
    due_on: dt.date
    need_area: str | None
    follow_up: bool
    done: bool
    state: FollowUpState


@dataclass(frozen=True)
class Referral:
    record_id: str
    service: str
    service_label: str
    to_whom: str
    need_area: str | None
    sent_on: dt.date
    status: str
    status_label: str
    status_on: dt.date | None
    declined_reason: str | None


@dataclass(frozen=True)
class HandoverEvent:
    step: HandoverStep
    by: str  # the author's name ("You" on their own phone)
    at_ms: int
    note: str | None
    counted: bool  # False: recorded out of turn (two answers at once), kept but changing nothing


@dataclass(frozen=True)
class Handover:
    """Handing the lead professional role to a named lead at a lead agency."""

    handover_id: str
    lead_name: str
    lead_organisation: str
    state: HandoverStep
    proposed_by: str
    proposed_by_you: bool
    events: tuple[HandoverEvent, ...]  # in the order every replica sees them

    @property
    def under_way(self) -> bool:
        return self.state in (HandoverStep.PROPOSED, HandoverStep.ACCEPTED)


@dataclass(frozen=True)
class TodayRelease:
    case_id: str
    name: str
    release: Release
    establishment: str | None
    flags: tuple[ReleaseFlag, ...]
    meeting_at: str | None
    meeting_place: str | None
    met_by: str | None
    readiness: Readiness


@dataclass(frozen=True)
class TodayFollowUp:
    case_id: str
    name: str
    action: PlanAction


@dataclass(frozen=True)
class NotSeen:
    case_id: str
    name: str
    last_contact_on: dt.date | None
    due: ContactDue


@dataclass(frozen=True)
class ConsentReview:
    """Consent to share whose review or expiry date is near: renew it with the person, or let it end."""

    case_id: str
    name: str
    recipients: tuple[str, ...]
    review_on: dt.date


@dataclass(frozen=True)
class Today:
    on: dt.date
    releases: tuple[TodayRelease, ...]  # today to 14 days ahead, soonest first
    gate_meetings: tuple[TodayRelease, ...]  # meetings at the gate today
    follow_ups: tuple[TodayFollowUp, ...]  # overdue first, then due today
    not_seen: tuple[NotSeen, ...]  # longest overdue first
    consents_due: tuple[ConsentReview, ...] = ()  # review dates in the next 14 days, soonest first


# --- writing a mutable field (shared with the person's details) -------------------------------


def write_field(
    device: Device,
    session: Session,
    case_keys: CaseKeys,
    *,
    spec: KindSpec,
    record_id: str,
    case_id: str | None,
    field: str,
    value: JsonValue,
    settles: Sequence[str] = (),
) -> LocalVersion | None:
    """A new version of one field of a mutable record, based on the version this device sees as
    current; None when the value is unchanged (and nothing is settled).

    ``settles`` names open conflicts on this field that the value settles; an unknown one is a
    ``ValidationFailed`` (someone may have settled it on another phone).
    """
    field_spec = spec.fields[field]
    rows = [
        row
        for row in session.exec(
            select(LocalVersion).where(
                LocalVersion.record_id == record_id, LocalVersion.field == field, LocalVersion.kind == spec.name
            )
        ).all()
        if counts_in_merge(row)
    ]
    state = field_state([stamp_of(row) for row in rows]) if rows else None
    open_ids = {conflict.conflict_id for conflict in state.conflicts} if state else set()
    if any(conflict_id not in open_ids for conflict_id in settles):
        raise ValidationFailed({field: "That conflict is already settled or does not exist."})
    unchanged = state.current.tag == equality_tag(case_keys.tag, value) if state else value in ("", None)
    if unchanged and not settles:
        return None
    return new_version(
        device,
        session,
        case_keys,
        record_id=record_id,
        case_id=case_id,
        kind=spec.name,
        field=field,
        tier=field_spec.tier or Tier.FULL,
        value=value,
        base_hlc=state.current.hlc if state else None,
        settles=settles,
    )


# --- the service -------------------------------------------------------------------------------


class CaseworkService:
    def __init__(self, device: Device) -> None:
        self._device = device

    def today_date(self) -> dt.date:
        """Today on this phone's clock (local time), which Today and the forms start from."""
        return dt.datetime.fromtimestamp(self._device.now_ms() / 1000).date()

    # --- the release plan and the gate ----------------------------------------------------------

    def save_release_plan(self, case_id: str, values: Mapping[str, object]) -> int:
        """Write the checklist items and meeting arrangements that changed; returns how many did."""
        cleaned = _clean(RELEASE_PLAN, values, partial=True)
        written = 0
        with self._device.store.write() as session:
            for name, value in cleaned.items():
                tier = RELEASE_PLAN.fields[name].tier or Tier.FULL
                row = write_field(
                    self._device,
                    session,
                    self._keys_for(case_id, tier),
                    spec=RELEASE_PLAN,
                    record_id=release_plan_id(case_id),
                    case_id=case_id,
                    field=name,
                    value=value,
                )
                written += row is not None
        return written

    def settle_field(
        self, case_id: str, spec: KindSpec, record_id: str, field: str, value: object, settles: Sequence[str]
    ) -> None:
        """Write the value that should stand for one field of the release plan, a plan action or a
        referral, settling the open conflicts ``settles`` names (the coordinators' review list)."""
        if spec.name not in (RELEASE_PLAN.name, PLAN_ACTION.name, REFERRAL.name):
            raise NotReady(f"{spec.label} is not settled here.")
        cleaned = _clean(spec, {field: value}, partial=True)
        with self._device.store.write() as session:
            write_field(
                self._device,
                session,
                self._keys_for(case_id, spec.fields[field].tier or Tier.FULL),
                spec=spec,
                record_id=record_id,
                case_id=case_id,
                field=field,
                value=cleaned[field],
                settles=settles,
            )

    def release_plan(self, case_id: str) -> ReleasePlan:
        with self._device.store.read() as session:
            rows = _rows(session, [RELEASE_PLAN.name], case_id)
        return self._release_plan(case_id, rows)

    def record_gate_outcome(
        self,
        case_id: str,
        *,
        met: bool,
        not_met_reason: str | None = None,
        accompanied_to: str = "",
        housed_on_release_day: bool | None = None,
        reached_planned_address: bool | None = None,
        help_given: str = "",
    ) -> str:
        """What happened at the gate. Peer mentors record it too (in the tier mentors may read)."""
        entry: dict[str, JsonValue] = {"met": met}
        if not met:
            if not not_met_reason:
                raise ValidationFailed({"not_met_reason": "Say why they were not met."})
            entry["not_met_reason"] = not_met_reason
        for name, value in (
            ("accompanied_to", accompanied_to.strip()),
            ("help_given", help_given.strip()),
            ("housed_on_release_day", housed_on_release_day),
            ("reached_planned_address", reached_planned_address),
        ):
            if value not in ("", None):
                entry[name] = value
        return self._append(case_id, GATE_OUTCOME, entry, Tier.BASIC)

    def gate_outcomes(self, case_id: str) -> list[GateOutcome]:
        """Gate outcomes for this person, newest first."""
        outcomes = []
        for row, entry in self._entries(case_id, GATE_OUTCOME):
            reason = entry.get("not_met_reason")
            outcomes.append(
                GateOutcome(
                    record_id=row.record_id,
                    met=bool(entry["met"]),
                    not_met_reason=GATE_OUTCOME.fields["not_met_reason"].choices.get(str(reason)) if reason else None,
                    accompanied_to=_text(entry.get("accompanied_to")),
                    housed_on_release_day=_flag(entry.get("housed_on_release_day")),
                    reached_planned_address=_flag(entry.get("reached_planned_address")),
                    help_given=_text(entry.get("help_given")),
                    written_at_ms=Hlc.parse(row.hlc).wall_ms,
                )
            )
        outcomes.sort(key=lambda outcome: outcome.written_at_ms, reverse=True)
        return outcomes

    # --- where they live, and work and training -------------------------------------------------

    def record_accommodation(
        self, case_id: str, *, accommodation_type: str, suitable: bool, from_on: dt.date | str | None = None
    ) -> str:
        """Where the person lives now (from ``from_on``, default today) and whether it suits them."""
        since = from_on or self.today_date()
        entry: dict[str, JsonValue] = {
            "accommodation_type": accommodation_type,
            "suitable": suitable,
            "from_on": since.isoformat() if isinstance(since, dt.date) else since,
        }
        return self._append(case_id, ACCOMMODATION, entry, Tier.FULL)

    def accommodation(self, case_id: str) -> list[Accommodation]:
        """Every place recorded for this person, the latest (by the date it is from) first."""
        places = [_accommodation(row, entry) for row, entry in self._entries(case_id, ACCOMMODATION)]
        places.sort(key=lambda place: (place.from_on, place.recorded), reverse=True)
        return places

    def record_employment(
        self, case_id: str, *, status: str, ete_stage: str | None = None, from_on: dt.date | str | None = None
    ) -> str:
        """In work or not (from ``from_on``, default today), and the ETE stage reached."""
        since = from_on or self.today_date()
        entry: dict[str, JsonValue] = {
            "status": status,
            "from_on": since.isoformat() if isinstance(since, dt.date) else since,
        }
        if ete_stage:
            entry["ete_stage"] = ete_stage
        return self._append(case_id, EMPLOYMENT, entry, Tier.FULL)

    def employment(self, case_id: str) -> list[Employment]:
        """Work and training recorded for this person, the latest (by the date it is from) first."""
        entries = [_employment(row, entry) for row, entry in self._entries(case_id, EMPLOYMENT)]
        entries.sort(key=lambda entry: (entry.from_on, entry.recorded), reverse=True)
        return entries

    # --- needs ----------------------------------------------------------------------------------

    def rate_need(
        self,
        case_id: str,
        need_area: str,
        rating: str,
        *,
        rated_on: dt.date | None = None,
        reason: str = "",
        handled: str | None = None,
    ) -> str:
        """Rate one need red, amber or green (full tier: needs touch health and offending)."""
        entry: dict[str, JsonValue] = {
            "need_area": need_area,
            "rating": rating,
            "rated_on": (rated_on or self.today_date()).isoformat(),
        }
        if reason.strip():
            entry["reason"] = reason.strip()
        if handled:
            entry["handled"] = handled
        return self._append(case_id, NEED_RATING, entry, Tier.FULL)

    def needs(self, case_id: str) -> list[NeedHistory]:
        """Each need area rated so far, in the order of the need areas, with its history."""
        by_area: dict[str, list[NeedRating]] = defaultdict(list)
        for row, entry in self._entries(case_id, NEED_RATING):
            handled = entry.get("handled")
            by_area[str(entry["need_area"])].append(
                NeedRating(
                    record_id=row.record_id,
                    need_area=str(entry["need_area"]),
                    rating=Rating(str(entry["rating"])),
                    rated_on=dt.date.fromisoformat(str(entry["rated_on"])),
                    reason=_text(entry.get("reason")),
                    handled=NEED_RATING.fields["handled"].choices.get(str(handled)) if handled else None,
                )
            )
        histories = []
        for area, label in NEED_AREAS.items():
            ratings = sorted(by_area.get(area, []), key=lambda rating: (rating.rated_on, rating.record_id))
            if ratings:
                distance = distance_travelled((rating.rated_on, rating.rating) for rating in ratings)
                histories.append(NeedHistory(area, label, tuple(ratings), distance))
        return histories

    # --- plan actions and follow-ups ------------------------------------------------------------

    def add_plan_action(
        self,
        case_id: str,
        *,
        action: str,
        owner: str,
        due_on: dt.date | str,
        need_area: str | None = None,
        follow_up: bool = False,
    ) -> str:
        """A new action of the person's plan; a follow-up is an action to contact them again."""
        values: dict[str, object] = {
            "action": action,
            "owner": owner,
            "due_on": due_on.isoformat() if isinstance(due_on, dt.date) else due_on,
            "follow_up": follow_up,
            "done": False,
        }
        if need_area:
            values["need_area"] = need_area
        return self._new_record(case_id, PLAN_ACTION, values)

    def set_action_done(self, case_id: str, record_id: str, done: bool = True) -> None:
        self._update_record(case_id, PLAN_ACTION, record_id, {"done": done})

    def plan(self, case_id: str, today: dt.date | None = None) -> list[PlanAction]:
        """The person's plan: open actions by due date, then done ones."""
        on = today or self.today_date()
        with self._device.store.read() as session:
            rows = _rows(session, [PLAN_ACTION.name], case_id)
        actions = [self._plan_action(record_id, values, on) for record_id, values in self._records(rows).items()]
        chosen = [action for action in actions if action is not None]
        chosen.sort(key=lambda action: (action.done, action.due_on, action.record_id))
        return chosen

    # --- referrals ------------------------------------------------------------------------------

    def refer(
        self,
        case_id: str,
        *,
        service: str,
        to_whom: str,
        sent_on: dt.date | str | None = None,
        need_area: str | None = None,
    ) -> str:
        sent = sent_on or self.today_date()
        values: dict[str, object] = {
            "service": service,
            "to_whom": to_whom,
            "sent_on": sent.isoformat() if isinstance(sent, dt.date) else sent,
            "status": "sent",
        }
        if need_area:
            values["need_area"] = need_area
        return self._new_record(case_id, REFERRAL, values)

    def update_referral(
        self,
        case_id: str,
        record_id: str,
        status: str,
        *,
        on: dt.date | None = None,
        declined_reason: str = "",
    ) -> None:
        """Move a referral on: accepted, declined (with the reason), started."""
        if status == "declined" and not declined_reason.strip():
            raise ValidationFailed({"declined_reason": "Say why it was declined."})
        values: dict[str, object] = {"status": status, "status_on": (on or self.today_date()).isoformat()}
        if declined_reason.strip():
            values["declined_reason"] = declined_reason
        self._update_record(case_id, REFERRAL, record_id, values)

    def referrals(self, case_id: str) -> list[Referral]:
        """The person's referrals, newest first."""
        with self._device.store.read() as session:
            rows = _rows(session, [REFERRAL.name], case_id)
        referrals = []
        fields = REFERRAL.fields
        for record_id, values in self._records(rows).items():
            try:
                service, status = str(values["service"]), str(values["status"])
                sent_on = dt.date.fromisoformat(str(values["sent_on"]))
                to_whom = str(values["to_whom"])
            except (KeyError, ValueError):
                continue  # not all of it is readable here yet
            status_on = values.get("status_on")
            referrals.append(
                Referral(
                    record_id=record_id,
                    service=service,
                    service_label=fields["service"].choices.get(service, service),
                    to_whom=to_whom,
                    need_area=_text(values.get("need_area")),
                    sent_on=sent_on,
                    status=status,
                    status_label=fields["status"].choices.get(status, status),
                    status_on=dt.date.fromisoformat(str(status_on)) if status_on else None,
                    declined_reason=_text(values.get("declined_reason")),
                )
            )
        referrals.sort(key=lambda referral: (referral.sent_on, referral.record_id), reverse=True)
        return referrals

    # --- the lead professional and handover ----------------------------------------------------

    def propose_handover(self, case_id: str, *, lead_name: str, lead_organisation: str, note: str = "") -> str:
        """The interim lead proposes the community lead; returns the handover's id."""
        self._require_handover_role()
        problems = {}
        if not lead_name.strip():
            problems["lead_name"] = "Say who the new lead professional is."
        if not lead_organisation.strip():
            problems["lead_organisation"] = "Say which agency they work for."
        if problems:
            raise ValidationFailed(problems)
        under_way = [handover for handover in self.handovers(case_id) if handover.under_way]
        if under_way:
            raise ValidationFailed(
                {"lead_name": f"A handover to {under_way[0].lead_name} is already under way: finish or decline it."}
            )
        handover_id = str(uuid.uuid4())
        self._handover_step(case_id, handover_id, HandoverStep.PROPOSED, lead_name, lead_organisation, note)
        return handover_id

    def answer_handover(self, case_id: str, handover_id: str, *, accept: bool, note: str = "") -> None:
        """The new lead (or a coordinator for them) accepts or declines a proposed handover."""
        identity = self._require_handover_role()
        handover = self._handover(case_id, handover_id)
        if handover.state is not HandoverStep.PROPOSED:
            raise ValidationFailed({"handover": "This handover has already been answered."})
        if handover.proposed_by_you and identity.role is not Role.COORDINATOR:
            raise ValidationFailed(
                {"handover": "Someone else accepts: the new lead, or a coordinator on their behalf."}
            )
        if not accept and not note.strip():
            raise ValidationFailed({"note": "Say why the handover is declined."})
        step = HandoverStep.ACCEPTED if accept else HandoverStep.DECLINED
        self._handover_step(case_id, handover_id, step, handover.lead_name, handover.lead_organisation, note)

    def complete_handover(self, case_id: str, handover_id: str, *, note: str = "") -> None:
        """Record the handover done: the new lead becomes the person's lead professional, in the same
        transaction, so the record never shows a finished handover with the old lead."""
        self._require_handover_role()
        handover = self._handover(case_id, handover_id)
        if handover.state is not HandoverStep.ACCEPTED:
            raise ValidationFailed({"handover": "Only an accepted handover can be completed."})
        lead = f"{handover.lead_name}, {handover.lead_organisation}"
        self._handover_step(
            case_id, handover_id, HandoverStep.COMPLETED, handover.lead_name, handover.lead_organisation, note, lead
        )

    def handovers(self, case_id: str) -> list[Handover]:
        """The person's handovers, newest first."""
        identity = self._device.require_identity()
        grouped: dict[str, list[tuple[LocalVersion, dict[str, JsonValue]]]] = defaultdict(list)
        for row, entry in self._entries(case_id, LEAD_HANDOVER):
            grouped[str(entry["handover_id"])].append((row, entry))
        handovers = []
        for handover_id, steps in grouped.items():
            steps.sort(key=lambda item: stamp_of(item[0]).order_key)
            kinds = [HandoverStep(str(entry["step"])) for _, entry in steps]
            state, counted = handover_progress(kinds)
            if state is None:
                continue  # no proposal readable here (yet)
            first = next(item for item, used in zip(steps, counted, strict=True) if used)

            def by_me(row: LocalVersion) -> bool:
                # An unsent version has no user yet on the server's side: its device says it is ours.
                return row.author_device_id == identity.device_id or row.author_user_id == identity.user_id

            def name(row: LocalVersion, entry: Mapping[str, JsonValue]) -> str:
                if by_me(row):
                    return "You"
                return str(entry.get(AUTHOR_NAME_KEY) or "a colleague")

            handovers.append(
                Handover(
                    handover_id=handover_id,
                    lead_name=str(first[1]["lead_name"]),
                    lead_organisation=str(first[1]["lead_organisation"]),
                    state=state,
                    proposed_by=name(*first),
                    proposed_by_you=by_me(first[0]),
                    events=tuple(
                        HandoverEvent(
                            step, name(row, entry), Hlc.parse(row.hlc).wall_ms, _text(entry.get("note")), used
                        )
                        for (row, entry), step, used in zip(steps, kinds, counted, strict=True)
                    ),
                )
            )
        handovers.sort(key=lambda handover: handover.events[0].at_ms, reverse=True)
        return handovers

    def _handover(self, case_id: str, handover_id: str) -> Handover:
        for handover in self.handovers(case_id):
            if handover.handover_id == handover_id:
                return handover
        raise NotReady("That handover is not on this phone.")

    def _require_handover_role(self) -> Identity:
        identity = self._device.require_identity()
        if identity.role is Role.PEER_MENTOR:
            raise NotReady("Link workers and coordinators hand the lead professional role over.")
        return identity

    def _handover_step(
        self,
        case_id: str,
        handover_id: str,
        step: HandoverStep,
        lead_name: str,
        lead_organisation: str,
        note: str,
        new_lead: str | None = None,
    ) -> None:
        device = self._device
        identity = device.require_identity()
        entry: dict[str, JsonValue] = {
            "step": step.value,
            "lead_name": lead_name.strip(),
            "lead_organisation": lead_organisation.strip(),
            "handover_id": handover_id,
            AUTHOR_NAME_KEY: identity.display_name,
        }
        if note.strip():
            entry["note"] = note.strip()
        problems = entry_problems(LEAD_HANDOVER, entry)
        if problems:
            raise ValidationFailed(problems)
        # Basic tier: a peer mentor meeting the person should know who leads.
        keys = self._keys_for(case_id, Tier.BASIC)
        with device.store.write() as session:
            write_entry(device, session, keys, case_id=case_id, kind=LEAD_HANDOVER.name, tier=Tier.BASIC, value=entry)
            if new_lead is not None:
                write_field(
                    device,
                    session,
                    keys,
                    spec=PERSON,
                    record_id=case_id,
                    case_id=case_id,
                    field="lead_professional",
                    value=new_lead,
                )

    # --- Today ----------------------------------------------------------------------------------

    def today(self, on: dt.date | None = None) -> Today:
        """The first screen: what needs doing today, from what this phone holds."""
        today = on or self.today_date()
        device = self._device
        keys = device.require_keys()
        with device.store.read() as session:
            # Plain rows, not ORM objects: Today reads every person's details on the phone.
            rows = read_versions(session, [PERSON.name, RELEASE_PLAN.name, PLAN_ACTION.name, CONSENT.name])
        # Last contacts from the caseload's facts: kept as case summaries, so Today does not decrypt
        # every contact on the phone each time it is shown.
        facts = {person.case_id: person.facts for person in caseload_facts(device).people}
        by_case: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if row.case_id is not None and counts_in_merge(row):
                by_case[row.case_id].append(row)
        releases: dict[str, Release] = {}
        details: dict[str, dict[str, JsonValue]] = {}
        plan_rows: dict[str, list[LocalVersion]] = {}  # a plan is worked out only for a release in the window
        follow_ups: list[TodayFollowUp] = []
        not_seen: list[NotSeen] = []
        consents: list[ConsentReview] = []
        for case_id, case_rows in by_case.items():
            person = self._current(keys, [row for row in case_rows if row.kind == PERSON.name])
            name = person.get("name")
            if not isinstance(name, str):
                continue  # not a person this phone can read
            details[case_id] = person
            release = Release.parse(_text(person.get("release_at")))
            if release is not None:
                releases[case_id] = release
            plan_rows[case_id] = [row for row in case_rows if row.kind == RELEASE_PLAN.name]
            actions = self._records([row for row in case_rows if row.kind == PLAN_ACTION.name], keys)
            for record_id, values in actions.items():
                action = self._plan_action(record_id, values, today)
                if action is not None and action.state in (FollowUpState.OVERDUE, FollowUpState.DUE_TODAY):
                    follow_ups.append(TodayFollowUp(case_id, name, action))
            last_contact = facts[case_id].last_contact_on if case_id in facts else None
            due = contact_due(last_contact, release.on if release else None, today)
            if due is not None and due.overdue:
                not_seen.append(NotSeen(case_id, name, last_contact, due))
            steps = self._consent_steps(keys, [row for row in case_rows if row.kind == CONSENT.name])
            for step in consents_to_review(steps, today):
                assert step.review_on is not None
                consents.append(ConsentReview(case_id, name, step.recipients, step.review_on))

        window = [
            self._today_release(case_id, release, details[case_id], self._release_plan(case_id, plan_rows[case_id]))
            for case_id, release in releases_in_window(releases, today)
        ]
        meetings = [item for item in window if _meets_on(item, today)]
        follow_ups.sort(key=lambda item: (item.action.state is not FollowUpState.OVERDUE, item.action.due_on))
        not_seen.sort(key=lambda item: (-item.due.overdue_days, item.name.casefold()))
        consents.sort(key=lambda item: (item.review_on, item.name.casefold()))
        return Today(today, tuple(window), tuple(meetings), tuple(follow_ups), tuple(not_seen), tuple(consents))

    # --- helpers --------------------------------------------------------------------------------

    def _keys_for(self, case_id: str, tier: Tier) -> CaseKeys:
        identity = self._device.require_identity()
        if identity.role is Role.PEER_MENTOR and tier is not Tier.BASIC:
            raise NotReady("Peer mentors record only what the whole team, mentors included, may read.")
        case_keys = self._device.require_keys().newest_case_keys(case_id, tier)
        if case_keys is None:
            raise NotReady("This phone does not hold the key for this person's record yet. Sync and try again.")
        return case_keys

    def _append(self, case_id: str, spec: KindSpec, entry: Mapping[str, JsonValue], tier: Tier) -> str:
        problems = entry_problems(spec, entry)
        if problems:
            raise ValidationFailed(problems)
        case_keys = self._keys_for(case_id, tier)
        return append_entry(self._device, case_keys, case_id=case_id, kind=spec.name, tier=tier, value=dict(entry))

    def _new_record(self, case_id: str, spec: KindSpec, values: Mapping[str, object]) -> str:
        cleaned = _clean(spec, values, partial=False)
        record_id = uuid7(self._device.now_ms())
        self._write(case_id, spec, record_id, cleaned)
        return record_id

    def _update_record(self, case_id: str, spec: KindSpec, record_id: str, values: Mapping[str, object]) -> None:
        with self._device.store.read() as session:
            known = session.exec(
                select(LocalVersion.change_id).where(
                    LocalVersion.record_id == record_id, LocalVersion.case_id == case_id, LocalVersion.kind == spec.name
                )
            ).first()
        if known is None:
            raise NotReady(f"That {spec.label.lower()} is not on this phone.")
        self._write(case_id, spec, record_id, _clean(spec, values, partial=True))

    def _write(self, case_id: str, spec: KindSpec, record_id: str, values: Mapping[str, JsonValue]) -> None:
        device = self._device
        with device.store.write() as session:
            for name, value in values.items():
                keys = self._keys_for(case_id, spec.fields[name].tier or Tier.FULL)
                write_field(
                    device, session, keys, spec=spec, record_id=record_id, case_id=case_id, field=name, value=value
                )

    def _entries(self, case_id: str, spec: KindSpec) -> list[tuple[LocalVersion, dict[str, JsonValue]]]:
        keys = self._device.require_keys()
        with self._device.store.read() as session:
            rows = _rows(session, [spec.name], case_id)
        entries = []
        for row in rows:
            value = self._value(keys, row)
            if isinstance(value, dict) and _valid_entry(spec, value):
                entries.append((row, value))
        return entries

    def _records(self, rows: Iterable[LocalVersion], keys: KeyChain | None = None) -> dict[str, dict[str, JsonValue]]:
        """Current readable values of mutable records, by record id."""
        keys = keys or self._device.require_keys()
        by_record: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if counts_in_merge(row):
                by_record[row.record_id].append(row)
        return {record_id: self._current(keys, record_rows) for record_id, record_rows in by_record.items()}

    def _current(self, keys: KeyChain, rows: Sequence[LocalVersion]) -> dict[str, JsonValue]:
        """The current value of each field of one record, where this device can read and trust it."""
        grouped: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if counts_in_merge(row):
                grouped[row.field].append(row)
        values: dict[str, JsonValue] = {}
        for name, group in grouped.items():
            state = field_state([stamp_of(row) for row in group])
            current = next(row for row in group if row.change_id == state.current.change_id)
            spec = kind_spec(current.kind)
            value = self._value(keys, current)
            field_spec = spec.fields.get(name) if spec is not None else None
            if field_spec is not None and value not in (None, "") and validate_value(field_spec, value) is None:
                values[name] = value
        return values

    def _value(self, keys: KeyChain, row: LocalVersion) -> JsonValue:
        try:
            return decrypt_version(self._device, keys, row)
        except Unreadable:
            return None

    def _release_plan(self, case_id: str, rows: Sequence[LocalVersion]) -> ReleasePlan:
        keys = self._device.require_keys()
        counted = [row for row in rows if counts_in_merge(row)]
        values = self._current(keys, counted)
        grouped: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in counted:
            grouped[row.field].append(row)
        conflicts = tuple(
            name
            for name in RELEASE_PLAN.fields
            if name in grouped and field_state([stamp_of(row) for row in grouped[name]]).conflicts
        )
        accommodation = values.get("accommodation")
        plan = AccommodationPlan(accommodation) if isinstance(accommodation, str) else None
        checked = {name: value is True for name, value in values.items()}
        checked["accommodation"] = plan is not None and plan.ready
        checked["meeting"] = bool(values.get("meeting_at") and values.get("meeting_place") and values.get("met_by"))
        # What this phone cannot read (a mentor: the full-tier items) is neither done nor missing here.
        unreadable = (
            [name for name, spec in RELEASE_PLAN.fields.items() if spec.tier is Tier.FULL]
            if self._device.require_identity().role is Role.PEER_MENTOR
            else []
        )
        return ReleasePlan(case_id, values, plan, readiness(checked, unknown=unreadable), conflicts)

    def _today_release(
        self, case_id: str, release: Release, person: Mapping[str, JsonValue], plan: ReleasePlan
    ) -> TodayRelease:
        return TodayRelease(
            case_id=case_id,
            name=str(person["name"]),
            release=release,
            establishment=_text(person.get("establishment")),
            flags=release_flags(release, plan.accommodation),
            meeting_at=_text(plan.values.get("meeting_at")),
            meeting_place=_text(plan.values.get("meeting_place")),
            met_by=_text(plan.values.get("met_by")),
            readiness=plan.readiness,
        )

    def _plan_action(self, record_id: str, values: Mapping[str, JsonValue], today: dt.date) -> PlanAction | None:
        try:
            due_on = dt.date.fromisoformat(str(values["due_on"]))
            action, owner = str(values["action"]), str(values["owner"])
        except (KeyError, ValueError):
            return None
        done = values.get("done") is True
        return PlanAction(
            record_id=record_id,
            action=action,
            owner=owner,
            due_on=due_on,
            need_area=_text(values.get("need_area")),
            follow_up=values.get("follow_up") is True,
            done=done,
            state=follow_up_state(due_on, done, today),
        )

    def _consent_steps(self, keys: KeyChain, rows: Sequence[LocalVersion]) -> list[ConsentStep]:
        """The consent records this phone can read, as the review rule needs them."""
        steps = []
        for row in rows:
            entry = self._value(keys, row)
            if not isinstance(entry, dict):
                continue
            recipients = entry.get("recipients")
            names = tuple(
                str(recipient.get("name") or "an organisation")
                for recipient in (recipients if isinstance(recipients, list) else [])
                if isinstance(recipient, dict)
            )
            try:
                review_on = dt.date.fromisoformat(str(entry.get("review_date") or ""))
            except ValueError:
                review_on = None
            steps.append(ConsentStep(row.record_id, str(entry.get("action") or ""), row.amends, names, review_on))
        return steps


def _recorded(row: LocalVersion) -> int:
    """A number that orders entries as every replica does (their clock stamps)."""
    return Hlc.parse(row.hlc).wall_ms


def _accommodation(row: LocalVersion, entry: Mapping[str, JsonValue]) -> Accommodation:
    return Accommodation(
        record_id=row.record_id,
        accommodation_type=AccommodationType(str(entry["accommodation_type"])),
        suitable=entry["suitable"] is True,
        from_on=dt.date.fromisoformat(str(entry["from_on"])),
        recorded=_recorded(row),
    )


def _employment(row: LocalVersion, entry: Mapping[str, JsonValue]) -> Employment:
    stage = entry.get("ete_stage")
    return Employment(
        record_id=row.record_id,
        status=EmploymentStatus(str(entry["status"])),
        ete_stage=EteStage(str(stage)) if stage else None,
        from_on=dt.date.fromisoformat(str(entry["from_on"])),
        recorded=_recorded(row),
    )


def _rows(session: Session, kinds: Sequence[str], case_id: str) -> list[LocalVersion]:
    rows = session.exec(
        select(LocalVersion).where(LocalVersion.case_id == case_id, col(LocalVersion.kind).in_(kinds))
    ).all()
    return [row for row in rows if counts_in_merge(row)]


def _clean(spec: KindSpec, values: Mapping[str, object], *, partial: bool) -> dict[str, JsonValue]:
    """Form values checked against the kind; ``partial`` allows leaving required fields out."""
    problems: dict[str, str] = {}
    cleaned: dict[str, JsonValue] = {}
    for name, raw in values.items():
        field_spec = spec.fields.get(name)
        if field_spec is None:
            problems[name] = "This cannot be recorded here."
            continue
        value: JsonValue
        if field_spec.value_type is ValueType.BOOLEAN:
            value = bool(raw) if raw is not None else False
        else:
            value = "" if raw is None else str(raw).strip()
        problem = None if value == "" and not field_spec.required else validate_value(field_spec, value)
        if problem is not None:
            problems[name] = problem
        cleaned[name] = value
    if not partial:
        for name, field_spec in spec.fields.items():
            if field_spec.required and cleaned.get(name) in (None, ""):
                problems.setdefault(name, f"{field_spec.label} is needed.")
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def _valid_entry(spec: KindSpec, entry: Mapping[str, JsonValue]) -> bool:
    return all(validate_value(field_spec, entry.get(name)) is None for name, field_spec in spec.fields.items())


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _meets_on(item: TodayRelease, today: dt.date) -> bool:
    """A gate meeting today: the meeting is arranged for today, or the release is today."""
    if item.meeting_at:
        try:
            return dt.datetime.fromisoformat(item.meeting_at).date() == today
        except ValueError:
            pass
    return item.release.on == today
