"""The client's exception tree. The state layer catches ``AppError`` and shows its message.

AppError                      base; ``str(error)`` is a plain-words message for a worker
 ├── OfflineError             the server could not be reached (work is kept in the outbox)
 ├── SessionExpired           sign in again with the password; unsaved work is kept
 ├── DeviceRevoked            this device was signed out by its user or a coordinator: it erased itself
 ├── SignInFailed             wrong email or password, or the invitation was refused
 │    └── DeviceInUse         this device holds unsent work by someone else
 ├── ServerRejected           the server refused a request; carries its ``Problem``
 ├── UpgradeRequired          426: this app is too old for the server; message to show
 ├── InsecureServer           a plain http:// address that is not this computer: refused
 ├── WrongPin                 ``attempts_left`` before the device key is destroyed
 ├── DeviceKeyDestroyed       too many wrong PINs: sign in with the password to restore keys
 ├── Locked                   the device is locked: enter the PIN
 ├── NotReady                 e.g. waiting for a coordinator to grant the organisation key
 ├── NotAllowed               this person's role may not do that (e.g. export a record)
 └── ValidationFailed         ``problems``: field name -> plain-words problem
"""

from __future__ import annotations

from shared.protocol import Problem

__all__ = [
    "AppError",
    "DeviceInUse",
    "DeviceKeyDestroyed",
    "DeviceRevoked",
    "InsecureServer",
    "Locked",
    "NotAllowed",
    "NotReady",
    "OfflineError",
    "ServerRejected",
    "SessionExpired",
    "SignInFailed",
    "UpgradeRequired",
    "ValidationFailed",
    "WrongPin",
]


class AppError(Exception):
    """Base of every error the client's services raise; the message is fit to show."""

    default_message = "Something went wrong."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self)


class OfflineError(AppError):
    default_message = "No connection to the server. Your work is saved on this phone and will be sent later."


class SessionExpired(AppError):
    default_message = "Please sign in again with your password. Nothing you saved has been lost."


class DeviceRevoked(AppError):
    default_message = (
        "This phone was signed out by your organisation, so Gatepost has erased its data here. "
        "If this is your phone, sign in again with your password."
    )


class SignInFailed(AppError):
    default_message = "The email or password is not right."


class DeviceInUse(SignInFailed):
    default_message = (
        "This phone holds work by another person that has not been sent yet. "
        "That person needs to sign in and sync before someone else can use it."
    )


class ServerRejected(AppError):
    """The server answered with a problem; ``problem`` holds its status, code and detail."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail or problem.title)
        self.problem = problem

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def code(self) -> str:
        return self.problem.code


class UpgradeRequired(AppError):
    default_message = "This version of the app is too old for the server. Please update the app."


class InsecureServer(AppError):
    default_message = (
        "The server address must start with https:// so that nothing travels unprotected "
        "(http:// is allowed only for a server on this computer)."
    )


class WrongPin(AppError):
    def __init__(self, attempts_left: int) -> None:
        plural = "attempt" if attempts_left == 1 else "attempts"
        super().__init__(f"That PIN is not right. {attempts_left} {plural} left before this phone forgets its keys.")
        self.attempts_left = attempts_left


class DeviceKeyDestroyed(AppError):
    default_message = (
        "Too many wrong PINs: the keys on this phone were destroyed. "
        "Sign in with your password to get them back. Unsent work is kept."
    )


class Locked(AppError):
    default_message = "Enter your PIN to unlock."


class NotAllowed(AppError):
    default_message = "Your role does not allow this."


class NotReady(AppError):
    default_message = "Not ready yet."


class ValidationFailed(AppError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(" ".join(problems.values()) or "Please check the form.")
        self.problems = dict(problems)
