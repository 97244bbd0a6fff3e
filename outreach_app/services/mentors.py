"""``MentorService``: a coordinator assigns and unassigns peer mentors to people (online).

Assigning seals the case's basic keys (every version this device holds, so the mentor can read the
older notes too) to the mentor's public key, which comes from the server's list of mentors.

Unassigning makes a new basic key version ``v(n+1)`` for new writes, wrapped for the organisation
and sealed to the mentors still assigned, never to the one removed. Only the content key is new:
the tag key is kept, so equal values keep equal equality tags across versions (a removed mentor
who kept the old tag key learns at most whether a later value equals one they saw). What the
mentor read before stays readable to a copy they kept; the purge their devices get is the most a
server can ask of a device.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from outreach_app.errors import DeviceRevoked, NotReady, OfflineError, ServerRejected, ValidationFailed
from outreach_app.ids import uuid7
from outreach_app.services.device import Device, Identity
from outreach_app.services.keys import seal_key_to_user
from outreach_app.services.rotation import rotate_case_key
from outreach_app.services.sharing import SharingService
from outreach_app.services.sync import SyncReport, SyncService
from outreach_app.storage import LocalStore, StateKey
from outreach_app.storage.tables import KeyGrantRow
from outreach_app.sync.transport import SyncApi
from shared.crypto import b64decode
from shared.errors import CryptoError
from shared.kinds import Tier
from shared.protocol import CaseMentors, MentorInfo, Role, parse_case_key_id

__all__ = ["MentorService", "Mentors"]

T = TypeVar("T")


@dataclass(frozen=True)
class Mentors:
    """A person's peer mentors, and the organisation's peer mentors not yet assigned to them."""

    assigned: tuple[MentorInfo, ...]
    available: tuple[MentorInfo, ...]

    @classmethod
    def of(cls, listed: CaseMentors) -> Mentors:
        taken = {mentor.user_id for mentor in listed.assigned}
        return cls(tuple(listed.assigned), tuple(m for m in listed.available if m.user_id not in taken))


class MentorService:
    def __init__(self, device: Device, sync: SyncService, sharing: SharingService | None = None) -> None:
        self._device = device
        self._sync = sync
        self._sharing = sharing
        sync.mentor_step = self

    def mentors(self, case_id: str) -> Mentors:
        """Who mentors this person and who could (coordinators; online)."""
        self._require_coordinator()
        return Mentors.of(self._online(lambda api: api.case_mentors(case_id)))

    def assign_mentor(self, case_id: str, mentor_user_id: str) -> Mentors:
        """Assign a peer mentor and send them the person's basic keys (coordinators; online)."""
        self._require_coordinator()
        self._sync_or_raise()  # the server must hold the person before it can assign them
        listed = self._online(lambda api: api.assign_mentor(case_id, mentor_user_id))
        mentor = next((m for m in listed.assigned if m.user_id == mentor_user_id), None)
        if mentor is None:
            raise ValidationFailed({"mentor": "The server did not assign that mentor. Try again."})
        self._seal_basic_keys(case_id, [mentor], newest_only=False)
        self._sync_or_raise()
        return Mentors.of(listed)

    def unassign_mentor(self, case_id: str, mentor_user_id: str) -> Mentors:
        """Unassign a mentor, then rotate the person's basic key for new writes (coordinators; online)."""
        self._require_coordinator()
        self._require_keys(case_id)  # before the server changes anything: the rotation must follow
        self._mark_due(case_id, mentor_user_id, due=True)
        try:
            listed = self._online(lambda api: api.unassign_mentor(case_id, mentor_user_id))
        except ServerRejected:
            self._mark_due(case_id, mentor_user_id, due=False)  # refused: nothing was unassigned
            raise
        if self._online(lambda api: self._rotate_after_unassigning(api, case_id, listed)):
            self._mark_due(case_id, mentor_user_id, due=False)
        self._sync_or_raise()  # brings a key another phone rotated at the same moment, and rotates on it
        if self._sharing is not None:
            # Partner organisations still sharing the basic tier need its new key too.
            with contextlib.suppress(OfflineError):
                self._sharing.seal_newest_to_partners(case_id, [Tier.BASIC])
        return Mentors.of(listed)

    def note_rotations_due(self, case_ids: list[str], mentor_user_id: str, *, due: bool) -> None:
        """Note (or forget) that these people's basic keys must rotate because the mentor left them
        (removed from the organisation); the next sync's ``finish_unassignments`` rotates them."""
        for case_id in case_ids:
            self._mark_due(case_id, mentor_user_id, due=due)

    def finish_unassignments(self, api: SyncApi, identity: Identity) -> bool:
        """At a sync: finish the rotations of unassignments whose answer was lost (the server did
        unassign) and forget those the server never received. True when there is something to push."""
        if identity.role is not Role.COORDINATOR:
            return False
        pending: list[list[str]] = json.loads(self._device.store.state().get(StateKey.MENTOR_ROTATIONS_DUE) or "[]")
        rotated = False
        for case_id, mentor_user_id in pending:
            try:
                listed = api.case_mentors(case_id)
            except ServerRejected:
                listed = None  # the person was erased, or is no longer ours: nothing to rotate
            if listed is not None and all(mentor.user_id != mentor_user_id for mentor in listed.assigned):
                try:
                    if not self._rotate_after_unassigning(api, case_id, listed):
                        continue  # another phone rotated first: rotate on its key after the next pull
                    rotated = True
                except NotReady:
                    continue  # keys not here yet: try again at the next sync
                if self._sharing is not None:
                    with contextlib.suppress(OfflineError, ServerRejected):
                        self._sharing.seal_newest_to_partners(case_id, [Tier.BASIC])
            self._mark_due(case_id, mentor_user_id, due=False)
        return rotated

    def _rotate_after_unassigning(self, api: SyncApi, case_id: str, listed: CaseMentors) -> bool:
        """A new basic key sealed to the mentors still assigned; False when another phone's rotation
        of the same version came first (the one removed may have been sealed that one, so this
        phone rotates again on top of it once it holds it)."""
        if rotate_case_key(self._device, api, case_id, Tier.BASIC) is None:
            return False
        self._seal_basic_keys(case_id, list(listed.assigned), newest_only=True)
        return True

    def _require_keys(self, case_id: str) -> None:
        keys, identity = self._device.require_keys(), self._device.require_identity()
        if keys.newest_case_keys(case_id, Tier.BASIC) is None or keys.newest_org_key(identity.org_id) is None:
            raise NotReady("This phone does not hold this person's keys yet. Sync and try again.")

    def _mark_due(self, case_id: str, mentor_user_id: str, *, due: bool) -> None:
        with self._device.store.write() as session:
            pending: list[list[str]] = json.loads(LocalStore.get(session, StateKey.MENTOR_ROTATIONS_DUE) or "[]")
            pending = [pair for pair in pending if pair != [case_id, mentor_user_id]]
            if due:
                pending.append([case_id, mentor_user_id])
            LocalStore.put(session, {StateKey.MENTOR_ROTATIONS_DUE: json.dumps(pending)})

    # --- keys ----------------------------------------------------------------------------------

    def _seal_basic_keys(self, case_id: str, mentors: list[MentorInfo], *, newest_only: bool) -> None:
        device = self._device
        keys = device.require_keys()
        held = sorted(
            (parsed[2], key_id)
            for key_id in keys.keys
            if (parsed := parse_case_key_id(key_id)) is not None and parsed[0] == case_id and parsed[1] is Tier.BASIC
        )
        if not held:
            raise NotReady("This phone does not hold this person's keys yet. Sync and try again.")
        if newest_only:
            held = held[-1:]
        with device.store.write() as session:
            for mentor in mentors:
                for _, key_id in held:
                    try:
                        grant = seal_key_to_user(
                            uuid7(device.now_ms()),
                            key_id,
                            keys.keys[key_id],
                            mentor.user_id,
                            b64decode(mentor.public_key),
                            case_id,
                        )
                    except (CryptoError, ValueError):
                        break  # an unusable public key: this mentor reads nothing until it is fixed
                    session.add(KeyGrantRow.outgoing(grant))

    # --- plumbing ------------------------------------------------------------------------------

    def _require_coordinator(self) -> None:
        if self._device.require_identity().role is not Role.COORDINATOR:
            raise NotReady("Only a coordinator can assign peer mentors.")

    def _sync_or_raise(self) -> SyncReport:
        report = self._sync.sync_now()
        if report.offline:
            raise NotReady(f"{report.message} Assigning a mentor needs a connection.")
        return report

    def _online(self, work: Callable[[SyncApi], T]) -> T:
        with self._device.net_lock:
            try:
                return work(self._device.api())
            except DeviceRevoked:
                self._device.erase_after_revocation()
                raise
