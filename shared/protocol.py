"""The v1 wire protocol: every message client and server exchange, as pydantic models.

This module is the one wire format. Server tables and client tables never cross the API; both
sides convert to and from these models. ``shared/PROTOCOL.md`` is generated from this module
(``make protocol-doc``) and a test fails when the two differ.

Endpoints (all JSON; every ``/v1`` request carries ``X-Gatepost-Protocol: 1``):

    GET  /healthz                        liveness and the protocol versions served
    POST /v1/auth/prelogin               PreloginRequest  -> PreloginResponse
    POST /v1/auth/register               RegisterRequest  -> SessionGrant
    POST /v1/auth/login                  LoginRequest     -> SessionGrant
    POST /v1/auth/refresh                RefreshRequest   -> SessionGrant
    POST /v1/auth/reset                  PasswordResetRequest -> SessionGrant (with a coordinator's reset code)
    POST /v1/org/keys                    OrganisationKeySetup -> OrganisationInfo (first coordinator, once)
    POST /v1/invitations                 InvitationRequest -> Invitation (coordinators)
    POST /v1/members/{user_id}/password-reset             -> Invitation (coordinators: a reset code)
    GET  /v1/org/members                                  -> TeamMemberList (coordinators: the team, no record content)
    POST /v1/org/members/{user_id}/remove                 -> MemberRemoval (coordinators: devices out, no access)
    GET  /v1/invitations                                  -> PendingInvitationList (coordinators: not used, not expired)
    POST /v1/invitations/{invitation_id}/cancel           -> PendingInvitation (coordinators: it can no longer register)
    GET  /v1/devices                                      -> DeviceList (your devices; a coordinator's: the team's)
    POST /v1/devices/{device_id}/revoke                   -> DeviceInfo (your own device, or any for coordinators)
    GET  /v1/audit?before=POSITION&limit=N                -> AuditPage (coordinators: the organisation's trail)
    GET  /v1/cases/{case_id}                              -> CaseStatus (coordinators: closed? erased when?)
    POST /v1/cases/{case_id}/close                        -> CaseStatus (coordinators: retention starts)
    POST /v1/cases/{case_id}/reopen                       -> CaseStatus (coordinators)
    POST /v1/cases/{case_id}/erase                        -> CaseErased (coordinators: cannot be undone)
    GET  /v1/org/retention                                -> RetentionPolicy (coordinators)
    PUT  /v1/org/retention               RetentionPolicy  -> RetentionPolicy (coordinators)
    POST /v1/sync/push                   PushRequest      -> PushResponse
    GET  /v1/sync/pull?since=SEQ&limit=N                  -> PullResponse
    GET  /v1/organisations                                -> OrganisationDirectory (recipients to choose)
    GET  /v1/cases/{case_id}/shares                       -> ShareList (who can see this person, and who could)
    POST /v1/sharing/shares              ShareRequest     -> ShareInfo (consent or a lawful basis: seals tiers)
    POST /v1/sharing/shares/{share_id}/withdraw  WithdrawShare -> RotationDue (delivery stops at once)
    POST /v1/sharing/shares/{share_id}/rotation            -> RotationDue (claim the key rotation of an ended share)
    POST /v1/sharing/grants              SharingGrants    -> SharingGrantsResult (rotated keys for partners)
    GET  /v1/sharing/without-consent                      -> ShareList (coordinators: shares on a lawful basis)
    POST /v1/sharing/pull                SharedPullRequest -> SharedPullResponse (what partners shared with us)

Errors are ``application/problem+json`` bodies (``Problem``).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

import pydantic_core
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.clock import is_valid_hlc
from shared.kinds import Tier

__all__ = [
    "CHANGE_RESULT_FIELDS",
    "DEFAULT_RETENTION_DAYS",
    "MAX_PULL_LIMIT",
    "MAX_PUSH_CHANGES",
    "MAX_PUSH_GRANTS",
    "MAX_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "VERSION_FIELDS",
    "AuditEntry",
    "AuditPage",
    "CaseErased",
    "CaseMentors",
    "CasePurge",
    "CaseStatus",
    "ChangeIn",
    "ChangeResult",
    "ChangeStatus",
    "DeviceInfo",
    "DeviceList",
    "EraseCase",
    "GrantResult",
    "Health",
    "Invitation",
    "InvitationRequest",
    "KdfParams",
    "KeyGrant",
    "KeyGrantIn",
    "LoginRequest",
    "MemberAwaitingKey",
    "MemberRemoval",
    "MentorInfo",
    "OrganisationDirectory",
    "OrganisationEntry",
    "OrganisationInfo",
    "OrganisationKeySetup",
    "PartnerScope",
    "PasswordResetRequest",
    "PendingInvitation",
    "PendingInvitationList",
    "PreloginRequest",
    "PreloginResponse",
    "Problem",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "RefreshRequest",
    "RegisterRequest",
    "RejectReason",
    "RenewShare",
    "RetentionPolicy",
    "Role",
    "RotationDue",
    "SessionGrant",
    "ShareBasis",
    "ShareInfo",
    "ShareList",
    "ShareRequest",
    "SharedPage",
    "SharedPullRequest",
    "SharedPullResponse",
    "SharingGrants",
    "SharingGrantsResult",
    "TeamMember",
    "TeamMemberList",
    "UserInfo",
    "Version",
    "WithdrawShare",
    "case_key_id",
    "org_key_id",
    "org_private_key_id",
    "pull_response_json",
    "push_response_json",
]

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOL_VERSIONS: tuple[int, ...] = (1,)
PROTOCOL_HEADER = "X-Gatepost-Protocol"

MAX_PUSH_CHANGES = 500
MAX_PUSH_GRANTS = 200
MAX_PULL_LIMIT = 1000
MAX_ERASED_CASE_VIEWS = 20_000  # "record opened" records named in one erasure
DEFAULT_PULL_LIMIT = 500
# Base64 text of one encrypted field: a long contact note plus AES-GCM overhead fits well inside.
MAX_CIPHERTEXT_CHARS = 48_000
MAX_ENVELOPE_CHARS = 4_000
# How long a closed case is kept before ``outreach-server purge`` erases it: six years, the period
# UK guidance most often gives for case records of adults; 2,192 days is at least six calendar
# years whatever the leap years. Each organisation's coordinators may change it.
DEFAULT_RETENTION_DAYS = 2_192
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 36_525  # a hundred years


class Wire(BaseModel):
    """Base of every wire model: unknown keys are an error, instances are immutable, and no text
    holds a NUL character (no field needs one, and PostgreSQL cannot store it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Per model class: the fields whose type lets them hold a NUL (worked out on first use).
    _nul_fields: ClassVar[tuple[str, ...] | None] = None

    @model_validator(mode="after")
    def _no_nul_characters(self) -> Wire:
        # One check per model, of only the fields that can hold free text: a field per version
        # (ids, base64, stamps, all matched by NUL-free patterns in pydantic-core) costs nothing.
        model = type(self)
        names = model.__dict__.get("_nul_fields")
        if names is None:
            names = tuple(
                name for name, info in model.model_fields.items() if _may_hold_nul(info.annotation, info.metadata)
            )
            model._nul_fields = names
        for name in names:
            if _holds_nul(getattr(self, name)):
                raise ValueError(f"{name} must not contain the NUL character")
        return self


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False


def _may_hold_nul(annotation: Any, metadata: list[Any]) -> bool:
    """Whether a field of this type could hold a NUL: anything but numbers, enums, literals, nested
    wire models (they check themselves) and strings of the NUL-free text types."""
    if annotation is str:
        return Annotated[(str, *metadata)] not in _NUL_FREE_TEXT if metadata else True
    if annotation in _NUL_FREE_TEXT or annotation is type(None):
        return False
    if isinstance(annotation, type) and issubclass(annotation, int | float | Enum | Wire):
        return False
    origin = get_origin(annotation)
    if origin is Annotated:
        return _may_hold_nul(get_args(annotation)[0], list(annotation.__metadata__))
    if origin is Literal:
        return False
    if origin in (list, tuple, typing.Union, types.UnionType):
        return any(_may_hold_nul(argument, []) for argument in get_args(annotation) if argument is not Ellipsis)
    return True


def _check_hlc(value: str) -> str:
    if not is_valid_hlc(value):
        raise ValueError("must be a clock stamp WALL.COUNTER.DEVICE (15 digits, 6 digits, device id)")
    return value


Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
HlcText = Annotated[str, StringConstraints(max_length=100), AfterValidator(_check_hlc)]
Base64Text = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]*$", max_length=MAX_CIPHERTEXT_CHARS)]
ShortBase64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$", min_length=8, max_length=200)]
Envelope = Annotated[str, StringConstraints(min_length=2, max_length=MAX_ENVELOPE_CHARS)]
KeyId = Annotated[str, StringConstraints(pattern=r"^[a-z-]+:[0-9a-f-]{36}(:[a-z]+)?:v[0-9]{1,6}$", max_length=120)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Nonce = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16}$")]
# Text types whose pattern (or check) admits no NUL: fields of these are not searched for one.
_NUL_FREE_TEXT: tuple[object, ...] = (Uuid, HlcText, Base64Text, ShortBase64, KeyId, Name, Tag, Nonce)
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
DeviceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Token = Annotated[str, StringConstraints(min_length=16, max_length=4000)]


def org_key_id(org_id: str, version: int) -> str:
    return f"org:{org_id}:v{version}"


def org_private_key_id(org_id: str, version: int) -> str:
    return f"org-private:{org_id}:v{version}"


def case_key_id(case_id: str, tier: Tier, version: int) -> str:
    return f"case:{case_id}:{tier.value}:v{version}"


_CASE_KEY = re.compile(r"^case:(?P<case>[0-9a-f-]{36}):(?P<tier>basic|full):v(?P<version>[0-9]+)$")


@lru_cache(maxsize=4096)  # every version of a case names the same few keys
def parse_case_key_id(key_id: str) -> tuple[str, Tier, int] | None:
    match = _CASE_KEY.fullmatch(key_id)
    if match is None:
        return None
    return match["case"], Tier(match["tier"]), int(match["version"])


class Role(StrEnum):
    COORDINATOR = "coordinator"
    LINK_WORKER = "link_worker"
    PEER_MENTOR = "peer_mentor"


class Health(Wire):
    status: Literal["ok"]
    protocol_versions: list[int]
    server_time_ms: int


class Problem(Wire):
    """RFC 9457 problem details; ``errors`` lists each invalid input with where it is."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None


# --- accounts and sessions -------------------------------------------------------------------


class KdfParams(Wire):
    """How a client turns the password into its master key; stored by the server per user."""

    kdf: Literal["scrypt"] = "scrypt"
    n: int = Field(ge=2**10, le=2**20)
    r: int = Field(ge=1, le=32)
    p: int = Field(ge=1, le=16)
    salt: ShortBase64


class PreloginRequest(Wire):
    email: Email


class PreloginResponse(Wire):
    """The same shape whether or not the email exists: unknown emails get a stable fake salt."""

    kdf: KdfParams


class RegisterRequest(Wire):
    invitation_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=64)]
    email: Email
    display_name: DisplayName
    kdf: KdfParams
    auth_key: ShortBase64
    public_key: ShortBase64
    wrapped_private_key: Envelope
    device_name: DeviceName


class PasswordResetRequest(Wire):
    """A member who forgot their password: a new password means new keys, made on the phone.

    The coordinator's device then seals the organisation key to the new public key; nothing the
    member had synced is lost (it is under case keys, which the organisation key opens).
    """

    reset_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=64)]
    email: Email
    kdf: KdfParams
    auth_key: ShortBase64
    public_key: ShortBase64
    wrapped_private_key: Envelope
    device_name: DeviceName


class LoginRequest(Wire):
    email: Email
    auth_key: ShortBase64
    device_name: DeviceName
    # A device that signed in before sends its id to keep its registration and cursor.
    device_id: Uuid | None = None


class RefreshRequest(Wire):
    refresh_token: Token


class UserInfo(Wire):
    user_id: Uuid
    email: str
    display_name: str
    role: Role


class OrganisationInfo(Wire):
    org_id: Uuid
    name: str
    public_key: str | None
    key_version: int  # 0 until the first coordinator's device has created the organisation key


class SessionGrant(Wire):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    device_id: Uuid
    user: UserInfo
    organisation: OrganisationInfo
    public_key: str
    wrapped_private_key: str
    kdf: KdfParams


class OrganisationKeySetup(Wire):
    """The first coordinator's device creates the organisation key and key pair."""

    public_key: ShortBase64
    key_version: Literal[1] = 1
    # Organisation private key wrapped under the organisation key.
    wrapped_private_key: Envelope
    # Organisation key sealed to the coordinator's own public key.
    coordinator_grant: KeyGrantIn


class InvitationRequest(Wire):
    role: Role
    email: Email | None = None


class Invitation(Wire):
    code: str
    role: Role
    email: str | None
    expires_at_ms: int
    invitation_id: Uuid | None = None  # what ``POST /v1/invitations/{invitation_id}/cancel`` names


class PendingInvitation(Wire):
    """An invitation nobody has used yet (the server keeps only a hash of its code, so no code here)."""

    invitation_id: Uuid
    role: Role
    email: str | None
    created_at_ms: int
    expires_at_ms: int
    invited_by_user_id: Uuid | None  # None: made by the server's admin (``outreach-server invite``)
    invited_by_name: str | None
    cancelled_at_ms: int | None = None


class PendingInvitationList(Wire):
    invitations: list[PendingInvitation]  # newest first


# --- the team --------------------------------------------------------------------------------


class TeamMember(Wire):
    """A member of the organisation as the server knows them: an account, never record content.

    ``last_seen_at_ms`` is the latest sign-in or sync of any of their devices; ``device_count`` counts
    the devices not signed out. ``holds_organisation_key`` is False for a coordinator or link worker
    whom no coordinator's phone has given the organisation key yet (peer mentors never hold it).
    ``assigned_case_ids`` lists the people a peer mentor is assigned to now (empty for others).
    ``removed_at_ms`` is set once a coordinator removed them from the organisation (they then have
    no device, no assignment and no access, and sign in no more).
    """

    user_id: Uuid
    display_name: str
    email: str
    role: Role
    joined_at_ms: int
    last_seen_at_ms: int | None
    device_count: int
    holds_organisation_key: bool
    assigned_case_ids: list[Uuid] = []
    removed_at_ms: int | None = None


class TeamMemberList(Wire):
    # Members by role (coordinators, link workers, peer mentors), then name; removed ones after them.
    members: list[TeamMember]


class MemberRemoval(Wire):
    """What removing a member did, the same however often it is asked (``POST /v1/org/members/{id}/remove``).

    Every device of theirs was signed out (each erases itself at its next contact) and every
    session ended; ``ended_case_ids`` are the people a peer mentor was assigned to until then,
    whose basic keys the removing coordinator's phone rotates for new writes, as after unassigning.
    """

    member: TeamMember
    removed_by_user_id: Uuid | None
    ended_case_ids: list[Uuid]


# --- devices ---------------------------------------------------------------------------------


class DeviceInfo(Wire):
    """A registered phone or browser. ``last_seen_at_ms`` is its last sign-in or sync (to the minute)."""

    device_id: Uuid
    name: str
    user_id: Uuid
    user_display_name: str
    role: Role
    created_at_ms: int
    last_seen_at_ms: int
    revoked_at_ms: int | None
    this_device: bool


class DeviceList(Wire):
    devices: list[DeviceInfo]


# --- audit -----------------------------------------------------------------------------------


class AuditEntry(Wire):
    """One event of the organisation's audit trail, with the names a coordinator reads."""

    position: int
    at_ms: int
    action: str  # e.g. signed_in, sign_in_failed, pushed, pulled, device_signed_out
    actor_name: str | None
    device_name: str | None
    target_device_name: str | None = None
    details: dict[str, int | str] = {}  # counts, and a role's name


class AuditPage(Wire):
    entries: list[AuditEntry]  # newest first
    next_before: int | None  # pass as ``before`` for older entries; None when there are none


# --- keys ------------------------------------------------------------------------------------


class KeyGrantIn(Wire):
    """A key made available to a recipient, encrypted so that only the recipient can open it.

    ``recipient_kind="user"``: sealed to the user's public key (``wrapped_with`` = ``user:<id>``).
    ``recipient_kind="organisation"``: wrapped under an organisation key (``wrapped_with`` = its key id).
    """

    grant_id: Uuid
    key_id: KeyId
    case_id: Uuid | None = None
    recipient_kind: Literal["user", "organisation"]
    recipient_id: Uuid
    wrapped_with: Annotated[str, StringConstraints(max_length=120)]
    wrapped: Envelope


class KeyGrant(KeyGrantIn):
    seq: int
    org_id: Uuid
    created_by_user_id: Uuid


class MemberAwaitingKey(Wire):
    """A member with no organisation key yet; a coordinator's device seals it to them."""

    user_id: Uuid
    display_name: str
    role: Role
    public_key: str


# --- peer mentors ----------------------------------------------------------------------------


class MentorInfo(Wire):
    """A peer mentor of the organisation; ``public_key`` is what a case's basic key is sealed to."""

    user_id: Uuid
    display_name: str
    public_key: str


class CaseMentors(Wire):
    """Who mentors a case (``assigned``) and the organisation's peer mentors to choose from."""

    case_id: Uuid
    assigned: list[MentorInfo]
    available: list[MentorInfo]


class CasePurge(Wire):
    """A case a device must delete with its keys: a peer mentor was unassigned from it (``unassigned``),
    it was erased for the whole organisation (``erased``), or a share with a partner ended
    (``sharing_ended``)."""

    case_id: Uuid
    reason: Literal["unassigned", "erased", "sharing_ended"] = "unassigned"
    # For an ended share whose case is still shared in other tiers: delete only these tiers.
    tiers: list[Tier] | None = None


# --- closing, retention and erasure ----------------------------------------------------------


class CaseStatus(Wire):
    """What the server knows of a person's case: whether it is closed, and when retention ends."""

    case_id: Uuid
    closed_at_ms: int | None = None
    retention_days: int
    # When ``outreach-server purge`` may erase it (closed_at_ms + retention); None while open.
    erase_after_ms: int | None = None


class EraseCase(Wire):
    """What the erasing coordinator's phone found about the person beyond their case: the
    ``case_view`` records (who opened the record when) that name them inside their ciphertext,
    which the server cannot read and so cannot find by itself."""

    case_view_records: Annotated[list[Uuid], Field(max_length=MAX_ERASED_CASE_VIEWS)] = []


class CaseErased(Wire):
    """An erasure: how many of the case's rows the server deleted (it keeps only a tombstone)."""

    case_id: Uuid
    erased_at_ms: int
    versions: int
    records: int
    key_grants: int
    assignments: int
    case_views: int = 0  # case_view records deleted with it (named by the coordinator's phone)


class RetentionPolicy(Wire):
    """How many days after a case is closed it is kept before it is erased."""

    retention_days: int = Field(ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS)


# --- sync ------------------------------------------------------------------------------------


class ChangeIn(Wire):
    """One new version of one field of one record, encrypted on the device."""

    change_id: Uuid
    record_id: Uuid
    case_id: Uuid | None
    kind: Name
    field: Name
    tier: Tier
    key_id: KeyId
    hlc: HlcText
    base_hlc: HlcText | None = None
    author_device_id: Uuid
    nonce: Nonce
    ciphertext: Base64Text
    tag: Tag
    amends: Uuid | None = None
    settles: Annotated[list[Uuid], Field(max_length=50)] = []


class Version(ChangeIn):
    """A version as the server stores and delivers it."""

    seq: int
    org_id: Uuid
    author_user_id: Uuid


class PushRequest(Wire):
    changes: Annotated[list[ChangeIn], Field(max_length=MAX_PUSH_CHANGES)] = []
    key_grants: Annotated[list[KeyGrantIn], Field(max_length=MAX_PUSH_GRANTS)] = []


class ChangeStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    FORGED_AUTHOR = "forged_author"
    WRONG_ORGANISATION = "wrong_organisation"
    UNKNOWN_KIND = "unknown_kind"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TIER = "wrong_tier"
    WRONG_KEY = "wrong_key"
    WRONG_CASE = "wrong_case"
    CLOCK_AHEAD = "clock_ahead"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    APPEND_ONLY = "append_only"
    NOT_ENTITLED = "not_entitled"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    CASE_ERASED = "case_erased"
    # Another device stored this version of a case key first (two rotations at once).
    KEY_VERSION_TAKEN = "key_version_taken"


class ChangeResult(Wire):
    change_id: Uuid  # as pushed (a type with no NUL to look for: 500 results a push)
    status: ChangeStatus
    seq: int | None = None
    reason: RejectReason | None = None
    detail: str | None = None


class GrantResult(Wire):
    grant_id: Uuid
    status: ChangeStatus
    seq: int | None = None
    reason: RejectReason | None = None
    detail: str | None = None


class PushResponse(Wire):
    results: list[ChangeResult]
    grant_results: list[GrantResult]
    server_time_ms: int


class PullResponse(Wire):
    versions: list[Version]
    key_grants: list[KeyGrant]
    next: int
    has_more: bool
    server_time_ms: int
    # Filled for coordinators only: members whose devices cannot read yet.
    members_awaiting_key: list[MemberAwaitingKey] = []
    # Cases to delete from the device: unassigned from a peer mentor, or erased (every device).
    purges: list[CasePurge] = []
    # False when no share was ever made by the caller's organisation or with it: the sharing pull
    # (POST /v1/sharing/pull) has nothing for it, and the device skips that request.
    sharing: bool = True


VERSION_FIELDS: tuple[str, ...] = tuple(Version.model_fields)
CHANGE_RESULT_FIELDS: tuple[str, ...] = tuple(ChangeResult.model_fields)


def push_response_json(response: PushResponse, results: Sequence[Mapping[str, object]]) -> bytes:
    """The JSON of ``response`` with ``results`` as its results: the bytes
    ``response.model_copy(update={"results": [ChangeResult(**r) for r in results]}).model_dump_json()``
    gives (``tests/unit/test_wire_json.py`` holds the two equal).

    Each mapping holds ``ChangeResult``'s fields (``CHANGE_RESULT_FIELDS``, in that order) as JSON
    values, made by the server itself. A push answers up to 500 changes, and a dictionary costs
    about an eighth of what a model does."""
    head = response.model_dump(mode="json", exclude={"results"})
    return pydantic_core.to_json({"results": results, **head})


def pull_response_json(response: PullResponse, versions: Sequence[Mapping[str, object]]) -> bytes:
    """The JSON of ``response`` with ``versions`` as its versions: the bytes
    ``response.model_copy(update={"versions": [Version(**v) for v in versions]}).model_dump_json()``
    gives (``tests/unit/test_wire_json.py`` holds the two equal).

    Each mapping holds ``Version``'s fields (``VERSION_FIELDS``, in that order) as JSON values: a
    stored version, validated as a ``ChangeIn`` when it was pushed. A server's page of 1,000 is
    written in one pass this way instead of being built as 1,000 models and dumped (a quarter of
    the time)."""
    head = response.model_dump(mode="json", exclude={"versions"})
    return pydantic_core.to_json({"versions": versions, **head})


# --- sharing with partner organisations --------------------------------------------------------


class ShareBasis(StrEnum):
    """Why a partner organisation may see a person's record."""

    CONSENT = "consent"
    VITAL_INTEREST = "vital_interest"
    STATUTORY_DUTY = "statutory_duty"


Tiers = Annotated[list[Tier], Field(min_length=1, max_length=2)]
MAX_SEQ = 2**63 - 1  # sequence numbers are 64-bit on the server
MAX_TIME_MS = 2**53  # far past any real date, and inside a 64-bit column


class OrganisationEntry(Wire):
    """An organisation on this server that a person's record can be shared with."""

    org_id: Uuid
    name: str
    public_key: str  # what case keys are sealed to (the private half is under its organisation key)
    key_version: int


class OrganisationDirectory(Wire):
    organisations: list[OrganisationEntry]  # by name; never the caller's own


class ShareRequest(Wire):
    """Share a person's record with a partner organisation, in the named tiers.

    ``record_id`` is the consent record (kind ``consent``, full tier) that says why, already pushed.
    ``key_grants`` seal every version of each named tier's case keys to the partner organisation:
    ``recipient_kind="organisation"``, ``recipient_id`` the partner, ``wrapped_with`` its
    ``org-private:<partner>:vN`` key id (sealed to the public key of that key pair).
    Delivery starts now and ends at ``expires_at_ms`` (checked by time) or a withdrawal.
    """

    share_id: Uuid
    case_id: Uuid
    partner_org_id: Uuid
    tiers: Tiers
    basis: ShareBasis
    record_id: Uuid
    starts_at_ms: int = Field(ge=0, le=MAX_TIME_MS)  # the date of the consent (or decision); not in the future
    expires_at_ms: int | None = Field(default=None, ge=0, le=MAX_TIME_MS)
    key_grants: Annotated[list[KeyGrantIn], Field(min_length=1, max_length=MAX_PUSH_GRANTS)]


class ShareInfo(Wire):
    """One share of one person's record with one partner organisation (the scope the server enforces)."""

    share_id: Uuid
    case_id: Uuid
    owner_org_id: Uuid
    owner_org_name: str
    partner_org_id: Uuid
    partner_org_name: str
    tiers: list[Tier]
    basis: ShareBasis
    record_id: Uuid
    starts_at_ms: int
    expires_at_ms: int | None
    created_at_ms: int
    created_by_name: str
    withdrawn_at_ms: int | None
    withdrawal_record_id: str | None
    active: bool  # not withdrawn and not expired, now


class ShareList(Wire):
    shares: list[ShareInfo]  # newest first
    directory: list[OrganisationEntry] = []  # for a case's list: who else it could be shared with


class WithdrawShare(Wire):
    """``record_id``: the consent record (action withdrawn) that amends the one the share rests on."""

    record_id: Uuid


class RenewShare(Wire):
    """Consent renewed (or a decision to share without it reviewed) before the share ends.

    ``record_id``: the new consent record (action ``renewed``, amending the one the share rests on),
    already pushed; the share then rests on it. ``expires_at_ms``: the new review or expiry date
    (None: no end date). The tiers and the partner stay; to change them, withdraw and share again.
    """

    record_id: Uuid
    expires_at_ms: int | None = Field(default=None, ge=0, le=MAX_TIME_MS)


class PartnerScope(Wire):
    """A partner organisation that still holds a share of the case, in these tiers."""

    org_id: Uuid
    name: str
    public_key: str
    key_version: int
    tiers: list[Tier]


class RotationDue(Wire):
    """An ended share whose tiers' case keys this device should now rotate, and who gets the new ones."""

    share_id: Uuid
    case_id: Uuid
    tiers: list[Tier]
    mentors: list[MentorInfo]  # peer mentors assigned now (they get the new basic key)
    partners: list[PartnerScope]  # other partners still sharing the case


class SharingGrants(Wire):
    """Rotated case keys sealed to partner organisations that still share the case."""

    key_grants: Annotated[list[KeyGrantIn], Field(min_length=1, max_length=MAX_PUSH_GRANTS)]


class SharingGrantsResult(Wire):
    grant_results: list[GrantResult]


class SharedPullRequest(Wire):
    """A pull of what other organisations share with the caller's organisation.

    ``cursors``: per owning organisation, the last seq received (0 or absent: from the start).
    """

    cursors: Annotated[dict[Uuid, Annotated[int, Field(ge=0, le=MAX_SEQ)]], Field(max_length=200)] = {}
    limit: int = Field(default=DEFAULT_PULL_LIMIT, ge=1, le=MAX_PULL_LIMIT)


class SharedPage(Wire):
    """One owning organisation's versions and keys for the cases it shares with the caller now.

    ``shares`` are the active shares; a device deletes any case of this owner not in them (and any
    tier of a case not named), so an expiry takes effect even on a device that was offline.
    """

    owner_org_id: Uuid
    owner_org_name: str
    versions: list[Version]
    key_grants: list[KeyGrant]
    purges: list[CasePurge]
    shares: list[ShareInfo]
    next: int
    has_more: bool


class SharedPullResponse(Wire):
    pages: list[SharedPage]
    server_time_ms: int
    # For the owning side (coordinators and link workers): ended shares whose keys nobody has rotated.
    rotations_due: list[Uuid] = []


OrganisationKeySetup.model_rebuild()
