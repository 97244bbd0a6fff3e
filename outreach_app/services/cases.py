"""``CaseService``: a coordinator closes and reopens a person's case, erases a record, and sets how
long closed cases are kept (all online: the server records these).

Erasing asks the server to delete the case's ciphertext and leave a tombstone; this device then
syncs, and the purge in the pull deletes the case here with its keys, as it does on every other
device of the organisation at its next sync. What someone already read, or copied off a phone,
cannot be recalled; the screens say so before the coordinator confirms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from outreach_app.errors import DeviceRevoked, NotAllowed, NotReady, ValidationFailed
from outreach_app.services.device import Device
from outreach_app.services.sync import SyncReport, SyncService
from outreach_app.sync.transport import SyncApi
from shared.protocol import (
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    CaseErased,
    CaseStatus,
    EraseCase,
    RetentionPolicy,
    Role,
)

__all__ = ["CaseService", "CaseState"]

T = TypeVar("T")


@dataclass(frozen=True)
class CaseState:
    """Whether a person's case is closed, and when the server will erase it."""

    closed_at_ms: int | None
    retention_days: int
    erase_after_ms: int | None

    @property
    def closed(self) -> bool:
        return self.closed_at_ms is not None

    @classmethod
    def of(cls, status: CaseStatus) -> CaseState:
        return cls(status.closed_at_ms, status.retention_days, status.erase_after_ms)


class CaseService:
    def __init__(self, device: Device, sync: SyncService) -> None:
        self._device = device
        self._sync = sync

    def status(self, case_id: str) -> CaseState:
        """Whether the case is closed (coordinators and link workers; from the server)."""
        if self._device.require_identity().role is Role.PEER_MENTOR:
            raise NotAllowed("Peer mentors are not told whether a case is closed.")
        return CaseState.of(self._online(lambda api: api.case_status(case_id)))

    def close_case(self, case_id: str) -> CaseState:
        """Close the case: the organisation's retention period starts now."""
        self._require_coordinator()
        self._sync_or_raise("Closing a case")  # the server must hold the person first
        return CaseState.of(self._online(lambda api: api.close_case(case_id)))

    def reopen_case(self, case_id: str) -> CaseState:
        self._require_coordinator()
        return CaseState.of(self._online(lambda api: api.reopen_case(case_id)))

    def erase_case(self, case_id: str) -> CaseErased:
        """Erase the person's record on the server and, by the purge this sync brings, on this device."""
        self._require_coordinator()
        self._sync_or_raise("Erasing a record")
        # The records of who opened this person's record name them only inside their ciphertext:
        # this phone finds them and names them, so the server deletes them too.
        with self._device.store.read() as session:
            views = self._sync.case_views_about(session, case_id)
        request = EraseCase(case_view_records=views)
        erased = self._online(lambda api: api.erase_case(case_id, request))
        self._sync.sync_now()  # offline now: the purge comes with the next sync
        return erased

    def retention_days(self) -> int:
        self._require_coordinator()
        return self._online(lambda api: api.retention()).retention_days

    def set_retention_days(self, days: int) -> int:
        self._require_coordinator()
        if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
            raise ValidationFailed(
                {"retention_days": f"Keep closed cases between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days."}
            )
        policy = RetentionPolicy(retention_days=days)
        return self._online(lambda api: api.set_retention(policy)).retention_days

    # --- plumbing ------------------------------------------------------------------------------

    def _require_coordinator(self) -> None:
        if self._device.require_identity().role is not Role.COORDINATOR:
            raise NotAllowed("Only a coordinator can close, reopen or erase a person's record.")

    def _sync_or_raise(self, what: str) -> SyncReport:
        report = self._sync.sync_now()
        if report.offline:
            raise NotReady(f"{report.message} {what} needs a connection.")
        return report

    def _online(self, work: Callable[[SyncApi], T]) -> T:
        with self._device.net_lock:
            try:
                return work(self._device.api())
            except DeviceRevoked:
                self._device.erase_after_revocation()
                raise
