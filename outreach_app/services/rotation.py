"""Rotating a case key: a new content key version for new writes, installed on this phone only
once the server has stored it.

Two devices can rotate one person's key at the same moment (a mentor unassigned on one phone while
a consent is withdrawn on another). Were each to write under its own ``v(n+1)``, the team's phones
would hold one or the other and some notes would open for nobody. So the new version's wrap for
the organisation is pushed at once, on its own; the server keeps the first content of a key
version and refuses a second (``key_version_taken``); the phone that lost uses the winner's key,
which its next pull brings, and writes nothing under its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach_app.errors import NotReady
from outreach_app.ids import uuid7
from outreach_app.services.device import Device
from outreach_app.services.keys import wrap_case_bundle_for_organisation
from outreach_app.storage.tables import KeyGrantRow
from outreach_app.sync.transport import SyncApi
from shared.crypto import random_key
from shared.kinds import Tier
from shared.protocol import ChangeStatus, PushRequest, RejectReason, case_key_id, parse_case_key_id

__all__ = ["RotatedKey", "rotate_case_key"]


@dataclass(frozen=True)
class RotatedKey:
    key_id: str
    bundle: bytes  # content key || tag key


def rotate_case_key(device: Device, api: SyncApi, case_id: str, tier: Tier) -> RotatedKey | None:
    """Make ``v(n+1)`` of the case's ``tier`` key, store its wrap for the organisation on the server
    and only then keep it here. None when another device made that version first (this phone
    receives it at its next pull). Raises ``NotReady`` without the keys, network errors as they come
    (nothing is kept then: a retry makes a fresh one, or finds the stored one taken)."""
    keys = device.require_keys()
    identity = device.require_identity()
    current = keys.newest_case_keys(case_id, tier)
    org_key = keys.newest_org_key(identity.org_id)
    if current is None or org_key is None:
        raise NotReady("This phone does not hold this person's keys yet. Sync and try again.")
    parsed = parse_case_key_id(current.key_id)
    assert parsed is not None
    key_id = case_key_id(case_id, tier, parsed[2] + 1)
    bundle = random_key() + current.tag  # a new content key; the same tag key
    grant = wrap_case_bundle_for_organisation(
        uuid7(device.now_ms()), key_id, case_id, bundle, identity.org_id, org_key[0], org_key[1]
    )
    [result] = api.push(PushRequest(key_grants=[grant])).grant_results
    if result.status is ChangeStatus.REJECTED:
        if result.reason is RejectReason.KEY_VERSION_TAKEN:
            return None
        raise NotReady(f"The server did not take the new key: {result.detail}")
    with device.store.write() as session:
        device.put_key(session, key_id, bundle)
        row = KeyGrantRow.outgoing(grant)
        row.pending, row.acknowledged, row.seq, row.org_id = False, True, result.seq, identity.org_id
        session.add(row)
    return RotatedKey(key_id, bundle)
