"""Accounts and sessions: prelogin, register, login, refresh, and authenticating a request.

Responses never reveal whether an email is registered: prelogin answers unknown emails with a
stable fake salt in the same shape, and login gives one identical ``sign_in_failed`` problem for
an unknown email and a wrong password (after the same amount of hashing work).

Sign-in is throttled: failures are counted per typed email (known or not, so the throttle tells
nothing either) and per client address over ``sign_in_window_seconds``; past the limit every
attempt, right or wrong, gets ``429 too_many_attempts`` until the oldest failure leaves the window.
The counts live in the database, so several server processes share them.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from shared.crypto import auth_key_matches, b64decode, b64encode, hash_auth_key
from shared.errors import CryptoError
from shared.protocol import (
    KdfParams,
    LoginRequest,
    PasswordResetRequest,
    PreloginRequest,
    PreloginResponse,
    RefreshRequest,
    RegisterRequest,
    Role,
    SessionGrant,
    UserInfo,
)
from sync_server.context import ServerContext
from sync_server.errors import (
    Conflict,
    DeviceRevoked,
    InvalidInput,
    InvitationInvalid,
    SessionExpired,
    SessionRevoked,
    SignInFailed,
    TooManyAttempts,
    Unauthenticated,
)
from sync_server.services.audit import SERVER_CHAIN, AuditAction, record
from sync_server.services.caller import AuthenticatedDevice
from sync_server.services.organisation import hash_invitation_code, organisation_info
from sync_server.services.tokens import TokenService, hash_refresh_token, new_refresh_token
from sync_server.storage import accounts, organisations, throttle
from sync_server.storage.database import begin_write
from sync_server.storage.tables import DeviceRow, OrganisationRow, RefreshTokenRow, UserRow

__all__ = [
    "FAKE_KDF_N",
    "AuthenticatedDevice",
    "authenticate",
    "login",
    "prelogin",
    "refresh",
    "register",
    "reset_password",
]

FAKE_KDF_N = 2**15
FAKE_KDF_R = 8
FAKE_KDF_P = 1
_FAKE_SALT_BYTES = 16
_FAKE_SALT_DOMAIN = b"gatepost/v1/fake-salt|"
_KEY_BYTES = 32
# Compared against when the email is unknown, so both paths hash once.
_NO_SUCH_HASH = "0" * 64


# --- prelogin --------------------------------------------------------------------------------


def prelogin(ctx: ServerContext, session: Session, request: PreloginRequest) -> PreloginResponse:
    user = accounts.get_user_by_email(session, request.email)
    if user is not None:
        return PreloginResponse(kdf=KdfParams.model_validate_json(user.kdf))
    return PreloginResponse(kdf=fake_kdf(ctx, request.email))


def fake_kdf(ctx: ServerContext, email: str) -> KdfParams:
    """Stable KDF parameters for an unknown email: salt = HMAC(server secret, email), truncated."""
    secret = ctx.settings.server_secret.get_secret_value().encode("utf-8")
    digest = hmac.new(secret, _FAKE_SALT_DOMAIN + email.lower().encode("utf-8"), hashlib.sha256).digest()
    return KdfParams(n=FAKE_KDF_N, r=FAKE_KDF_R, p=FAKE_KDF_P, salt=b64encode(digest[:_FAKE_SALT_BYTES]))


# --- register and login ----------------------------------------------------------------------


def register(ctx: ServerContext, tokens: TokenService, session: Session, request: RegisterRequest) -> SessionGrant:
    begin_write(session)
    now = ctx.now_ms()
    invitation = accounts.get_invitation_by_code_hash(session, hash_invitation_code(ctx, request.invitation_code))
    if (
        invitation is None
        or invitation.used_at_ms is not None
        or invitation.cancelled_at_ms is not None
        or invitation.expires_at_ms <= now
        or invitation.reset_user_id is not None  # a reset code opens no new account
        or (invitation.email is not None and invitation.email != request.email)
    ):
        raise InvitationInvalid()
    auth_key = _decode_key(request.auth_key, "auth_key", "invalid_auth_key")
    _decode_key(request.public_key, "public_key", "invalid_public_key")
    if accounts.get_user_by_email(session, request.email) is not None:
        raise _email_taken()
    org = organisations.get_organisation(session, invitation.org_id)
    if org is None:  # foreign key makes this impossible; keep the type checker honest
        raise InvitationInvalid()
    user = UserRow(
        id=str(uuid.uuid4()),
        org_id=org.id,
        email=request.email,
        display_name=request.display_name,
        role=invitation.role,
        kdf=request.kdf.model_dump_json(),
        auth_key_hash=hash_auth_key(auth_key),
        public_key=request.public_key,
        wrapped_private_key=request.wrapped_private_key,
        created_at_ms=now,
    )
    try:
        accounts.add(session, user)
    except IntegrityError:
        session.rollback()
        raise _email_taken() from None
    if not accounts.consume_invitation(session, invitation.id, user_id=user.id, now_ms=now):
        session.rollback()
        raise InvitationInvalid()
    device = _new_device(session, user, request.device_name, now)
    grant = _issue_session(ctx, tokens, session, user, org, device, family_id=str(uuid.uuid4()), now_ms=now)
    record(
        ctx,
        session,
        chain=org.id,
        action=AuditAction.REGISTERED,
        actor_user_id=user.id,
        actor_device_id=device.id,
    )
    session.commit()
    return grant


def reset_password(
    ctx: ServerContext, tokens: TokenService, session: Session, request: PasswordResetRequest
) -> SessionGrant:
    """Replace a member's password and keys with a coordinator's reset code.

    Every session of theirs ends; grants sealed to the old public key stop counting, so the
    coordinator's next sync seals the organisation key to the new one.
    """
    begin_write(session)
    now = ctx.now_ms()
    invitation = accounts.get_invitation_by_code_hash(session, hash_invitation_code(ctx, request.reset_code))
    user = accounts.get_user_by_email(session, request.email)
    if (
        invitation is None
        or invitation.reset_user_id is None
        or invitation.used_at_ms is not None
        or invitation.expires_at_ms <= now
        or user is None
        or invitation.reset_user_id != user.id
        or user.removed_at_ms is not None
    ):
        raise InvitationInvalid()
    auth_key = _decode_key(request.auth_key, "auth_key", "invalid_auth_key")
    _decode_key(request.public_key, "public_key", "invalid_public_key")
    org = organisations.get_organisation(session, user.org_id)
    if org is None or not accounts.consume_invitation(session, invitation.id, user_id=user.id, now_ms=now):
        session.rollback()
        raise InvitationInvalid()
    user.kdf = request.kdf.model_dump_json()
    user.auth_key_hash = hash_auth_key(auth_key)
    user.public_key = request.public_key
    user.wrapped_private_key = request.wrapped_private_key
    user.keys_reset_at_ms = now
    session.add(user)
    accounts.revoke_user_sessions(session, user.id, now_ms=now)
    throttle.clear_failures(session, _ACCOUNT, _throttle_subjects(ctx, user.email, "")[_ACCOUNT])
    device = _new_device(session, user, request.device_name, now)
    grant = _issue_session(ctx, tokens, session, user, org, device, family_id=str(uuid.uuid4()), now_ms=now)
    record(
        ctx, session, chain=org.id, action=AuditAction.PASSWORD_RESET, actor_user_id=user.id, actor_device_id=device.id
    )
    session.commit()
    return grant


def login(
    ctx: ServerContext, tokens: TokenService, session: Session, request: LoginRequest, *, client_address: str
) -> SessionGrant:
    begin_write(session)
    now = ctx.now_ms()
    subjects = _throttle_subjects(ctx, request.email, client_address)
    _refuse_if_throttled(ctx, session, subjects, now)
    user = accounts.get_user_by_email(session, request.email)
    try:
        auth_key = b64decode(request.auth_key)
        matches = auth_key_matches(auth_key, user.auth_key_hash if user is not None else _NO_SUCH_HASH)
    except CryptoError:
        matches = False
    if user is None or not matches or user.removed_at_ms is not None:
        # A removed member gets the answer a wrong password gets: nothing says the account exists.
        _record_failure(ctx, session, subjects, now, user)
        raise SignInFailed()
    throttle.clear_failures(session, _ACCOUNT, subjects[_ACCOUNT])
    org = organisations.get_organisation(session, user.org_id)
    if org is None:
        raise SignInFailed()
    device = accounts.get_device(session, request.device_id) if request.device_id else None
    if device is not None and device.user_id == user.id and device.revoked_at_ms is None:
        device.name = request.device_name
        device.last_seen_at_ms = now
        session.add(device)
    else:
        device = _new_device(session, user, request.device_name, now)
    grant = _issue_session(ctx, tokens, session, user, org, device, family_id=str(uuid.uuid4()), now_ms=now)
    record(ctx, session, chain=org.id, action=AuditAction.SIGNED_IN, actor_user_id=user.id, actor_device_id=device.id)
    session.commit()
    return grant


def refresh(ctx: ServerContext, tokens: TokenService, session: Session, request: RefreshRequest) -> SessionGrant:
    """Rotate a refresh token. Presenting a used one ends every session of its family."""
    begin_write(session)
    now = ctx.now_ms()
    row = accounts.get_refresh_token_by_hash(session, hash_refresh_token(request.refresh_token))
    if row is None:
        raise Unauthenticated("session_invalid", "This session is not known: sign in again")
    token_device = accounts.get_device(session, row.device_id)
    if token_device is not None and token_device.revoked_at_ms is not None:
        raise DeviceRevoked()  # said before anything else, so the app knows to erase itself
    if row.revoked_at_ms is not None:
        raise SessionRevoked()
    if row.used_at_ms is not None:
        _note_reuse(ctx, session, token_device)
        _revoke_family(session, row.family_id, now)
        raise _reused()
    if row.expires_at_ms <= now:
        raise SessionExpired()
    if not accounts.mark_refresh_token_used(session, row.id, now_ms=now):  # a concurrent refresh won
        _note_reuse(ctx, session, token_device)
        _revoke_family(session, row.family_id, now)
        raise _reused()
    device = token_device
    user = accounts.get_user(session, device.user_id) if device is not None else None
    org = organisations.get_organisation(session, user.org_id) if user is not None else None
    if device is None or user is None or org is None:
        _revoke_family(session, row.family_id, now)
        raise SessionRevoked("This device was signed out: sign in again")
    device.last_seen_at_ms = now
    session.add(device)
    grant = _issue_session(ctx, tokens, session, user, org, device, family_id=row.family_id, now_ms=now)
    session.commit()
    return grant


def _reused() -> SessionRevoked:
    return SessionRevoked("This session was used twice, so it was ended for safety: sign in again")


def _note_reuse(ctx: ServerContext, session: Session, device: DeviceRow | None) -> None:
    if device is not None:
        record(
            ctx,
            session,
            chain=device.org_id,
            action=AuditAction.SESSION_REUSED,
            actor_user_id=device.user_id,
            actor_device_id=device.id,
        )


def _revoke_family(session: Session, family_id: str, now: int) -> None:
    accounts.revoke_refresh_family(session, family_id, now_ms=now)
    session.commit()


# --- throttling -------------------------------------------------------------------------------

_ACCOUNT = "account"
_ADDRESS = "address"
_THROTTLE_DOMAIN = b"gatepost/v1/sign-in-throttle|"


def _throttle_subjects(ctx: ServerContext, email: str, client_address: str) -> dict[str, str]:
    """Keyed hashes of the typed email and the address: the table stores neither."""
    secret = ctx.settings.server_secret.get_secret_value().encode("utf-8")

    def keyed(scope: str, value: str) -> str:
        message = _THROTTLE_DOMAIN + scope.encode() + b"|" + value.encode("utf-8")
        return hmac.new(secret, message, hashlib.sha256).hexdigest()

    return {_ACCOUNT: keyed(_ACCOUNT, email.strip().lower()), _ADDRESS: keyed(_ADDRESS, client_address)}


def _refuse_if_throttled(ctx: ServerContext, session: Session, subjects: dict[str, str], now: int) -> None:
    settings = ctx.settings
    window_ms = settings.sign_in_window_seconds * 1000
    limits = {_ACCOUNT: settings.sign_in_failures_per_account, _ADDRESS: settings.sign_in_failures_per_address}
    wait_ms = 0
    for scope, subject in subjects.items():
        count, oldest = throttle.failures_since(session, scope, subject, now - window_ms)
        if count >= limits[scope] and oldest is not None:
            wait_ms = max(wait_ms, oldest + window_ms - now)
    if wait_ms > 0:
        raise TooManyAttempts(retry_after_s=-(-wait_ms // 1000))


def _record_failure(
    ctx: ServerContext, session: Session, subjects: dict[str, str], now: int, user: UserRow | None
) -> None:
    throttle.prune_failures(session, now - ctx.settings.sign_in_window_seconds * 1000)
    for scope, subject in subjects.items():
        throttle.add_failure(session, scope, subject, now)
    # A known account's coordinators see failed sign-ins; an unknown email goes to the server's chain.
    record(
        ctx,
        session,
        chain=user.org_id if user is not None else SERVER_CHAIN,
        action=AuditAction.SIGN_IN_FAILED,
        actor_user_id=user.id if user is not None else None,
    )
    session.commit()  # the failure counts even though the request ends in an error


# --- authenticating requests -----------------------------------------------------------------


def authenticate(ctx: ServerContext, tokens: TokenService, session: Session, token: str) -> AuthenticatedDevice:
    """The caller behind an access token; the device must exist, match, and not be revoked."""
    claims = tokens.verify(token, now_ms=ctx.now_ms())
    row = accounts.get_caller(session, claims.device_id)  # the device and its user, in one query
    if row is None or row.user_id != claims.user_id or row.org_id != claims.org_id:
        raise Unauthenticated("token_invalid", "Your session is not valid: sign in again")
    if row.revoked_at_ms is not None:
        raise DeviceRevoked()
    if row.user_row_id is None or row.user_org_id != claims.org_id:
        raise Unauthenticated("token_invalid", "Your session is not valid: sign in again")
    if row.removed_at_ms is not None:
        raise DeviceRevoked()  # their devices were signed out with the removal; said the same way
    if row.keys_reset_at_ms is not None and claims.issued_at_ms < row.keys_reset_at_ms:
        raise SessionRevoked("Your password was reset: sign in with the new one")
    # The role comes from the database, so a changed role applies at once.
    return AuthenticatedDevice(
        user_id=claims.user_id,
        device_id=claims.device_id,
        org_id=row.user_org_id,
        role=Role(row.role),
        last_seen_at_ms=row.last_seen_at_ms,
    )


# --- helpers ---------------------------------------------------------------------------------


def _decode_key(text: str, name: str, code: str) -> bytes:
    try:
        raw = b64decode(text)
    except CryptoError:
        raw = b""
    if len(raw) != _KEY_BYTES:
        raise InvalidInput(code, f"{name} must be {_KEY_BYTES} bytes in URL-safe base64")
    return raw


def _email_taken() -> Conflict:
    return Conflict("email_taken", "An account with this email already exists: sign in instead")


def _new_device(session: Session, user: UserRow, name: str, now: int) -> DeviceRow:
    device = DeviceRow(
        id=str(uuid.uuid4()),
        user_id=user.id,
        org_id=user.org_id,
        name=name,
        created_at_ms=now,
        last_seen_at_ms=now,
    )
    accounts.add(session, device)
    return device


def _issue_session(
    ctx: ServerContext,
    tokens: TokenService,
    session: Session,
    user: UserRow,
    org: OrganisationRow,
    device: DeviceRow,
    *,
    family_id: str,
    now_ms: int,
) -> SessionGrant:
    refresh_token, token_hash = new_refresh_token()
    accounts.add(
        session,
        RefreshTokenRow(
            id=str(uuid.uuid4()),
            token_hash=token_hash,
            device_id=device.id,
            family_id=family_id,
            issued_at_ms=now_ms,
            expires_at_ms=now_ms + ctx.settings.refresh_token_ttl_seconds * 1000,
        ),
    )
    access_token = tokens.issue(user_id=user.id, device_id=device.id, org_id=org.id, role=user.role, now_ms=now_ms)
    return SessionGrant(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=tokens.ttl_seconds,
        device_id=device.id,
        user=UserInfo(user_id=user.id, email=user.email, display_name=user.display_name, role=Role(user.role)),
        organisation=organisation_info(org),
        public_key=user.public_key,
        wrapped_private_key=user.wrapped_private_key,
        kdf=KdfParams.model_validate_json(user.kdf),
    )
