"""The sync server's exception tree: every error a client may see is an ``ApiError``.

Services raise these; the app turns each into an ``application/problem+json`` body shaped as
``shared.protocol.Problem`` with the error's ``status``, ``code`` and ``detail``. Details are plain
words a worker can read in the app; they never contain secrets, stack traces or stored values.

    ApiError                        status  code
     ├── BadRequest                  400     (given)        the request is well-formed JSON but unusable
     ├── Unauthenticated             401     (given)        missing, invalid or expired credentials
     │    ├── SignInFailed           401     sign_in_failed  unknown email or wrong password (identical)
     │    ├── SessionExpired         401     session_expired a refresh token past its lifetime
     │    ├── SessionRevoked         401     session_revoked reused refresh token
     │    └── DeviceRevoked          401     device_revoked  this device was signed out: the app wipes itself
     ├── Forbidden                   403     (given)        signed in but not allowed
     │    └── InvitationInvalid      403     invitation_invalid  unknown, used, expired or for another email
     ├── NotFound                    404     (given)
     ├── Conflict                    409     (given)        e.g. email taken, organisation key already set
     ├── PayloadTooLarge             413     payload_too_large
     ├── TooManyAttempts             429     too_many_attempts  sign-in throttled (with Retry-After)
     ├── InvalidInput                422     (given)        a value passed validation but is unusable
     └── UnsupportedProtocol         426     unsupported_protocol

Validation errors (422 ``validation_failed``), unknown routes (404), wrong methods (405) and
unexpected exceptions (500 ``internal_error``, without any traceback text) are turned into the same
problem shape by the handlers in ``sync_server.api.problems``.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "DeviceRevoked",
    "Forbidden",
    "InvalidInput",
    "InvitationInvalid",
    "NotFound",
    "PayloadTooLarge",
    "SessionExpired",
    "SessionRevoked",
    "SignInFailed",
    "TooManyAttempts",
    "Unauthenticated",
    "UnsupportedProtocol",
]


class ApiError(Exception):
    """An error with an HTTP status, a machine-readable code and a plain-words detail."""

    status: int = 500
    title: str = "Server error"

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class BadRequest(ApiError):
    status = 400
    title = "Bad request"


class Unauthenticated(ApiError):
    status = 401
    title = "Not signed in"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail, headers={"WWW-Authenticate": "Bearer"})


class SignInFailed(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("sign_in_failed", "Email or password is not right")


class SessionExpired(Unauthenticated):
    def __init__(self, detail: str = "Your session has expired: sign in again") -> None:
        super().__init__("session_expired", detail)


class SessionRevoked(Unauthenticated):
    def __init__(self, detail: str = "This session was ended: sign in again") -> None:
        super().__init__("session_revoked", detail)


class DeviceRevoked(Unauthenticated):
    """The device was signed out by its user or a coordinator; the app erases its data on seeing this."""

    def __init__(self) -> None:
        super().__init__(
            "device_revoked", "This device was signed out by your organisation, and its Gatepost data is to be erased"
        )


class Forbidden(ApiError):
    status = 403
    title = "Not allowed"


class InvitationInvalid(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "invitation_invalid",
            "This invitation code is not valid: it may be mistyped, used or expired. "
            "Ask your coordinator for a new one",
        )


class NotFound(ApiError):
    status = 404
    title = "Not found"


class Conflict(ApiError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Request too large"

    def __init__(self, limit: int) -> None:
        super().__init__("payload_too_large", f"The request is larger than the server accepts ({limit} bytes)")


class InvalidInput(ApiError):
    status = 422
    title = "Invalid input"


class TooManyAttempts(ApiError):
    """Too many failed sign-ins for this email or from this address; the same for unknown emails."""

    status = 429
    title = "Too many attempts"

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, -(-retry_after_s // 60))
        super().__init__(
            "too_many_attempts",
            f"Too many sign-in attempts. Wait {minutes} minute{'s' if minutes != 1 else ''} and try again",
            headers={"Retry-After": str(max(1, retry_after_s))},
        )


class UnsupportedProtocol(ApiError):
    status = 426
    title = "Update needed"

    def __init__(self, *, app_is_newer: bool = False) -> None:
        if app_is_newer:
            detail = "This app is newer than the server: ask your coordinator to have the server updated"
        else:
            detail = "This app is too old for the server: update Gatepost"
        super().__init__("unsupported_protocol", detail)
