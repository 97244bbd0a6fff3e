"""Organisations, invitations and the one-time organisation key setup."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from shared.crypto import b64decode
from shared.errors import CryptoError
from shared.protocol import (
    Invitation,
    InvitationRequest,
    KeyGrantIn,
    OrganisationInfo,
    OrganisationKeySetup,
    Role,
    org_key_id,
    org_private_key_id,
)
from sync_server.context import ServerContext
from sync_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from sync_server.services.audit import AuditAction, record, record_for
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.content import content_hash
from sync_server.storage import accounts, organisations
from sync_server.storage import sync as sync_storage
from sync_server.storage.database import begin_write
from sync_server.storage.tables import InvitationRow, KeyGrantRow, OrganisationRow

__all__ = [
    "INVITATION_ALPHABET",
    "create_invitation",
    "create_password_reset",
    "ensure_organisation",
    "hash_invitation_code",
    "init_organisation",
    "invite",
    "invite_by_org_name",
    "new_invitation_code",
    "normalise_invitation_code",
    "organisation_info",
    "setup_keys",
]

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
INVITATION_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_GROUPS = 3
_GROUP_LENGTH = 4
_CODE_DOMAIN = b"gatepost/v1/invitation|"
_MAX_ORG_NAME = 200
_RESET_TTL_MS = 24 * 3600 * 1000


def organisation_info(org: OrganisationRow) -> OrganisationInfo:
    return OrganisationInfo(org_id=org.id, name=org.name, public_key=org.public_key, key_version=org.key_version)


# --- invitations -----------------------------------------------------------------------------


def new_invitation_code() -> str:
    """A code like ``ABCD-EFGH-JKLM`` (about 59 bits from ``secrets``)."""
    groups = ("".join(secrets.choice(INVITATION_ALPHABET) for _ in range(_GROUP_LENGTH)) for _ in range(_CODE_GROUPS))
    return "-".join(groups)


def normalise_invitation_code(code: str) -> str:
    """Upper case without spaces or dashes, so ``abcd efgh-jklm`` matches ``ABCD-EFGH-JKLM``."""
    return re.sub(r"[\s-]+", "", code).upper()


def hash_invitation_code(ctx: ServerContext, code: str) -> str:
    """HMAC-SHA256 of the normalised code under the server secret; only this is stored."""
    secret = ctx.settings.server_secret.get_secret_value().encode("utf-8")
    message = _CODE_DOMAIN + normalise_invitation_code(code).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def create_invitation(
    ctx: ServerContext,
    session: Session,
    *,
    org_id: str,
    role: Role,
    email: str | None,
    created_by: str | None,
) -> Invitation:
    """Store a new invitation (hashed) and return it with its code. The caller commits."""
    now = ctx.now_ms()
    expires = now + ctx.settings.invitation_ttl_days * 24 * 3600 * 1000
    code = new_invitation_code()
    invitation_id = str(uuid.uuid4())
    accounts.add(
        session,
        InvitationRow(
            id=invitation_id,
            code_hash=hash_invitation_code(ctx, code),
            org_id=org_id,
            role=role.value,
            email=email.lower() if email else None,
            created_by=created_by,
            created_at_ms=now,
            expires_at_ms=expires,
        ),
    )
    return Invitation(
        code=code,
        role=role,
        email=email.lower() if email else None,
        expires_at_ms=expires,
        invitation_id=invitation_id,
    )


def invite(ctx: ServerContext, session: Session, caller: AuthenticatedDevice, request: InvitationRequest) -> Invitation:
    """A coordinator invites someone to their organisation."""
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can invite people")
    begin_write(session)
    invitation = create_invitation(
        ctx, session, org_id=caller.org_id, role=request.role, email=request.email, created_by=caller.user_id
    )
    record_for(ctx, session, caller, AuditAction.INVITATION_CREATED, role=request.role.value)
    session.commit()
    return invitation


def create_password_reset(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, user_id: str
) -> Invitation:
    """A one-day code with which ``user_id`` (a member of the caller's organisation) sets a new password."""
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can reset a password")
    begin_write(session)
    member = accounts.get_user(session, user_id)
    if member is None or member.org_id != caller.org_id:
        raise NotFound("member_not_found", "There is no such member in your organisation")
    if member.id == caller.user_id:
        raise Conflict("own_password", "Another coordinator must reset your password")
    if member.removed_at_ms is not None:
        raise Conflict("member_removed", f"{member.display_name} was removed from the organisation")
    now = ctx.now_ms()
    expires = now + _RESET_TTL_MS
    code = new_invitation_code()
    accounts.add(
        session,
        InvitationRow(
            id=str(uuid.uuid4()),
            code_hash=hash_invitation_code(ctx, code),
            org_id=member.org_id,
            role=member.role,
            email=member.email,
            created_by=caller.user_id,
            created_at_ms=now,
            expires_at_ms=expires,
            reset_user_id=member.id,
        ),
    )
    record_for(ctx, session, caller, AuditAction.PASSWORD_RESET_CREATED, user_id=member.id)
    session.commit()
    return Invitation(code=code, role=Role(member.role), email=member.email, expires_at_ms=expires)


# --- organisations (server admin, through the CLI) -------------------------------------------


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > _MAX_ORG_NAME:
        raise InvalidInput("invalid_name", f"An organisation name needs 1 to {_MAX_ORG_NAME} characters")
    return cleaned


def ensure_organisation(ctx: ServerContext, session: Session, name: str) -> tuple[OrganisationRow, bool]:
    """The organisation called ``name``, created if needed; True when it was created. Commits."""
    cleaned = _clean_name(name)
    begin_write(session)
    existing = organisations.get_organisation_by_name(session, cleaned)
    if existing is not None:
        return existing, False
    org = OrganisationRow(id=str(uuid.uuid4()), name=cleaned, created_at_ms=ctx.now_ms())
    try:
        organisations.add_organisation(session, org)
        record(ctx, session, chain=org.id, action=AuditAction.ORGANISATION_CREATED)
        session.commit()
    except IntegrityError:  # created concurrently
        session.rollback()
        again = organisations.get_organisation_by_name(session, cleaned)
        if again is None:
            raise
        return again, False
    return org, True


def init_organisation(
    ctx: ServerContext, session: Session, name: str, coordinator_email: str | None
) -> tuple[OrganisationRow, Invitation, bool]:
    """Create (or reuse) an organisation and a fresh coordinator invitation (bound to an email if given)."""
    org, created = ensure_organisation(ctx, session, name)
    begin_write(session)
    invitation = create_invitation(
        ctx, session, org_id=org.id, role=Role.COORDINATOR, email=coordinator_email, created_by=None
    )
    record(ctx, session, chain=org.id, action=AuditAction.INVITATION_CREATED, details={"role": Role.COORDINATOR.value})
    session.commit()
    return org, invitation, created


def invite_by_org_name(
    ctx: ServerContext, session: Session, org_name: str, role: Role, email: str | None
) -> tuple[OrganisationRow, Invitation]:
    org = organisations.get_organisation_by_name(session, _clean_name(org_name))
    if org is None:
        raise NotFound("unknown_organisation", f"There is no organisation called {org_name!r}")
    begin_write(session)
    invitation = create_invitation(ctx, session, org_id=org.id, role=role, email=email, created_by=None)
    record(ctx, session, chain=org.id, action=AuditAction.INVITATION_CREATED, details={"role": role.value})
    session.commit()
    return org, invitation


# --- the organisation key --------------------------------------------------------------------


def setup_keys(
    ctx: ServerContext, session: Session, caller: AuthenticatedDevice, setup: OrganisationKeySetup
) -> OrganisationInfo:
    """Store the organisation's public key, its wrapped private key and the coordinator's grant.

    Only a coordinator, only once (while ``key_version`` is 0), all in one transaction.
    """
    if caller.role is not Role.COORDINATOR:
        raise Forbidden("coordinators_only", "Only a coordinator can set up the organisation key")
    try:
        public_key = b64decode(setup.public_key)
    except CryptoError:
        public_key = b""
    if len(public_key) != 32:
        raise InvalidInput("invalid_public_key", "public_key must be 32 bytes in URL-safe base64")
    org = organisations.lock_organisation(session, caller.org_id)
    if org is None:
        raise NotFound("unknown_organisation", "Your organisation no longer exists")
    if org.key_version != 0:
        raise Conflict("org_key_exists", "The organisation key is already set up")
    grant = setup.coordinator_grant
    expected_key = org_key_id(org.id, setup.key_version)
    if (
        grant.recipient_kind != "user"
        or grant.recipient_id != caller.user_id
        or grant.key_id != expected_key
        or grant.wrapped_with != f"user:{caller.user_id}"
        or grant.case_id is not None
    ):
        raise InvalidInput(
            "invalid_key_setup",
            f"coordinator_grant must seal {expected_key} to you: recipient_kind 'user', "
            f"recipient_id your user id, wrapped_with 'user:<your user id>', no case_id",
        )
    if sync_storage.get_grants(session, [grant.grant_id]):
        raise Conflict("grant_exists", "A key grant with this grant_id already exists")
    private_grant = KeyGrantIn(
        grant_id=str(uuid.uuid4()),
        key_id=org_private_key_id(org.id, setup.key_version),
        recipient_kind="organisation",
        recipient_id=org.id,
        wrapped_with=expected_key,
        wrapped=setup.wrapped_private_key,
    )
    now = ctx.now_ms()
    rows = []
    for offset, item in enumerate((private_grant, grant), start=1):
        rows.append(
            KeyGrantRow(
                grant_id=item.grant_id,
                seq=org.last_seq + offset,
                org_id=org.id,
                key_id=item.key_id,
                case_id=item.case_id,
                recipient_kind=item.recipient_kind,
                recipient_id=item.recipient_id,
                wrapped_with=item.wrapped_with,
                wrapped=item.wrapped,
                created_by_user_id=caller.user_id,
                content_hash=content_hash(item),
                created_at_ms=now,
            )
        )
    sync_storage.add_rows(session, rows)
    org.last_seq += len(rows)
    org.public_key = setup.public_key
    org.key_version = setup.key_version
    session.add(org)
    record_for(ctx, session, caller, AuditAction.ORGANISATION_KEY_SET_UP, key_version=setup.key_version)
    session.commit()
    return organisation_info(org)
