"""The client's services: plain, synchronous Python (the state layer calls them through
``asyncio.to_thread``). Nothing here imports flet.

``Gatepost`` is the façade, one per device::

    app = Gatepost.open(device_store_path(app_data_dir(), "phone"))
    app.account.sign_in(url, email, password, "Work phone")
    app.account.set_pin("2468")
    case_id = app.records.add_person({"name": "Dean Walsh", "release_at": "2026-12-04T09:30"})
    app.sync.sync_now()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from outreach_app.services.account import (
    AccountService,
    AccountStatus,
    AuditEvent,
    Profile,
    RegisteredDevice,
    store_rebuilt_message,
)
from outreach_app.services.cases import CaseService, CaseState
from outreach_app.services.casework import (
    Accommodation,
    CaseworkService,
    ConsentReview,
    Employment,
    GateOutcome,
    Handover,
    HandoverEvent,
    NeedHistory,
    NeedRating,
    NotSeen,
    PlanAction,
    Referral,
    ReleasePlan,
    Today,
    TodayFollowUp,
    TodayRelease,
)
from outreach_app.services.conflicts import ConflictService, ConflictValue, OpenConflict
from outreach_app.services.dashboard import (
    Dashboard,
    DashboardFilters,
    DashboardService,
    WorkerCaseload,
)
from outreach_app.services.device import Device
from outreach_app.services.directory import DirectoryEntry, DirectoryService
from outreach_app.services.drafts import Draft, DraftService
from outreach_app.services.export import ExportService, SubjectAccessFile
from outreach_app.services.mentors import Mentors, MentorService
from outreach_app.services.records import (
    Author,
    CaseloadService,
    ConflictView,
    ContactEntry,
    FieldValue,
    FieldView,
    FollowUp,
    PersonRecord,
    PersonSummary,
    UnreadableEntry,
)
from outreach_app.services.reports import ReportFile, ReportService
from outreach_app.services.sharing import CaseSharing, ConsentEntry, SharingService, describe_share
from outreach_app.services.sync import NotAccepted, SyncReport, SyncService, SyncStatus
from outreach_app.services.team import AssignedPerson, Team, TeamInvitation, TeamMemberView, TeamService, how_to_join
from outreach_app.storage import LocalStore, StoreRebuilt
from shared.crypto import ScryptParams

__all__ = [
    "STORE_FILE_NAME",
    "Accommodation",
    "AccountService",
    "AccountStatus",
    "AssignedPerson",
    "AuditEvent",
    "Author",
    "CaseService",
    "CaseSharing",
    "CaseState",
    "CaseloadService",
    "CaseworkService",
    "ConflictService",
    "ConflictValue",
    "ConflictView",
    "ConsentEntry",
    "ConsentReview",
    "ContactEntry",
    "Dashboard",
    "DashboardFilters",
    "DashboardService",
    "DirectoryEntry",
    "DirectoryService",
    "Draft",
    "DraftService",
    "Employment",
    "ExportService",
    "FieldValue",
    "FieldView",
    "FollowUp",
    "GateOutcome",
    "Gatepost",
    "Handover",
    "HandoverEvent",
    "MentorService",
    "Mentors",
    "NeedHistory",
    "NeedRating",
    "NotAccepted",
    "NotSeen",
    "OpenConflict",
    "PersonRecord",
    "PersonSummary",
    "PlanAction",
    "Profile",
    "Referral",
    "RegisteredDevice",
    "ReleasePlan",
    "ReportFile",
    "ReportService",
    "SharingService",
    "StoreRebuilt",
    "SubjectAccessFile",
    "SyncReport",
    "SyncService",
    "SyncStatus",
    "Team",
    "TeamInvitation",
    "TeamMemberView",
    "TeamService",
    "Today",
    "TodayFollowUp",
    "TodayRelease",
    "UnreadableEntry",
    "WorkerCaseload",
    "describe_share",
    "device_store_path",
    "how_to_join",
    "store_rebuilt_message",
    "system_now_ms",
]

STORE_FILE_NAME = "gatepost.sqlite"


def system_now_ms() -> int:
    return time.time_ns() // 1_000_000


def device_store_path(app_data_dir: Path, device_slot: str) -> Path:
    """Where one device's database lives: ``<app data>/devices/<slot>/gatepost.sqlite``.

    In web mode each browser is its own device with its own slot (letters, digits, ``-`` and ``_``).
    """
    slot = device_slot.strip()
    if not slot or not all(ch.isalnum() or ch in "-_" for ch in slot) or slot.startswith("-"):
        raise ValueError("a device slot is letters, digits, '-' and '_'")
    return Path(app_data_dir) / "devices" / slot / STORE_FILE_NAME


class Gatepost:
    """One device: its store, its keys while unlocked, and its connection to the server."""

    def __init__(self, device: Device) -> None:
        self._device = device
        self.account = AccountService(device)
        self.records = CaseloadService(device)
        self.casework = CaseworkService(device)
        self.directory = DirectoryService(device)
        self.conflicts = ConflictService(device, self.records, self.casework, self.directory)
        self.sync = SyncService(device)
        self.exports = ExportService(device, self.records)
        self.sharing = SharingService(device, self.sync)
        self.mentors = MentorService(device, self.sync, self.sharing)
        self.cases = CaseService(device, self.sync)
        self.drafts = DraftService(device)
        self.reports = ReportService(device)
        self.team = TeamService(device, self.account, self.reports, self.mentors, self.sync)
        self.dashboard = DashboardService(device)

    @classmethod
    def open(
        cls,
        data_path: Path,
        *,
        transport: httpx.BaseTransport | None = None,
        now_ms: Callable[[], int] = system_now_ms,
        scrypt_params: ScryptParams | None = None,
    ) -> Gatepost:
        """Open the device whose database is ``data_path`` (a directory means ``<dir>/gatepost.sqlite``).

        ``transport`` replaces the network (tests); ``scrypt_params`` are used for new passwords
        and PINs (default ``ScryptParams()``; tests pass ``FAST_TEST_SCRYPT``).
        """
        path = Path(data_path)
        if path.is_dir():
            path = path / STORE_FILE_NAME
        store = LocalStore.open(path)
        device = Device(store, transport=transport, now_ms=now_ms, scrypt_params=scrypt_params or ScryptParams())
        return cls(device)

    @property
    def store_path(self) -> Path:
        return self._device.store.path

    def close(self) -> None:
        """Forget the keys in memory and close the database."""
        self._device.forget_keys()
        self._device.store.close()

    def __enter__(self) -> Gatepost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
