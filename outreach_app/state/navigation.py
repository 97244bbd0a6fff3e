"""Where the app is (``Screen``) and what it tells the worker in passing (``Notice``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["NOT_FORMS", "RESUMABLE", "TOP_LEVEL", "Notice", "Screen"]


class Screen(StrEnum):
    SIGN_IN = "sign_in"
    SET_PIN = "set_pin"
    UNLOCK = "unlock"
    CASELOAD = "caseload"
    ADD_PERSON = "add_person"
    PERSON = "person"
    LOG_CONTACT = "log_contact"
    DEVICES = "devices"
    AUDIT = "audit"
    RECORD_CONSENT = "record_consent"
    SHARE_WITHOUT_CONSENT = "share_without_consent"
    RENEW_CONSENT = "renew_consent"
    TODAY = "today"
    GATE_CHECKLIST = "gate_checklist"
    GATE_OUTCOME = "gate_outcome"
    HANDOVER = "handover"
    # The person's needs, plan and referrals (state/plan.py, views/plan.py).
    RATE_NEED = "rate_need"
    ADD_ACTION = "add_action"
    REFER = "refer"
    REFERRAL_SUMMARY = "referral_summary"
    MOVE_REFERRAL = "move_referral"
    # The service directory (state/directory.py, views/directory.py).
    SERVICES = "services"
    EDIT_SERVICE = "edit_service"
    CHOOSE_SERVICE = "choose_service"
    # The coordinator's desk: conflicts to settle (state/desk.py, views/desk.py).
    DESK = "desk"
    # The coordinator's team: members, invitations, devices (state/team.py, views/team.py).
    TEAM = "team"
    # One worker's people, from the caseload dashboard on the Desk (state/dashboard.py).
    WORKER_CASELOAD = "worker_caseload"
    # Where the person lives and their work and training (state/outcomes.py, views/outcomes.py).
    RECORD_ACCOMMODATION = "record_accommodation"
    RECORD_WORK = "record_work"
    # The coordinator's outcomes report and the people behind a figure.
    OUTCOMES = "outcomes"
    OUTCOME_PEOPLE = "outcome_people"


# The screens at the bottom bar; every other resumable screen but the record is a form (with a draft).
TOP_LEVEL = frozenset({Screen.TODAY, Screen.CASELOAD, Screen.SERVICES, Screen.DESK})

# Where an inactivity lock may take the worker back to after the PIN.
RESUMABLE = frozenset(
    {
        Screen.TODAY,
        Screen.CASELOAD,
        Screen.ADD_PERSON,
        Screen.PERSON,
        Screen.LOG_CONTACT,
        Screen.GATE_CHECKLIST,
        Screen.GATE_OUTCOME,
        Screen.HANDOVER,
        Screen.RATE_NEED,
        Screen.ADD_ACTION,
        Screen.REFER,
        Screen.SERVICES,
        Screen.EDIT_SERVICE,
        Screen.CHOOSE_SERVICE,
        Screen.DESK,
        Screen.TEAM,
        Screen.WORKER_CASELOAD,
        Screen.OUTCOMES,
    }
)

# Resumable screens below the bottom bar that are not forms: no draft of them is kept on the phone
# (a closed app opens on Today); the lock keeps what they show (a worker, a period) in memory only.
NOT_FORMS = frozenset({Screen.TEAM, Screen.WORKER_CASELOAD, Screen.OUTCOMES})


@dataclass(frozen=True)
class Notice:
    text: str
    is_error: bool = False
