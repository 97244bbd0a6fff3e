"""Who is calling: the result of authenticating a request's access token."""

from __future__ import annotations

from dataclasses import dataclass

from shared.protocol import Role

__all__ = ["AuthenticatedDevice"]


@dataclass(frozen=True)
class AuthenticatedDevice:
    """The caller of an authenticated request: a registered, unrevoked device of a user."""

    user_id: str
    device_id: str
    org_id: str
    role: Role
    # When the device was last seen, as read while authenticating (None: not read with it).
    last_seen_at_ms: int | None = None
