"""The fault campaign as a Hypothesis state machine: one schedule is one example.

A schedule takes a team from the pool, uses its first 3-8 phones (the coordinator is always one),
and runs random rules: people added, contacts logged, fields edited concurrently, conflicts
settled, syncs, network toggles, faults armed at the transport or the clock, restarts. At the end
(``teardown``) the network heals, held requests arrive, everyone syncs twice, and ``check``
counts what was lost and what diverged. A failing schedule is shrunk by Hypothesis and printed
as the steps that break it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from outreach_app.errors import AppError, NotReady, SessionExpired
from outreach_app.services import PersonRecord
from shared.kinds import Tier
from shared.protocol import ChangeStatus, PushResponse
from tests.faults.world import PULL, PUSH, REFRESH, DeviceCrashed, Fault, Phone, Team, TeamPool

__all__ = ["FaultCampaign", "Hooks", "Outcome", "Totals", "check"]

T = TypeVar("T")

PHONE = st.integers(min_value=0, max_value=7)  # taken modulo the schedule's phone count
PERSON = st.integers(min_value=0, max_value=5)  # taken modulo the phone's caseload
EDITS = {
    "phone": ("07700 900001", "07700 900002", "07700 900003"),
    "establishment": ("HMP Bristol", "HMP Leeds", "HMP Styal"),
    "release_at": ("2026-12-04", "2026-12-04T09:00", "2026-12-05"),
    "risk_summary": ("Low", "Medium: avoid the old estate", "High"),
}
NAMES = ("Dean Walsh", "Kez Okafor", "Lou Marsh")


@dataclass
class Outcome:
    """What ``check`` found after one schedule healed."""

    lost: int = 0
    diverged: int = 0
    problems: list[str] = field(default_factory=list)

    def lose(self, problem: str) -> None:
        self.lost += 1
        self.problems.append(f"lost: {problem}")

    def diverge(self, problem: str) -> None:
        self.diverged += 1
        self.problems.append(f"diverged: {problem}")


@dataclass(frozen=True)
class Hooks:
    """``sabotage`` breaks a replica on purpose (tests show ``check`` can fail); ``progress`` reports;
    ``healed`` sees each schedule once it healed (a test records what the server ended up with)."""

    sabotage: Callable[[FaultCampaign], None] | None = None
    progress: Callable[[Totals], None] | None = None
    healed: Callable[[FaultCampaign], None] | None = None


@dataclass
class Totals:
    schedules: int = 0
    operations: int = 0
    faults: int = 0
    crashes: int = 0
    notes: int = 0
    replays: int = 0
    sign_ins: int = 0
    lost: int = 0
    diverged: int = 0
    failed: bool = False  # after the first failure, Hypothesis only shrinks: stop counting

    def add(self, machine: FaultCampaign, outcome: Outcome) -> None:
        if self.failed:
            return
        self.schedules += 1
        self.operations += machine.operations
        self.faults += machine.faults + sum(p.network.fired + p.clock.fired for p in machine.phones)
        self.crashes += machine.crashes
        self.notes += len(machine.ledger)
        self.replays += machine.replays
        self.sign_ins += sum(p.sign_ins for p in machine.phones)
        self.lost += outcome.lost
        self.diverged += outcome.diverged
        self.failed = outcome.lost > 0 or outcome.diverged > 0


class FaultCampaign(RuleBasedStateMachine):
    pool: ClassVar[TeamPool]
    totals: ClassVar[Totals]
    hooks: ClassVar[Hooks]

    def __init__(self) -> None:
        super().__init__()
        self.team: Team | None = None
        self.phones: list[Phone] = []
        self.ledger: dict[str, tuple[str, str]] = {}  # record id -> (case id, note) of every saved note
        self.cases: set[str] = set()
        self.operations = 0
        self.faults = 0
        self.crashes = 0
        self.replays = 0
        self.notes_written = 0

    # --- setup ---------------------------------------------------------------------------------

    @initialize(phones=st.integers(min_value=3, max_value=8))
    def start(self, phones: int) -> None:
        self.team = self.pool.take()
        self.phones = self.team.phones[:phones]
        for phone in self.phones:
            phone.network.heal()
            phone.network.held.clear()
            phone.network.pushes.clear()
            phone.network.fired = phone.clock.fired = 0
            phone.clock.crash_after = None
            phone.clock.ahead_ms = 0
            phone.cursor_regressions = phone.sign_ins = 0

    def _phone(self, index: int) -> Phone:
        return self.phones[index % len(self.phones)]

    def _act(self, phone: Phone, action: Callable[[], T]) -> T | None:
        """Run one thing a worker does; a crash restarts the phone, a refusal the UI shows is fine."""
        self.operations += 1
        try:
            return action()
        except DeviceCrashed:
            self._restart(phone)
        except NotReady:
            pass  # e.g. this phone does not hold that person's key yet: the app says so
        return None

    def _restart(self, phone: Phone) -> None:
        self.crashes += 1
        phone.reopen()
        phone.note_cursor()

    def _case(self, phone: Phone, person: int) -> str | None:
        people = [p.case_id for p in phone.app.records.list_people()]
        if not people:
            return None
        case_id = people[person % len(people)]
        self.cases.add(case_id)
        return case_id

    # --- work ----------------------------------------------------------------------------------

    @rule(phone=PHONE, name=st.sampled_from(NAMES))
    def add_person(self, phone: int, name: str) -> None:
        device = self._phone(phone)
        case_id = self._act(device, lambda: device.app.records.add_person({"name": name, "release_at": "2026-12-04"}))
        if case_id is not None:
            self.cases.add(case_id)

    @rule(phone=PHONE, person=PERSON, tier=st.sampled_from(Tier), notes=st.integers(min_value=1, max_value=3))
    def log_contact(self, phone: int, person: int, tier: Tier, notes: int) -> None:
        device = self._phone(phone)
        case_id = self._case(device, person)
        if case_id is None:
            return
        for _ in range(notes):
            self.notes_written += 1
            note = f"Note {self.notes_written} by {device.slot}"

            def save(note: str = note) -> str:
                return device.app.records.log_contact(
                    case_id,
                    occurred_at="2026-11-25T10:30",
                    setting="prison_gate",
                    contact_type="face_to_face",
                    note=note,
                    basis="fact",
                    tier=tier,
                )

            record_id = self._act(device, save)
            if record_id is not None:  # log_contact returned: the worker was told it is saved
                self.ledger[record_id] = (case_id, note)

    @rule(phone=PHONE, person=PERSON, name=st.sampled_from(sorted(EDITS)), value=st.integers(0, 2))
    def edit_field(self, phone: int, person: int, name: str, value: int) -> None:
        device = self._phone(phone)
        case_id = self._case(device, person)
        if case_id is not None:
            self._act(device, lambda: device.app.records.update_person(case_id, name, EDITS[name][value]))

    @rule(phone=PHONE, person=PERSON, keep_later=st.booleans())
    def settle_conflict(self, phone: int, person: int, keep_later: bool) -> None:
        device = self._phone(phone)
        conflicted = [p.case_id for p in device.app.records.list_people() if p.open_conflicts]
        if not conflicted:
            return
        case_id = conflicted[person % len(conflicted)]
        conflict = device.app.records.person_record(case_id).open_conflicts[0]
        chosen = conflict.later if keep_later else conflict.earlier
        value = chosen.value or EDITS.get(conflict.field, ("x",))[0]
        self._act(
            device,
            lambda: device.app.records.settle_conflict(case_id, conflict.field, conflict.conflict_id, value),
        )

    # --- sync and faults -------------------------------------------------------------------------

    @rule(phone=PHONE)
    def sync(self, phone: int) -> None:
        device = self._phone(phone)

        def sync_now() -> None:
            try:
                device.app.sync.sync_now()
            except SessionExpired:
                # A lost reply to a token refresh leaves the phone with a spent token; the worker
                # signs in again (the outbox stays). Offline or faulty, it waits for the next try.
                with contextlib.suppress(AppError):
                    device.sign_in_again()

        self._act(device, sync_now)
        device.note_cursor()

    @rule(phone=PHONE)
    def toggle_network(self, phone: int) -> None:
        device = self._phone(phone)
        device.network.down = not device.network.down
        self.faults += device.network.down

    @rule(
        phone=PHONE,
        fault=st.sampled_from(Fault),
        path=st.sampled_from((PUSH, PULL, REFRESH)),
        after=st.integers(min_value=0, max_value=2),
    )
    def arm_network_fault(self, phone: int, fault: Fault, path: str, after: int) -> None:
        """The fault strikes this phone's next request to ``path`` after ``after`` went through."""
        if fault in (Fault.DUPLICATE, Fault.HOLD):
            path = PUSH  # only a push has something to deliver twice or late
        self._phone(phone).network.arm(fault, path, after)

    @rule(phone=PHONE, readings=st.integers(min_value=1, max_value=12))
    def arm_crash(self, phone: int, readings: int) -> None:
        """The phone dies at its N-th next clock reading: inside a save, a push reply, a pull page..."""
        self._phone(phone).clock.crash_after = readings

    @rule(phone=PHONE, minutes=st.sampled_from((0, 9, 11, 60)))
    def set_phone_clock(self, phone: int, minutes: int) -> None:
        """Someone sets the phone's clock ahead (the server refuses stamps over 10 minutes ahead)."""
        device = self._phone(phone)
        self.faults += minutes > 0 and device.clock.ahead_ms == 0
        device.clock.ahead_ms = minutes * 60_000

    @rule(minutes=st.sampled_from((1, 5)))
    def time_passes(self, minutes: int) -> None:
        """Minutes go by, for the server and every phone: held requests arrive later, stamps age."""
        self.pool.time_passes(minutes * 60_000)

    @rule(phone=PHONE)
    def restart(self, phone: int) -> None:
        device = self._phone(phone)
        self.operations += 1
        self.faults += 1
        self._restart(device)

    @rule(phone=PHONE)
    def deliver_held_push(self, phone: int) -> None:
        """A push held back earlier reaches the server now, after whatever the phone did since."""
        self._phone(phone).network.deliver_held()

    # --- the end of a schedule -----------------------------------------------------------------

    def heal(self) -> None:
        for phone in self.phones:
            phone.network.heal()
            phone.clock.crash_after = None
            while phone.network.deliver_held():
                pass
        for _ in range(2):
            for phone in self.phones:
                phone.sync_until_done()

    def teardown(self) -> None:
        if self.team is None:
            return
        self.heal()
        if self.hooks.healed is not None:
            self.hooks.healed(self)
        if self.hooks.sabotage is not None:
            self.hooks.sabotage(self)
        outcome = check(self)
        self.totals.add(self, outcome)
        if self.hooks.progress is not None:
            self.hooks.progress(self.totals)
        if outcome.lost or outcome.diverged:
            raise AssertionError(
                f"lost={outcome.lost} diverged={outcome.diverged}:\n  " + "\n  ".join(outcome.problems[:20])
            )
        self.team.dirty = False


def check(machine: FaultCampaign) -> Outcome:
    """The invariants of issue 3, after the network healed and everyone synced twice."""
    assert machine.team is not None
    server = machine.pool.server
    team, phones = machine.team, machine.phones
    outcome = Outcome()

    # Every note any phone saved is on the server, once, and on every phone exactly once, with its
    # text. A note counts once as lost however many replicas miss it.
    missing: dict[str, list[str]] = {}
    on_server = team.server_notes(server)
    for record_id, (_case_id, note) in machine.ledger.items():
        if on_server.get(record_id, 0) != 1:
            missing.setdefault(note, []).append(f"the server ({on_server.get(record_id, 0)} copies)")

    # Every replica identical: versions, values, contacts, open conflicts.
    server_ids = team.server_change_ids(server)
    reference: tuple[object, ...] | None = None
    for phone in phones:
        status = phone.app.sync.status()
        if status.pending or status.not_accepted:
            outcome.diverge(f"{phone.slot} still has {status.pending} pending, {status.not_accepted} refused")
        held = phone.change_ids()
        if held != server_ids:
            outcome.diverge(
                f"{phone.slot} holds {len(held - server_ids)} versions the server lacks "
                f"and lacks {len(server_ids - held)} of the server's"
            )
        records: dict[str, PersonRecord] = {}
        for case_id in sorted(machine.cases):
            try:
                records[case_id] = phone.app.records.person_record(case_id)
            except NotReady:  # nothing of this person is on this phone
                outcome.lose(f"person {case_id} is missing on {phone.slot}")
        for record_id, (case_id, note) in machine.ledger.items():
            copies = [c for c in records[case_id].contacts if c.record_id == record_id] if case_id in records else []
            if not copies:
                missing.setdefault(note, []).append(phone.slot)
            elif len(copies) > 1 or copies[0].note != note:
                outcome.diverge(f"{note!r} is on {phone.slot} {len(copies)} times or altered")
        if any(record.unreadable for record in records.values()):
            outcome.diverge(f"{phone.slot} cannot read some versions after healing")
        view = replica_view(phone, records)
        if reference is None:
            reference = view
        elif view != reference:
            outcome.diverge(f"{phone.slot} shows different records, values or conflicts than {phones[0].slot}")
        if phone.cursor_regressions:
            outcome.diverge(f"{phone.slot}'s pull cursor went backwards {phone.cursor_regressions} times")

    for note, places in missing.items():
        outcome.lose(f"{note!r} is missing on {', '.join(places)}")

    # A replayed push changes nothing, and every item of a push the server took comes back duplicate
    # (one it refused, say for a clock far ahead, may be refused again).
    before = server.count("version"), server.count("key_grant")
    for phone in phones:
        for sent, took_everything in phone.network.pushes:
            reply = server.send(sent.request(phone.network.authorization))
            machine.replays += 1
            if took_everything:
                answer = PushResponse.model_validate_json(reply.content) if reply.status_code == 200 else None
                statuses = (
                    {r.status for r in answer.results} | {r.status for r in answer.grant_results} if answer else set()
                )
                if answer is None or statuses - {ChangeStatus.DUPLICATE}:
                    outcome.diverge(
                        f"a replayed push from {phone.slot} was answered {reply.status_code} {sorted(statuses)}"
                    )
    if (server.count("version"), server.count("key_grant")) != before:
        outcome.diverge("replayed pushes changed the server")
    return outcome


def replica_view(phone: Phone, records: dict[str, PersonRecord]) -> tuple[object, ...]:
    """What a worker sees, minus what legitimately differs by phone (``You`` versus a name)."""
    people = tuple(
        (p.case_id, p.name, p.release_at, p.establishment, p.last_contact_at, p.pending, p.open_conflicts)
        for p in phone.app.records.list_people()
    )
    detail = tuple(
        (
            case_id,
            tuple((f.name, f.value, f.current.change_id if f.current else None) for f in record.fields),
            tuple((c.record_id, c.change_id, c.note, c.author.user_id, c.sync_state) for c in record.contacts),
            tuple(
                (c.conflict_id, c.field, c.earlier.change_id, c.earlier.value, c.later.change_id, c.later.value)
                for c in record.open_conflicts
            ),
            tuple(u.change_id for u in record.unreadable),
        )
        for case_id, record in records.items()
    )
    return people, detail
