"""Checks the services make before they act for a caller: the organisation's lock, and that a
person's case belongs to the caller's organisation."""

from __future__ import annotations

from sqlmodel import Session

from sync_server.errors import NotFound
from sync_server.services.caller import AuthenticatedDevice
from sync_server.storage import organisations
from sync_server.storage import sync as sync_storage
from sync_server.storage.tables import OrganisationRow

__all__ = ["lock_organisation", "require_own_case"]

_PERSON = "person"


def lock_organisation(session: Session, org_id: str) -> OrganisationRow:
    """Take the organisation's row lock (its sequence numbers are handed out under it)."""
    org = organisations.lock_organisation(session, org_id)
    if org is None:
        raise NotFound("organisation_not_found", "Your organisation no longer exists")
    return org


def require_own_case(session: Session, caller: AuthenticatedDevice, case_id: str) -> None:
    """A person recorded in the caller's organisation, or ``case_not_found``."""
    record = sync_storage.get_records(session, [case_id]).get(case_id)
    if record is None or record.org_id != caller.org_id or record.kind != _PERSON:
        raise NotFound(
            "case_not_found", "There is no such person in your organisation (or their record has not synced yet)"
        )
