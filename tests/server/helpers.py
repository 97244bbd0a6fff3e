"""Builders for server tests: members with real key material, real encrypted changes, and calls.

Every change carries a real AES-256-GCM ciphertext under a per-case, per-tier key, and every
grant a real sealed or wrapped key, so a test can check that what it pulls opens.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from shared.clock import Hlc
from shared.crypto import (
    FAST_TEST_SCRYPT,
    KeyPair,
    b64encode,
    encrypt_field,
    equality_tag,
    field_associated_data,
    generate_key_pair,
    random_key,
    random_salt,
    seal,
    wrap_key,
)
from shared.kinds import Tier, fixed_tier
from shared.protocol import (
    ChangeIn,
    KdfParams,
    KeyGrantIn,
    OrganisationInfo,
    OrganisationKeySetup,
    Problem,
    PullResponse,
    PushRequest,
    PushResponse,
    Role,
    SessionGrant,
    case_key_id,
    org_key_id,
)
from tests.support.server import TestClient, bootstrap_organisation


class MovableClock:
    """The server's clock in tests: real time plus an offset a test may move forward."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def advance(self, *, seconds: float = 0, days: float = 0) -> None:
        self.offset_ms += int((seconds + days * 86400) * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


def unique_email(prefix: str = "worker") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@example.org"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: Any, status: int, code: str | None = None) -> Problem:
    """Assert ``response`` is a problem+json with ``status`` (and ``code``) and return it."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = Problem.model_validate(response.json())
    assert body.status == status
    if code is not None:
        assert body.code == code, body
    assert "Traceback" not in response.text
    return body


@dataclass
class Member:
    email: str
    role: Role
    auth_key: bytes
    wrap_key: bytes
    key_pair: KeyPair
    grant: SessionGrant

    @property
    def user_id(self) -> str:
        return self.grant.user.user_id

    @property
    def device_id(self) -> str:
        return self.grant.device_id

    @property
    def org_id(self) -> str:
        return self.grant.organisation.org_id

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.grant.access_token)


@dataclass
class Org:
    org_id: str
    coordinator: Member
    org_key: bytes | None = None
    org_key_pair: KeyPair | None = None
    case_keys: dict[tuple[str, Tier], bytes] = field(default_factory=dict)
    tag_keys: dict[str, bytes] = field(default_factory=dict)

    def case_key(self, case_id: str, tier: Tier) -> bytes:
        return self.case_keys.setdefault((case_id, tier), random_key())

    def tag_key(self, case_id: str) -> bytes:
        return self.tag_keys.setdefault(case_id, random_key())


class Harness:
    """Drives the real app through a ``TestClient``."""

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app = app
        self.client = client

    # --- accounts --------------------------------------------------------------------------

    def register(
        self, invitation_code: str, email: str | None = None, *, role: Role | None = None, device_name: str = "Phone"
    ) -> Member:
        email = email or unique_email()
        auth_key, wrap, pair = random_key(), random_key(), generate_key_pair()
        response = self.client.post(
            "/v1/auth/register", json=register_body(invitation_code, email, auth_key, wrap, pair, device_name)
        )
        assert response.status_code == 200, response.text
        grant = SessionGrant.model_validate(response.json())
        if role is not None:
            assert grant.user.role is role
        return Member(email=email, role=grant.user.role, auth_key=auth_key, wrap_key=wrap, key_pair=pair, grant=grant)

    def new_org(self, *, with_key: bool = True) -> Org:
        org_id, invitation = bootstrap_organisation(self.app)
        coordinator = self.register(invitation.code, role=Role.COORDINATOR)
        org = Org(org_id=org_id, coordinator=coordinator)
        if with_key:
            self.setup_org_key(org)
        return org

    def setup_org_key(self, org: Org) -> OrganisationInfo:
        org.org_key = random_key()
        org.org_key_pair = generate_key_pair()
        coordinator = org.coordinator
        key_id = org_key_id(org.org_id, 1)
        setup = OrganisationKeySetup(
            public_key=b64encode(org.org_key_pair.public_key),
            wrapped_private_key=wrap_key(
                org.org_key, org.org_key_pair.private_key, context=org_private_context(org.org_id)
            ),
            coordinator_grant=KeyGrantIn(
                grant_id=new_id(),
                key_id=key_id,
                recipient_kind="user",
                recipient_id=coordinator.user_id,
                wrapped_with=f"user:{coordinator.user_id}",
                wrapped=seal(coordinator.key_pair.public_key, org.org_key, context=key_id.encode()),
            ),
        )
        response = self.client.post("/v1/org/keys", json=setup.model_dump(mode="json"), headers=coordinator.headers)
        assert response.status_code == 200, response.text
        return OrganisationInfo.model_validate(response.json())

    def invite(self, inviter: Member, role: Role, email: str | None = None) -> str:
        body: dict[str, Any] = {"role": role.value}
        if email is not None:
            body["email"] = email
        response = self.client.post("/v1/invitations", json=body, headers=inviter.headers)
        assert response.status_code == 200, response.text
        code: str = response.json()["code"]
        return code

    def join(self, org: Org, role: Role, email: str | None = None) -> Member:
        return self.register(self.invite(org.coordinator, role), email, role=role)

    # --- sync ------------------------------------------------------------------------------

    def push_raw(self, member: Member, changes: Sequence[ChangeIn] = (), grants: Sequence[KeyGrantIn] = ()) -> Any:
        request = PushRequest(changes=list(changes), key_grants=list(grants))
        return self.client.post("/v1/sync/push", json=request.model_dump(mode="json"), headers=member.headers)

    def push(self, member: Member, changes: Sequence[ChangeIn] = (), grants: Sequence[KeyGrantIn] = ()) -> PushResponse:
        response = self.push_raw(member, changes, grants)
        assert response.status_code == 200, response.text
        return PushResponse.model_validate(response.json())

    def pull(self, member: Member, since: int = 0, limit: int | None = None) -> PullResponse:
        params: dict[str, int] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        response = self.client.get("/v1/sync/pull", params=params, headers=member.headers)
        assert response.status_code == 200, response.text
        return PullResponse.model_validate(response.json())

    def pull_all(self, member: Member, limit: int = 1000) -> list[PullResponse]:
        pages, since = [], 0
        while True:
            page = self.pull(member, since, limit)
            pages.append(page)
            since = page.next
            if not page.has_more:
                return pages


def org_private_context(org_id: str) -> bytes:
    return f"gatepost/test/org-private/{org_id}".encode()


def register_body(
    invitation_code: str, email: str, auth_key: bytes, wrap: bytes, pair: KeyPair, device_name: str = "Phone"
) -> dict[str, Any]:
    kdf = KdfParams(n=FAST_TEST_SCRYPT.n, r=FAST_TEST_SCRYPT.r, p=FAST_TEST_SCRYPT.p, salt=b64encode(random_salt()))
    return {
        "invitation_code": invitation_code,
        "email": email,
        "display_name": email.split("@")[0],
        "kdf": kdf.model_dump(mode="json"),
        "auth_key": b64encode(auth_key),
        "public_key": b64encode(pair.public_key),
        "wrapped_private_key": wrap_key(wrap, pair.private_key, context=b"gatepost/test/user-private"),
        "device_name": device_name,
    }


def hlc_for(member: Member, wall_ms: int | None = None, counter: int = 0) -> str:
    return Hlc(wall_ms if wall_ms is not None else now_ms(), counter, member.device_id).encode()


def make_change(
    org: Org,
    member: Member,
    *,
    record_id: str,
    case_id: str | None,
    kind: str,
    field: str,
    tier: Tier,
    value: Any = "value",
    key_id: str | None = None,
    hlc: str | None = None,
    change_id: str | None = None,
    author_device_id: str | None = None,
    amends: str | None = None,
) -> ChangeIn:
    """A change with a real ciphertext of ``value`` under the case's ``tier`` key."""
    key_case = case_id or record_id
    key_id = key_id or case_key_id(key_case, tier, 1)
    hlc = hlc or hlc_for(member)
    nonce, ciphertext = encrypt_field(
        org.case_key(key_case, tier), json.dumps(value).encode(), field_associated_data(record_id, field, hlc, key_id)
    )
    return ChangeIn(
        change_id=change_id or new_id(),
        record_id=record_id,
        case_id=case_id,
        kind=kind,
        field=field,
        tier=tier,
        key_id=key_id,
        hlc=hlc,
        author_device_id=author_device_id or member.device_id,
        nonce=b64encode(nonce),
        ciphertext=b64encode(ciphertext),
        tag=equality_tag(org.tag_key(key_case), value),
        amends=amends,
    )


def person_change(
    org: Org, member: Member, person_id: str, field: str = "name", value: Any = "Sam", **kwargs: Any
) -> ChangeIn:
    tier = kwargs.pop("tier", None) or fixed_tier("person", field) or Tier.BASIC
    return make_change(
        org,
        member,
        record_id=person_id,
        case_id=kwargs.pop("case_id", person_id),
        kind="person",
        field=field,
        tier=tier,
        value=value,
        **kwargs,
    )


def contact_change(
    org: Org, member: Member, person_id: str, contact_id: str | None = None, *, tier: Tier = Tier.BASIC, **kwargs: Any
) -> ChangeIn:
    entry = {
        "occurred_at": "2026-11-25T09:30",
        "setting": "prison_gate",
        "contact_type": "face_to_face",
        "note": "Met at the gate.",
        "basis": "fact",
    }
    return make_change(
        org,
        member,
        record_id=contact_id or new_id(),
        case_id=kwargs.pop("case_id", person_id),
        kind="contact",
        field="entry",
        tier=tier,
        value=entry,
        **kwargs,
    )


def case_key_grant(
    org: Org, case_id: str, tier: Tier = Tier.FULL, *, grant_id: str | None = None, **overrides: Any
) -> KeyGrantIn:
    """A case key wrapped under the organisation key (recipient: the organisation)."""
    assert org.org_key is not None
    key_id = case_key_id(case_id, tier, 1)
    values: dict[str, Any] = {
        "grant_id": grant_id or new_id(),
        "key_id": key_id,
        "case_id": case_id,
        "recipient_kind": "organisation",
        "recipient_id": org.org_id,
        "wrapped_with": org_key_id(org.org_id, 1),
        "wrapped": wrap_key(org.org_key, org.case_key(case_id, tier), context=key_id.encode()),
    }
    values.update(overrides)
    return KeyGrantIn(**values)


def org_key_grant(org: Org, recipient: Member, *, grant_id: str | None = None, **overrides: Any) -> KeyGrantIn:
    """The organisation key sealed to a member (what a coordinator's device does)."""
    assert org.org_key is not None
    key_id = org_key_id(org.org_id, 1)
    values: dict[str, Any] = {
        "grant_id": grant_id or new_id(),
        "key_id": key_id,
        "recipient_kind": "user",
        "recipient_id": recipient.user_id,
        "wrapped_with": f"user:{recipient.user_id}",
        "wrapped": seal(recipient.key_pair.public_key, org.org_key, context=key_id.encode()),
    }
    values.update(overrides)
    return KeyGrantIn(**values)
