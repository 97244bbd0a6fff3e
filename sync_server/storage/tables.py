"""The server's tables (SQLModel). They never cross the API: services convert to protocol models.

The tables live in their own SQLAlchemy registry and ``MetaData`` (``SERVER_METADATA``), so the
client's SQLModel tables, which may be imported in the same process by tests, never collide with
them. ``migrations/versions`` must create exactly this schema; a test compares the two.

Times are integer milliseconds since the epoch (``*_ms``). Identifiers are UUID text. Ciphertext,
nonces, wrapped keys and public keys are stored exactly as received (base64 or envelope text).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, MetaData, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.protocol import DEFAULT_RETENTION_DAYS

__all__ = [
    "SERVER_METADATA",
    "AssignmentRow",
    "AuditEntryRow",
    "AuditHeadRow",
    "CaseStateRow",
    "DeviceRow",
    "InvitationRow",
    "KeyGrantRow",
    "OrganisationRow",
    "RecordRow",
    "RefreshTokenRow",
    "ServerTable",
    "ShareRow",
    "SignInFailureRow",
    "UserRow",
    "VersionRow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SERVER_METADATA = MetaData(naming_convention=NAMING_CONVENTION)
_server_registry = registry(metadata=SERVER_METADATA)


class ServerTable(SQLModel, registry=_server_registry):
    """Base of every server table; keeps them in ``SERVER_METADATA``."""


class OrganisationRow(ServerTable, table=True):
    __tablename__ = "organisation"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    # The last change or grant sequence number handed out in this organisation.
    last_seq: int = Field(default=0, sa_type=BigInteger)
    public_key: str | None = Field(default=None, sa_type=Text)
    key_version: int = Field(default=0)
    created_at_ms: int = Field(sa_type=BigInteger)
    # Days a closed case is kept before ``outreach-server purge`` erases it.
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS)


class UserRow(ServerTable, table=True):
    __tablename__ = "user"

    id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organisation.id", index=True, max_length=36)
    email: str = Field(max_length=254, unique=True)  # stored lower-case
    display_name: str = Field(max_length=80)
    role: str = Field(max_length=20)
    kdf: str = Field(sa_type=Text)  # KdfParams as JSON
    auth_key_hash: str = Field(max_length=64)
    public_key: str = Field(sa_type=Text)
    wrapped_private_key: str = Field(sa_type=Text)
    created_at_ms: int = Field(sa_type=BigInteger)
    # When a coordinator-led password reset gave the member a new key pair: grants sealed to the
    # old public key before then no longer count as access.
    keys_reset_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    # Removed from the organisation by a coordinator: the account stays (authorship, the audit
    # trail) but signs in no more, and no key may be sealed to it.
    removed_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    removed_by: str | None = Field(default=None, max_length=36)


class InvitationRow(ServerTable, table=True):
    __tablename__ = "invitation"

    id: str = Field(primary_key=True, max_length=36)
    code_hash: str = Field(max_length=64, unique=True)
    org_id: str = Field(foreign_key="organisation.id", index=True, max_length=36)
    role: str = Field(max_length=20)
    email: str | None = Field(default=None, max_length=254)
    created_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    created_at_ms: int = Field(sa_type=BigInteger)
    expires_at_ms: int = Field(sa_type=BigInteger)
    used_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    used_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    # Set for a password-reset code: only this member may use it, and only to reset.
    reset_user_id: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    # Set when a coordinator cancelled it: it can no longer register anyone.
    cancelled_at_ms: int | None = Field(default=None, sa_type=BigInteger)


class DeviceRow(ServerTable, table=True):
    __tablename__ = "device"

    id: str = Field(primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=36)
    org_id: str = Field(foreign_key="organisation.id", index=True, max_length=36)
    name: str = Field(max_length=80)
    created_at_ms: int = Field(sa_type=BigInteger)
    last_seen_at_ms: int = Field(sa_type=BigInteger)
    revoked_at_ms: int | None = Field(default=None, sa_type=BigInteger)


class RefreshTokenRow(ServerTable, table=True):
    __tablename__ = "refresh_token"

    id: str = Field(primary_key=True, max_length=36)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the opaque token
    device_id: str = Field(foreign_key="device.id", index=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    issued_at_ms: int = Field(sa_type=BigInteger)
    expires_at_ms: int = Field(sa_type=BigInteger)
    used_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    revoked_at_ms: int | None = Field(default=None, sa_type=BigInteger)


class RecordRow(ServerTable, table=True):
    """Which organisation, case and kind a record belongs to; fixed by its first accepted version."""

    __tablename__ = "record"

    record_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organisation.id", index=True, max_length=36)
    case_id: str | None = Field(default=None, max_length=36)
    kind: str = Field(max_length=40)
    created_by_user_id: str = Field(foreign_key="user.id", max_length=36)


class VersionRow(ServerTable, table=True):
    __tablename__ = "version"
    __table_args__ = (
        Index("ix_version_org_id_seq", "org_id", "seq", unique=True),
        Index("ix_version_record_id_field", "record_id", "field"),
    )

    change_id: str = Field(primary_key=True, max_length=36)
    seq: int = Field(sa_type=BigInteger)
    org_id: str = Field(foreign_key="organisation.id", max_length=36)
    record_id: str = Field(foreign_key="record.record_id", max_length=36)
    case_id: str | None = Field(default=None, max_length=36)
    kind: str = Field(max_length=40)
    field: str = Field(max_length=40)
    tier: str = Field(max_length=8)
    key_id: str = Field(max_length=120)
    hlc: str = Field(max_length=100)
    base_hlc: str | None = Field(default=None, max_length=100)
    author_user_id: str = Field(foreign_key="user.id", max_length=36)
    author_device_id: str = Field(foreign_key="device.id", max_length=36)
    nonce: str = Field(sa_type=Text)
    ciphertext: str = Field(sa_type=Text)
    tag: str = Field(max_length=32)
    amends: str | None = Field(default=None, max_length=36)
    settles: str = Field(sa_type=Text)  # JSON list of change ids
    content_hash: str = Field(max_length=64)
    received_at_ms: int = Field(sa_type=BigInteger)


class KeyGrantRow(ServerTable, table=True):
    __tablename__ = "key_grant"
    __table_args__ = (
        Index("ix_key_grant_org_id_seq", "org_id", "seq", unique=True),
        Index("ix_key_grant_recipient", "recipient_kind", "recipient_id", "org_id", "seq"),
    )

    grant_id: str = Field(primary_key=True, max_length=36)
    seq: int = Field(sa_type=BigInteger)
    org_id: str = Field(foreign_key="organisation.id", max_length=36)
    key_id: str = Field(max_length=120)
    case_id: str | None = Field(default=None, max_length=36)
    recipient_kind: str = Field(max_length=20)
    recipient_id: str = Field(max_length=36)
    wrapped_with: str = Field(max_length=120)
    wrapped: str = Field(sa_type=Text)
    created_by_user_id: str = Field(foreign_key="user.id", max_length=36)
    content_hash: str = Field(max_length=64)
    created_at_ms: int = Field(sa_type=BigInteger)


class SignInFailureRow(ServerTable, table=True):
    """One failed sign-in, counted for throttling. ``subject`` is an HMAC of the typed email or of
    the client address, so the table names nobody; rows older than the window are pruned."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (Index("ix_sign_in_failure_scope_subject_at_ms", "scope", "subject", "at_ms"),)

    id: str = Field(primary_key=True, max_length=36)
    scope: str = Field(max_length=10)  # "account" or "address"
    subject: str = Field(max_length=64)
    at_ms: int = Field(sa_type=BigInteger)


class AuditHeadRow(ServerTable, table=True):
    """The newest entry of one audit chain (an organisation's, or ``server``): locked to append."""

    __tablename__ = "audit_head"

    chain: str = Field(primary_key=True, max_length=36)
    position: int = Field(default=0, sa_type=BigInteger)
    entry_hash: str = Field(max_length=64)


class AuditEntryRow(ServerTable, table=True):
    """One audited event. ``entry_hash`` is an HMAC over the entry and the previous entry's hash.

    ``details`` is JSON of counts and identifiers the server already holds; never content.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_chain_position", "chain", "position", unique=True),)

    id: str = Field(primary_key=True, max_length=36)
    chain: str = Field(max_length=36)
    position: int = Field(sa_type=BigInteger)
    at_ms: int = Field(sa_type=BigInteger)
    action: str = Field(max_length=40)
    actor_user_id: str | None = Field(default=None, max_length=36)
    actor_device_id: str | None = Field(default=None, max_length=36)
    details: str = Field(sa_type=Text)
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)


class AssignmentRow(ServerTable, table=True):
    """One assignment of a peer mentor to a case, from assigned to unassigned (a row per spell).

    ``assigned_seq`` and ``unassigned_seq`` are taken from the organisation's sequence, so a
    mentor's pull cursor orders them with versions and grants: see ``services.sync.pull``.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        Index("ix_assignment_mentor_user_id_case_id", "mentor_user_id", "case_id"),
        Index("ix_assignment_case_id", "case_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organisation.id", max_length=36)
    case_id: str = Field(max_length=36)
    mentor_user_id: str = Field(foreign_key="user.id", max_length=36)
    assigned_at_ms: int = Field(sa_type=BigInteger)
    assigned_by: str = Field(foreign_key="user.id", max_length=36)
    assigned_seq: int = Field(sa_type=BigInteger)
    unassigned_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    unassigned_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    unassigned_seq: int | None = Field(default=None, sa_type=BigInteger)


class ShareRow(ServerTable, table=True):
    """One share of a case with a partner organisation: the consent scope the server enforces.

    The owning organisation's members create it (with a consent record, or a lawful basis) and may
    withdraw it; it also ends by time at ``expires_at_ms``. ``created_seq`` and ``withdrawn_seq``
    come from the owning organisation's sequence, the space of the partner's cursor for this owner.
    ``rotation_claimed_*``: which device took on rotating the shared tiers' keys after it ended.
    """

    __tablename__ = "share"
    __table_args__ = (
        Index("ix_share_partner_org_id_org_id", "partner_org_id", "org_id"),
        Index("ix_share_case_id", "case_id"),
        Index("ix_share_org_id", "org_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organisation.id", max_length=36)
    case_id: str = Field(max_length=36)
    partner_org_id: str = Field(foreign_key="organisation.id", max_length=36)
    tiers: str = Field(max_length=20)  # "basic", "full" or "basic,full"
    basis: str = Field(max_length=20)
    record_id: str = Field(max_length=36)
    starts_at_ms: int = Field(sa_type=BigInteger)
    expires_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    created_at_ms: int = Field(sa_type=BigInteger)
    created_by: str = Field(foreign_key="user.id", max_length=36)
    created_seq: int = Field(sa_type=BigInteger)
    content_hash: str = Field(max_length=64)
    withdrawn_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    withdrawn_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    withdrawn_seq: int | None = Field(default=None, sa_type=BigInteger)
    withdrawal_record_id: str | None = Field(default=None, max_length=36)
    rotation_claimed_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    rotation_claimed_by: str | None = Field(default=None, foreign_key="device.id", max_length=36)


class CaseStateRow(ServerTable, table=True):
    """What the server may know of a person's case besides its records: when it was closed (the
    retention period runs from then) and, once erased, the tombstone.

    An erased case keeps only this row: ``erased_seq`` comes from the organisation's sequence, so
    every device's pull cursor orders it with versions and grants and a device that was offline
    for days still gets the purge (see ``services.sync.pull``); pushes to it are refused.
    """

    __tablename__ = "case_state"
    __table_args__ = (
        Index("ix_case_state_org_id_erased_seq", "org_id", "erased_seq"),
        Index("ix_case_state_closed_at_ms", "closed_at_ms"),
    )

    case_id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(foreign_key="organisation.id", max_length=36)
    closed_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    closed_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    erased_at_ms: int | None = Field(default=None, sa_type=BigInteger)
    erased_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    erased_seq: int | None = Field(default=None, sa_type=BigInteger)
