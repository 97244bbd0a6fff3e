"""Seed a demo organisation through the client's own services (as three phones would).

    outreach-server init-org "Demo Outreach" --coordinator-email coordinator@demo.test
    python -m outreach_app.demo --server http://127.0.0.1:8000 --coordinator-code CODE

Registers the coordinator with the printed invitation code, invites and registers two link workers
and a peer mentor, lets the coordinator's device share the organisation key with the worker, and
has the worker add thirteen people (release dates over the next fortnight), six whose licence ended
in the last two months (for the outcomes report) and a few contacts, and
has the coordinator assign the peer mentor to two of them. The second link worker's phone and the
first disagree about one release date (a conflict for the coordinator's Desk).
Each user's device store is ``<data dir>/devices/demo-<role>/``; every password is
``demo-password`` and every PIN ``1234``. Running it again signs in and reuses what exists.
Real Scrypt parameters are used, as on a phone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from outreach_app.config import app_data_dir, default_server_url
from outreach_app.errors import AppError, SessionExpired, SignInFailed
from outreach_app.services import AccountStatus, Gatepost, device_store_path
from shared.kinds import Tier
from shared.protocol import Role

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_PIN",
    "DEMO_USERS",
    "PARTNER_ORGANISATION",
    "SHARED_WITH_PARTNER",
    "DemoUser",
    "main",
    "seed",
]

DEMO_PASSWORD = "demo-password"  # noqa: S105 - the published demo password
DEMO_PIN = "1234"


@dataclass(frozen=True)
class DemoUser:
    slot: str
    role: Role
    email: str
    display_name: str
    device_name: str


COORDINATOR = DemoUser("demo-coordinator", Role.COORDINATOR, "coordinator@demo.test", "Priya Shah", "Priya's phone")
WORKER = DemoUser("demo-worker", Role.LINK_WORKER, "worker@demo.test", "Sam Okoro", "Sam's phone")
MENTOR = DemoUser("demo-mentor", Role.PEER_MENTOR, "mentor@demo.test", "Danny Reeve", "Danny's phone")
# The coordinator of a partner organisation on the same server (``PARTNER_ORGANISATION``).
PARTNER = DemoUser("demo-partner", Role.COORDINATOR, "partner@demo.test", "Ruth Adeyemi", "Ruth's laptop")
PARTNER_ORGANISATION = "Hope Street Probation"
# Dean consented to his probation officer seeing his basic details (release, contacts mentors may see).
SHARED_WITH_PARTNER = "Dean Walsh"
# A second link worker, whose phone disagrees with Sam's about one release (the Desk's conflict).
SECOND_WORKER = DemoUser("demo-worker-2", Role.LINK_WORKER, "worker2@demo.test", "Aisha Khan", "Aisha's phone")
DEMO_USERS = (COORDINATOR, WORKER, SECOND_WORKER, MENTOR, PARTNER)

# (name, other names, establishment, days from today, time or None, local connection, phone, goals)
_PEOPLE: tuple[tuple[str, str, str, int, str | None, str, str, str], ...] = (
    ("Jade Porter", "", "HMP Eastwood Park", 0, "11:30", "Bristol (Filwood)", "", "A place of my own, and college"),
    ("Dean Walsh", "", "HMP Bristol", 1, "08:30", "Bristol (Lawrence Hill)", "07700 900118", "Get my own flat"),
    ("Kayleigh Dawson", "Kay", "HMP Eastwood Park", 2, None, "South Gloucestershire", "", "See my kids again"),
    ("Marcus Bailey", "", "HMP Bristol", 3, "09:00", "Bristol (Southmead)", "", ""),
    ("Tyrone Campbell", "Ty", "HMP Channings Wood", 4, None, "Bristol (St Pauls)", "07700 900342", ""),
    ("Shaun McAllister", "", "HMP Exeter", 5, "10:15", "Weston-super-Mare", "", "Stay off the gear"),
    ("Jordan Pryce", "", "HMP Cardiff", 6, None, "Bristol (Hartcliffe)", "", ""),
    ("Liam Haworth", "", "HMP Erlestoke", 7, "08:00", "Bath", "07700 900561", "Back into labouring work"),
    ("Daniel Okafor", "Danny O", "HMP Leyhill", 9, None, "Bristol (Easton)", "", ""),
    ("Ryan Whitfield", "", "HMP Guys Marsh", 10, "11:30", "North Somerset", "", ""),
    ("Gareth Lloyd", "", "HMP Bristol", 12, None, "Bristol (Bedminster)", "", "Sort my benefits out"),
    ("Aaron Siddiqui", "", "HMP Exeter", 13, "09:45", "Bristol (Kingswood)", "07700 900774", ""),
)
# Aisha (the second link worker) is the lead professional for these; Sam for the rest (the Desk's
# caseload dashboard shows both caseloads).
_AISHAS = frozenset({"Marcus Bailey", "Liam Haworth", "Ryan Whitfield", "Aaron Siddiqui"})
# The twelfth person is released on a Friday afternoon ("never released on a Friday afternoon").
_FRIDAY_PERSON = ("Connor Bright", "", "HMP Bristol", "Bristol (Knowle West)")

_CONTACTS: tuple[tuple[str, int, str, str, str, str, Tier], ...] = (
    (
        "Dean Walsh",
        -6,
        "prison_visit",
        "face_to_face",
        "In-reach visit. Housing options appointment booked for release day; ID still missing.",
        "fact",
        Tier.BASIC,
    ),
    (
        "Dean Walsh",
        -2,
        "remote",
        "phone_call",
        "Confirmed the bedspace at the hostel is held for him.",
        "fact",
        Tier.FULL,
    ),
    (
        "Kayleigh Dawson",
        -3,
        "prison_visit",
        "face_to_face",
        "Worried about contact with her children. Seems low in mood; I think a GP appointment early on would help.",
        "opinion",
        Tier.FULL,
    ),
    (
        "Tyrone Campbell",
        -1,
        "remote",
        "attempted",
        "Rang the wing, no answer. Will write instead.",
        "fact",
        Tier.BASIC,
    ),
)


def _say(message: str) -> None:
    print(message, flush=True)


def _next_friday_afternoon(today: dt.date) -> str:
    days = (4 - today.weekday()) % 7 or 7
    return (today + dt.timedelta(days=days)).isoformat() + "T15:30"


def _open(data_dir: Path, user: DemoUser) -> Gatepost:
    return Gatepost.open(device_store_path(data_dir, user.slot))


def _sign_in_or_register(app: Gatepost, server: str, user: DemoUser, code: str | None) -> str:
    """Bring ``app`` to UNLOCKED for ``user``; returns what was done."""
    status = app.account.status()
    if status is AccountStatus.LOCKED:
        app.account.unlock(DEMO_PIN)
        return "unlocked with the PIN"
    if status is AccountStatus.UNLOCKED:
        return "already unlocked"
    try:
        app.account.sign_in(server, user.email, DEMO_PASSWORD, user.device_name)
        done = "signed in (account existed)"
    except SignInFailed:
        if code is None:
            raise
        app.account.register(server, code, user.email, DEMO_PASSWORD, user.display_name, user.device_name)
        done = "registered"
    if app.account.status() is AccountStatus.NEEDS_PIN:
        app.account.set_pin(DEMO_PIN)
    return done


def _sync(app: Gatepost, server: str, user: DemoUser) -> None:
    try:
        report = app.sync.sync_now()
    except SessionExpired:
        app.account.sign_in(server, user.email, DEMO_PASSWORD, user.device_name)
        report = app.sync.sync_now()
    if report.offline:
        raise AppError(f"The server at {server} cannot be reached.")


def _add_people(app: Gatepost, today: dt.date) -> int:
    existing = {person.name for person in app.records.list_people()}
    added = 0
    rows: list[dict[str, str]] = []
    for name, other, establishment, days, time, local, phone, goals in _PEOPLE:
        day = (today + dt.timedelta(days=days)).isoformat()
        rows.append(
            {
                "name": name,
                "other_names": other,
                "establishment": establishment,
                "release_at": f"{day}T{time}" if time else day,
                "local_connection": local,
                "phone": phone,
                "goals": goals,
                "lead_professional": f"{(SECOND_WORKER if name in _AISHAS else WORKER).display_name} (Demo Outreach)",
            }
        )
    name, other, establishment, local = _FRIDAY_PERSON
    rows.append(
        {
            "name": name,
            "other_names": other,
            "establishment": establishment,
            "release_at": _next_friday_afternoon(today),
            "local_connection": local,
            "risk_summary": "No violence on record. Short sentence for theft; not a risk to staff.",
        }
    )
    for values in rows:
        if values["name"] in existing:
            continue
        app.records.add_person({key: value for key, value in values.items() if value})
        added += 1
    return added


def _add_contacts(app: Gatepost, today: dt.date) -> int:
    people = {person.name: person.case_id for person in app.records.list_people()}
    added = 0
    for name, days, setting, contact_type, note, basis, tier in _CONTACTS:
        case_id = people.get(name)
        if case_id is None:
            continue
        if any(entry.note == note for entry in app.records.person_record(case_id).contacts):
            continue
        occurred = (today + dt.timedelta(days=days)).isoformat() + "T11:00"
        app.records.log_contact(
            case_id,
            occurred_at=occurred,
            setting=setting,
            contact_type=contact_type,
            note=note,
            basis=basis,
            tier=tier,
        )
        added += 1
    return added


# The demo mentor meets Jade at the gate today and keeps Dean company after his release.
MENTORED = ("Jade Porter", "Dean Walsh")


def _assign_mentor(coordinator: Gatepost) -> list[str]:
    """Assign the demo mentor to the people in ``MENTORED`` (again on a second run: a no-op)."""
    names: list[str] = []
    for person in (person for person in coordinator.records.list_people() if person.name in MENTORED):
        mentors = coordinator.mentors.mentors(person.case_id)
        if not any(m.display_name == MENTOR.display_name for m in mentors.assigned):
            mentor = next(m for m in mentors.available if m.display_name == MENTOR.display_name)
            coordinator.mentors.assign_mentor(person.case_id, mentor.user_id)
        names.append(person.name or person.case_id)
    return names


# People whose licence ended in the last two months, with where they live and their work recorded,
# so the coordinator's outcomes report has figures past its suppression of numbers under 5:
# (name, days since the licence ended, where they live, suitable, in work, stage reached).
_FINISHED_LICENCES: tuple[tuple[str, int, str, bool, str, str], ...] = (
    ("Wayne Doyle", 20, "private_tenancy", True, "full_time", "employment"),
    ("Carl Jenkins", 35, "social_tenancy", True, "part_time", "employment"),
    ("Lewis Grant", 50, "family_or_friends", True, "part_time", "sustained_employment"),
    ("Stacey Moore", 28, "supported_housing_tenancy", True, "part_time", "employment"),
    ("Rob Pearce", 41, "approved_premises", True, "full_time", "employment"),
    ("Kieran Walsh", 15, "sofa_surfing", False, "part_time", "employment"),
)
FINISHED_LICENCES = tuple(name for name, *_ in _FINISHED_LICENCES)


def _add_finished_licences(app: Gatepost, today: dt.date) -> int:
    """Six people released last spring whose licence has ended since: where they live and their
    work on the day it ended, and a contact this week (they are still supported)."""
    existing = {person.name for person in app.records.list_people()}
    added = 0
    for name, ended_days, place, suitable, work, stage in _FINISHED_LICENCES:
        if name in existing:
            continue
        ended = today - dt.timedelta(days=ended_days)
        released = ended - dt.timedelta(days=180)
        case_id = app.records.add_person(
            {
                "name": name,
                "establishment": "HMP Bristol",
                "release_at": released.isoformat(),
                "release_type": "licence",
                "supervision": "licence",
                "supervision_ends_on": ended.isoformat(),
                "engagement": "engaging",
                "local_connection": "Bristol",
            }
        )
        app.casework.record_accommodation(
            case_id, accommodation_type=place, suitable=suitable, from_on=released + dt.timedelta(days=30)
        )
        app.casework.record_employment(case_id, status=work, ete_stage=stage, from_on=released + dt.timedelta(days=60))
        app.records.log_contact(
            case_id,
            occurred_at=(today - dt.timedelta(days=2)).isoformat() + "T10:00",
            setting="office",
            contact_type="face_to_face",
            note="Drop-in catch-up: settled, keeping up with the rent.",
            basis="fact",
            tier=Tier.BASIC,
        )
        added += 1
    return added


def _add_casework(app: Gatepost, today: dt.date) -> None:
    """The day's work around a few people, so every screen has something in it: Jade's release today
    with the gate arranged, Dean's justice status, needs rated twice, a referral and a follow-up, and
    the local services (written once; a second run changes nothing)."""
    people = {person.name: person.case_id for person in app.records.list_people()}
    casework = app.casework
    jade, dean, kayleigh = people.get("Jade Porter"), people.get("Dean Walsh"), people.get("Kayleigh Dawson")
    if jade is not None:
        casework.save_release_plan(
            jade,
            {
                "accommodation": "bedspace_held",
                "accommodation_address": "Elm Lodge, 4 Mill Street",
                "benefits": True,
                "gp": True,
                "phone": True,
                "meeting_at": f"{today.isoformat()}T11:00",
                "meeting_place": "Visitor centre car park",
                "met_by": f"{MENTOR.display_name} (peer mentor)",
            },
        )
    if dean is not None:
        for field, value in (
            ("release_type", "licence"),
            ("custody_status", "sentenced"),
            ("sentence_length", "18 months"),
            ("supervision", "licence"),
            ("supervision_ends_on", (today + dt.timedelta(days=270)).isoformat()),
            ("mappa", "none"),
        ):
            app.records.update_person(dean, field, value)
        casework.save_release_plan(dean, {"accommodation": "confirmed", "identity": False, "benefits": True})
        if not casework.needs(dean):
            casework.rate_need(
                dean, "accommodation", "red", rated_on=today - dt.timedelta(days=30), reason="No address"
            )
            casework.rate_need(
                dean, "accommodation", "amber", rated_on=today - dt.timedelta(days=6), reason="Hostel bedspace held"
            )
            casework.rate_need(dean, "finance", "red", rated_on=today - dt.timedelta(days=6), reason="No bank account")
        if not casework.referrals(dean):
            referral = casework.refer(
                dean,
                service="housing_options",
                to_whom="Bristol Housing Options",
                sent_on=today - dt.timedelta(days=6),
                need_area="accommodation",
            )
            casework.update_referral(dean, referral, "accepted", on=today - dt.timedelta(days=2))
    if kayleigh is not None and not casework.plan(kayleigh):
        casework.add_plan_action(
            kayleigh,
            action="Ring the GP surgery about registering her",
            owner=WORKER.display_name,
            due_on=today,
            need_area="physical_health",
            follow_up=True,
        )
    if not app.directory.entries():
        for values in (
            {
                "name": "Bristol Housing Options",
                "service": "housing_options",
                "area": "Bristol",
                "address": "100 Temple Street",
                "opening_hours": "Mon-Fri 9:00-17:00",
                "phone": "0117 922 2200",
            },
            {
                "name": "St Mungo's Bristol",
                "service": "hostel",
                "area": "Bristol (Old Market)",
                "opening_hours": "Referrals 24 hours",
                "notes": "Ask for the resettlement worker.",
            },
            {
                "name": "Bristol Drugs Project",
                "service": "dip",
                "area": "Bristol",
                "address": "11 Brunswick Square",
                "opening_hours": "Drop-in Mon, Wed, Fri 10:00-13:00",
            },
        ):
            app.directory.add_entry(values)


def _share_with_partner(worker: Gatepost, today: dt.date) -> str:
    """Record Dean's consent to share his basic details with the partner organisation (once)."""
    case_id = next(p.case_id for p in worker.records.list_people() if p.name == SHARED_WITH_PARTNER)
    sharing = worker.sharing.case_sharing(case_id)
    if any(share.partner_org_name == PARTNER_ORGANISATION for share in sharing.active):
        return "already shared"
    partner = next((org for org in sharing.directory if org.name == PARTNER_ORGANISATION), None)
    if partner is None:
        return f"{PARTNER_ORGANISATION} is not on the server"
    worker.sharing.record_consent(
        case_id,
        recipients=[partner.org_id],
        tiers=[Tier.BASIC],
        purposes="So his probation officer knows his release arrangements and can plan his first appointment.",
        explained=True,
        consequences_explained=True,
        recorded_how="signed_form",
        consent_date=(today - dt.timedelta(days=3)).isoformat(),
        review_date=(today + dt.timedelta(days=90)).isoformat(),
    )
    return "shared"


def _seed_partner(data_dir: Path, server: str, worker: Gatepost, code: str | None, today: dt.date) -> None:
    """The partner organisation's coordinator (their organisation keys come with the first sync),
    and Dean's consent to share with it; the partner's laptop then receives his basic details."""
    partner = _open(data_dir, PARTNER)
    try:
        try:
            done = _sign_in_or_register(partner, server, PARTNER, code)
        except SignInFailed:
            _say(f"{PARTNER.email}: no account and no invitation code; the partner organisation is left out.")
            return
        _say(f"partner coordinator {PARTNER.email}: {done}")
        _sync(partner, server, PARTNER)
        _say(f"{SHARED_WITH_PARTNER} with {PARTNER_ORGANISATION}: {_share_with_partner(worker, today)}")
        _sync(partner, server, PARTNER)
    finally:
        partner.close()


# Marcus's release: the prison told Sam one thing and Aisha another, on the same morning, offline.
CONFLICTED = "Marcus Bailey"
_AISHAS_NOTE = "Rang the OMU at HMP Bristol: they think his release has moved to the next day, time not known yet."


def _seed_conflict(sam: Gatepost, aisha: Gatepost, sync_both: Callable[[], None], today: dt.date) -> bool:
    """Sam and Aisha change Marcus's release date and time from the same starting point before either
    has synced: a safety-critical conflict for the coordinator's Desk. Only once: when Marcus's
    release has been changed since it was first written (the conflict, or its settling), nothing."""
    case_id = next((person.case_id for person in sam.records.list_people() if person.name == CONFLICTED), None)
    if case_id is None or len(sam.records.person_record(case_id).field("release_at").history) != 1:
        return False
    release = dt.date.fromisoformat(str(sam.records.person_record(case_id).field("release_at").value)[:10])
    sam.records.update_person(case_id, "release_at", f"{release.isoformat()}T08:30")  # the gate rang Sam
    aisha.records.log_contact(
        case_id,
        occurred_at=f"{today.isoformat()}T08:45",
        setting="remote",
        contact_type="phone_call",
        note=_AISHAS_NOTE,
        basis="fact",
        tier=Tier.FULL,
    )
    aisha.records.update_person(case_id, "release_at", (release + dt.timedelta(days=1)).isoformat())
    sync_both()
    return True


def seed(
    server: str,
    data_dir: Path,
    coordinator_code: str | None,
    *,
    today: dt.date | None = None,
    partner_code: str | None = None,
) -> None:
    """Create (or reuse) the demo's accounts, devices, people and contacts, and the partner organisation's
    coordinator (``partner_code``: the invitation printed when that organisation was made)."""
    today = today or dt.date.today()
    coordinator = _open(data_dir, COORDINATOR)
    worker = _open(data_dir, WORKER)
    second = _open(data_dir, SECOND_WORKER)
    mentor = _open(data_dir, MENTOR)
    try:
        done = _sign_in_or_register(coordinator, server, COORDINATOR, coordinator_code)
        _say(f"coordinator {COORDINATOR.email}: {done}")
        _sync(coordinator, server, COORDINATOR)
        for app, user in ((worker, WORKER), (second, SECOND_WORKER), (mentor, MENTOR)):
            try:
                done = _sign_in_or_register(app, server, user, None)
            except SignInFailed:
                invitation = coordinator.account.create_invitation(user.role, user.email)
                done = _sign_in_or_register(app, server, user, invitation.code)
            _say(f"{user.role.value} {user.email}: {done}")
            _sync(app, server, user)
        _sync(coordinator, server, COORDINATOR)  # seals the organisation key to the worker
        _sync(worker, server, WORKER)
        _sync(second, server, SECOND_WORKER)
        if not (worker.account.profile().has_organisation_key and second.account.profile().has_organisation_key):
            raise AppError("A worker's phone did not receive the organisation key.")
        people = _add_people(worker, today) + _add_finished_licences(worker, today)
        contacts = _add_contacts(worker, today)
        _add_casework(worker, today)
        _sync(worker, server, WORKER)
        _sync(second, server, SECOND_WORKER)

        def sync_both() -> None:
            for app, user in ((worker, WORKER), (second, SECOND_WORKER), (worker, WORKER)):
                _sync(app, server, user)

        if _seed_conflict(worker, second, sync_both, today):
            _say(f"conflict seeded: {WORKER.display_name} and {SECOND_WORKER.display_name} on {CONFLICTED}'s release")
        _sync(coordinator, server, COORDINATOR)
        _say(f"people added: {people}, contacts added: {contacts}; caseload: {len(worker.records.list_people())}")
        assigned = _assign_mentor(coordinator)
        _sync(mentor, server, MENTOR)
        _say(f"{MENTOR.display_name} mentors: {', '.join(assigned)}")
        _seed_partner(data_dir, server, worker, partner_code, today)
    finally:
        for app in (coordinator, worker, second, mentor):
            app.close()
    _say(f"Demo ready. Password '{DEMO_PASSWORD}', PIN {DEMO_PIN}. Devices in {data_dir / 'devices'}:")
    for user in DEMO_USERS:
        _say(f"  {user.slot:<17} {user.email:<24} {user.role.value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m outreach_app.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=default_server_url(), help="sync server URL")
    parser.add_argument(
        "--coordinator-code",
        help="invitation code printed by `outreach-server init-org` (not needed when the demo already exists)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="app data directory (default: the app's)")
    args = parser.parse_args(argv)
    try:
        seed(args.server.rstrip("/"), args.data_dir or app_data_dir(), args.coordinator_code)
    except SignInFailed as error:
        _say(f"Could not sign in the coordinator: {error}")
        _say("Pass the invitation code printed by `outreach-server init-org` as --coordinator-code.")
        return 2
    except AppError as error:
        _say(f"Demo seeding failed: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
