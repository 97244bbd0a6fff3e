"""``SyncApi``: the v1 endpoints as typed methods over a synchronous ``httpx.Client``.

Every request carries ``X-Gatepost-Protocol: 1``. Replies are parsed into the protocol models;
failures become the client's own errors:

- no connection, timeouts, a gateway answering for a server that is down -> ``OfflineError``
- 401 at sign-in or registration -> ``SignInFailed``; 401 elsewhere -> one refresh of the session
  (rotating the refresh token, handed to ``on_session`` to persist) and one retry; when that fails
  -> ``SessionExpired``
- 401 ``device_revoked`` (this device was signed out) -> ``DeviceRevoked``, never retried
- 426 -> ``UpgradeRequired`` with the server's message
- any other problem reply -> ``ServerRejected`` carrying the ``Problem``

Only ``https://`` servers are spoken to, except ``http://`` to this computer (localhost, 127.0.0.0/8,
::1) for development: ``SyncApi`` refuses any other address with ``InsecureServer``.

The ``transport`` is injectable so tests can run the real server app in process or simulate a
network that drops requests and replies (``httpx.MockTransport``).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import ssl
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from outreach_app.errors import (
    DeviceRevoked,
    InsecureServer,
    OfflineError,
    ServerRejected,
    SessionExpired,
    SignInFailed,
    UpgradeRequired,
)
from shared.protocol import (
    DEFAULT_PULL_LIMIT,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    AuditPage,
    CaseErased,
    CaseMentors,
    CaseStatus,
    DeviceInfo,
    DeviceList,
    EraseCase,
    Health,
    Invitation,
    InvitationRequest,
    LoginRequest,
    MemberRemoval,
    OrganisationDirectory,
    OrganisationInfo,
    OrganisationKeySetup,
    PasswordResetRequest,
    PendingInvitation,
    PendingInvitationList,
    PreloginRequest,
    PreloginResponse,
    Problem,
    PullResponse,
    PushRequest,
    PushResponse,
    RefreshRequest,
    RegisterRequest,
    RenewShare,
    RetentionPolicy,
    RotationDue,
    SessionGrant,
    SharedPullRequest,
    SharedPullResponse,
    ShareInfo,
    ShareList,
    ShareRequest,
    SharingGrants,
    SharingGrantsResult,
    TeamMemberList,
    WithdrawShare,
)

__all__ = ["DEFAULT_TIMEOUT_S", "SyncApi", "encode_push", "is_allowed_server_url"]

DEFAULT_TIMEOUT_S = 20.0
_GATEWAY_DOWN = frozenset({502, 503, 504})

M = TypeVar("M", bound=BaseModel)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi's CAs), made once: loading the CA bundle took
    longer than a whole sync with nothing new, and every new device connection paid it again."""
    return httpx.create_ssl_context()


def is_allowed_server_url(url: str) -> bool:
    """``https://`` anywhere, or ``http://`` only to this computer."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        return False
    if not parsed.host:
        return False
    if parsed.scheme == "https":
        return True
    if parsed.scheme != "http":
        return False
    if parsed.host == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.host).is_loopback
    except ValueError:
        return False


def encode_push(request: PushRequest) -> bytes:
    """The body of ``POST /v1/sync/push`` for ``request`` (JSON, UTF-8)."""
    return request.model_dump_json().encode("utf-8")


class SyncApi:
    """One server, one device session. Not thread-safe: use one per thread or guard it."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        refresh_token: str | None = None,
        on_session: Callable[[SessionGrant], None] | None = None,
    ) -> None:
        if not is_allowed_server_url(base_url):
            raise InsecureServer()
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            verify=_tls_context(),
            timeout=timeout,
            headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Accept": "application/json"},
        )
        self.access_token: str | None = None
        self.refresh_token: str | None = refresh_token
        self.on_session = on_session

    # --- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SyncApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def has_session(self) -> bool:
        return self.access_token is not None or self.refresh_token is not None

    def forget_session(self) -> None:
        self.access_token = None
        self.refresh_token = None

    # --- endpoints -----------------------------------------------------------------------------

    def health(self) -> Health:
        """``GET /healthz``: liveness, protocol versions served and the server's clock."""
        return self._parse(Health, self._send("GET", "/healthz"))

    def prelogin(self, email: str) -> PreloginResponse:
        """``POST /v1/auth/prelogin``: the KDF parameters and salt for an email."""
        request = PreloginRequest(email=email)
        return self._parse(PreloginResponse, self._send("POST", "/v1/auth/prelogin", body=request))

    def register(self, request: RegisterRequest) -> SessionGrant:
        """``POST /v1/auth/register``; keeps the session's tokens."""
        response = self._send("POST", "/v1/auth/register", body=request, sign_in=True)
        return self._accept_session(self._parse(SessionGrant, response), notify=False)

    def login(self, request: LoginRequest) -> SessionGrant:
        """``POST /v1/auth/login``; keeps the session's tokens."""
        response = self._send("POST", "/v1/auth/login", body=request, sign_in=True)
        return self._accept_session(self._parse(SessionGrant, response), notify=False)

    def reset_password(self, request: PasswordResetRequest) -> SessionGrant:
        """``POST /v1/auth/reset`` with a coordinator's reset code; keeps the session's tokens."""
        response = self._send("POST", "/v1/auth/reset", body=request, sign_in=True)
        return self._accept_session(self._parse(SessionGrant, response), notify=False)

    def create_password_reset(self, user_id: str) -> Invitation:
        """``POST /v1/members/{id}/password-reset`` (coordinators): a code for the member."""
        return self._parse(Invitation, self._authorised("POST", f"/v1/members/{user_id}/password-reset"))

    def refresh(self) -> SessionGrant:
        """``POST /v1/auth/refresh``: a new access token and a rotated refresh token."""
        if self.refresh_token is None:
            raise SessionExpired()
        request = RefreshRequest(refresh_token=self.refresh_token)
        try:
            response = self._send("POST", "/v1/auth/refresh", body=request)
        except ServerRejected as error:
            if error.status in (400, 401, 403, 422):
                self.forget_session()
                raise SessionExpired() from error
            raise
        return self._accept_session(self._parse(SessionGrant, response), notify=True)

    def setup_organisation_keys(self, setup: OrganisationKeySetup) -> OrganisationInfo:
        """``POST /v1/org/keys``: the first coordinator's device sets the organisation key (once)."""
        return self._parse(OrganisationInfo, self._authorised("POST", "/v1/org/keys", body=setup))

    def create_invitation(self, request: InvitationRequest) -> Invitation:
        """``POST /v1/invitations`` (coordinators)."""
        return self._parse(Invitation, self._authorised("POST", "/v1/invitations", body=request))

    def pending_invitations(self) -> PendingInvitationList:
        """``GET /v1/invitations`` (coordinators): invitations nobody has used yet."""
        return self._parse(PendingInvitationList, self._authorised("GET", "/v1/invitations"))

    def cancel_invitation(self, invitation_id: str) -> PendingInvitation:
        """``POST /v1/invitations/{id}/cancel`` (coordinators): the code can no longer register anyone."""
        return self._parse(PendingInvitation, self._authorised("POST", f"/v1/invitations/{invitation_id}/cancel"))

    def team_members(self) -> TeamMemberList:
        """``GET /v1/org/members`` (coordinators): the organisation's members, no record content."""
        return self._parse(TeamMemberList, self._authorised("GET", "/v1/org/members"))

    def remove_member(self, user_id: str) -> MemberRemoval:
        """``POST /v1/org/members/{user id}/remove`` (coordinators): their devices out, no access; idempotent."""
        return self._parse(MemberRemoval, self._authorised("POST", f"/v1/org/members/{user_id}/remove"))

    def list_devices(self) -> DeviceList:
        """``GET /v1/devices``: your devices (a coordinator: the organisation's)."""
        return self._parse(DeviceList, self._authorised("GET", "/v1/devices"))

    def revoke_device(self, device_id: str) -> DeviceInfo:
        """``POST /v1/devices/{id}/revoke``: sign a device out."""
        return self._parse(DeviceInfo, self._authorised("POST", f"/v1/devices/{device_id}/revoke"))

    def audit_trail(self, before: int | None = None, limit: int = 50) -> AuditPage:
        """``GET /v1/audit``: the organisation's audit trail, newest first (coordinators)."""
        params: dict[str, int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return self._parse(AuditPage, self._authorised("GET", "/v1/audit", params=params))

    def case_mentors(self, case_id: str) -> CaseMentors:
        """``GET /v1/cases/{id}/mentors`` (coordinators): assigned mentors and those to choose from."""
        return self._parse(CaseMentors, self._authorised("GET", f"/v1/cases/{case_id}/mentors"))

    def assign_mentor(self, case_id: str, user_id: str) -> CaseMentors:
        """``POST /v1/cases/{id}/mentors/{user id}`` (coordinators)."""
        return self._parse(CaseMentors, self._authorised("POST", f"/v1/cases/{case_id}/mentors/{user_id}"))

    def unassign_mentor(self, case_id: str, user_id: str) -> CaseMentors:
        """``DELETE /v1/cases/{id}/mentors/{user id}`` (coordinators)."""
        return self._parse(CaseMentors, self._authorised("DELETE", f"/v1/cases/{case_id}/mentors/{user_id}"))

    def organisations(self) -> OrganisationDirectory:
        """``GET /v1/organisations``: who a person's record can be shared with."""
        return self._parse(OrganisationDirectory, self._authorised("GET", "/v1/organisations"))

    def case_shares(self, case_id: str) -> ShareList:
        """``GET /v1/cases/{id}/shares``: who this person's record is shared with (and who it could be)."""
        return self._parse(ShareList, self._authorised("GET", f"/v1/cases/{case_id}/shares"))

    def create_share(self, request: ShareRequest) -> ShareInfo:
        """``POST /v1/sharing/shares``: the scope and the sealed keys, in one transaction."""
        return self._parse(ShareInfo, self._authorised("POST", "/v1/sharing/shares", body=request))

    def withdraw_share(self, share_id: str, request: WithdrawShare) -> RotationDue:
        """``POST /v1/sharing/shares/{id}/withdraw``."""
        return self._parse(
            RotationDue, self._authorised("POST", f"/v1/sharing/shares/{share_id}/withdraw", body=request)
        )

    def renew_share(self, share_id: str, request: RenewShare) -> ShareInfo:
        """``POST /v1/sharing/shares/{id}/renew``."""
        return self._parse(ShareInfo, self._authorised("POST", f"/v1/sharing/shares/{share_id}/renew", body=request))

    def claim_rotation(self, share_id: str) -> RotationDue:
        """``POST /v1/sharing/shares/{id}/rotation``: take on rotating an ended share's keys."""
        return self._parse(RotationDue, self._authorised("POST", f"/v1/sharing/shares/{share_id}/rotation"))

    def sharing_grants(self, request: SharingGrants) -> SharingGrantsResult:
        """``POST /v1/sharing/grants``: rotated keys for the partners still sharing a person."""
        return self._parse(SharingGrantsResult, self._authorised("POST", "/v1/sharing/grants", body=request))

    def shares_without_consent(self) -> ShareList:
        """``GET /v1/sharing/without-consent`` (coordinators)."""
        return self._parse(ShareList, self._authorised("GET", "/v1/sharing/without-consent"))

    def shared_pull(self, request: SharedPullRequest) -> SharedPullResponse:
        """``POST /v1/sharing/pull``: what partner organisations share with ours."""
        return self._parse(SharedPullResponse, self._authorised("POST", "/v1/sharing/pull", body=request))

    def case_status(self, case_id: str) -> CaseStatus:
        """``GET /v1/cases/{id}`` (coordinators): closed or open, and when retention runs out."""
        return self._parse(CaseStatus, self._authorised("GET", f"/v1/cases/{case_id}"))

    def close_case(self, case_id: str) -> CaseStatus:
        """``POST /v1/cases/{id}/close`` (coordinators)."""
        return self._parse(CaseStatus, self._authorised("POST", f"/v1/cases/{case_id}/close"))

    def reopen_case(self, case_id: str) -> CaseStatus:
        """``POST /v1/cases/{id}/reopen`` (coordinators)."""
        return self._parse(CaseStatus, self._authorised("POST", f"/v1/cases/{case_id}/reopen"))

    def erase_case(self, case_id: str, request: EraseCase | None = None) -> CaseErased:
        """``POST /v1/cases/{id}/erase`` (coordinators): cannot be undone."""
        return self._parse(CaseErased, self._authorised("POST", f"/v1/cases/{case_id}/erase", body=request))

    def retention(self) -> RetentionPolicy:
        """``GET /v1/org/retention`` (coordinators)."""
        return self._parse(RetentionPolicy, self._authorised("GET", "/v1/org/retention"))

    def set_retention(self, policy: RetentionPolicy) -> RetentionPolicy:
        """``PUT /v1/org/retention`` (coordinators)."""
        return self._parse(RetentionPolicy, self._authorised("PUT", "/v1/org/retention", body=policy))

    def push(self, request: PushRequest) -> PushResponse:
        """``POST /v1/sync/push``: idempotent per change id and grant id."""
        return self.push_encoded(encode_push(request))

    def push_encoded(self, body: bytes) -> PushResponse:
        """``push`` of a request already encoded with ``encode_push`` (a sync encodes the next batch
        while the one before is on its way, so the request goes as soon as the answer is back)."""
        return self._parse(PushResponse, self._authorised("POST", "/v1/sync/push", body=body))

    def pull(self, since: int, limit: int = DEFAULT_PULL_LIMIT) -> PullResponse:
        """``GET /v1/sync/pull?since=SEQ&limit=N``."""
        response = self._authorised("GET", "/v1/sync/pull", params={"since": since, "limit": limit})
        return self._parse(PullResponse, response)

    # --- plumbing ------------------------------------------------------------------------------

    def _accept_session(self, grant: SessionGrant, *, notify: bool) -> SessionGrant:
        self.access_token = grant.access_token
        self.refresh_token = grant.refresh_token
        if notify and self.on_session is not None:
            self.on_session(grant)
        return grant

    def _authorised(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        if self.access_token is None:
            self.refresh()
        try:
            return self._send(method, path, body=body, params=params, bearer=self.access_token)
        except _Unauthorised:
            pass
        self.access_token = None
        self.refresh()
        try:
            return self._send(method, path, body=body, params=params, bearer=self.access_token)
        except _Unauthorised as error:
            self.forget_session()
            raise SessionExpired() from error

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | bytes | None = None,
        params: Mapping[str, Any] | None = None,
        bearer: str | None = None,
        sign_in: bool = False,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else body.model_dump_json().encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            response = self._client.request(method, path, content=content, params=params, headers=headers)
        except httpx.RequestError as error:
            raise OfflineError() from error
        if response.status_code < 400:
            return response
        problem = _problem_of(response)
        if response.status_code in _GATEWAY_DOWN and problem.code == "bad_gateway":
            raise OfflineError()
        if response.status_code == 426:
            raise UpgradeRequired(problem.detail or None)
        if response.status_code == 401 and problem.code == "device_revoked":
            self.forget_session()
            raise DeviceRevoked()
        if response.status_code == 401:
            if sign_in:
                raise SignInFailed(problem.detail or None)
            if bearer is not None:
                raise _Unauthorised(problem)
            raise ServerRejected(problem)
        if sign_in and response.status_code == 403:
            raise SignInFailed(problem.detail or None)
        raise ServerRejected(problem)

    @staticmethod
    def _parse(model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise ServerRejected(
                Problem(
                    title="Unexpected reply",
                    status=response.status_code,
                    detail="The server sent a reply this app does not understand. Please update the app.",
                    code="bad_reply",
                )
            ) from None


class _Unauthorised(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _problem_of(response: httpx.Response) -> Problem:
    """The problem body of an error reply, or one made up from the status when there is none."""
    try:
        return Problem.model_validate_json(response.content)
    except ValidationError:
        pass
    detail = ""
    try:
        data = json.loads(response.content)
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            detail = data["detail"]
    except ValueError:
        pass
    code = "bad_gateway" if response.status_code in _GATEWAY_DOWN else "http_error"
    return Problem(
        title=response.reason_phrase or "Error",
        status=response.status_code,
        detail=detail or f"The server answered {response.status_code} {response.reason_phrase}.".strip(),
        code=code,
    )
