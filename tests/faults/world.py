"""The fault campaign's world: one in-process server, teams of phones, and faults at the edges.

Faults enter only where the real world would put them:

- the **network** (``FaultyNetwork``, each phone's ``httpx`` transport): requests dropped before the
  server sees them, replies lost after the server committed, pushes delivered twice or held back
  and delivered later (reordered), and the phone dying while a request is in flight;
- the **process** (``CrashingClock``, the ``now_ms`` every ``Gatepost`` is given): the phone dies
  the N-th time it reads its clock, which lands inside local write transactions, between the
  push and the pull, between pull pages and in the middle of applying a reply. A crash is the
  ``DeviceCrashed`` exception (a ``BaseException``, so no ``except Exception`` can swallow it);
  the phone is then closed without finishing anything and reopened from its file.

Nothing inside ``outreach_app``, ``sync_server`` or ``shared`` is patched.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx
from sqlalchemy import text

from outreach_app.errors import SessionExpired
from outreach_app.services import Gatepost
from outreach_app.storage import StateKey
from shared.crypto import FAST_TEST_SCRYPT
from shared.protocol import ChangeStatus, PushResponse, Role
from tests.client.conftest import PASSWORD, PIN, SERVER_URL, InProcessServer
from tests.support.server import bootstrap_organisation, invite_member

__all__ = [
    "PULL_PAGE_LIMIT",
    "CampaignTime",
    "CrashingClock",
    "DeviceCrashed",
    "Fault",
    "FaultyNetwork",
    "Phone",
    "Team",
    "TeamPool",
]

PUSH = "/v1/sync/push"
PULL = "/v1/sync/pull"
REFRESH = "/v1/auth/refresh"
# Pulls are rewritten to small pages at the edge (as a proxy might), so crashes land between pages.
PULL_PAGE_LIMIT = 20
TEAM_SIZE = 8


class DeviceCrashed(BaseException):
    """The phone's process died here."""


class Fault(StrEnum):
    DROP_REQUEST = "drop the request before the server sees it"
    DROP_REPLY = "lose the reply after the server committed"
    DUPLICATE = "deliver the push twice"
    HOLD = "hold the push back and deliver it later"
    CRASH_BEFORE = "crash the phone while the request is being sent"
    CRASH_AFTER = "crash the phone after the server committed, before the reply"


@dataclass(frozen=True)
class Sent:
    """A request as it left the phone, kept to deliver (or replay) later."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    content: bytes

    @classmethod
    def of(cls, request: httpx.Request) -> Sent:
        return cls(request.method, str(request.url), tuple(request.headers.multi_items()), request.read())

    def request(self, authorization: str | None = None) -> httpx.Request:
        """The same request again; ``authorization`` replaces a bearer token that has since expired."""
        headers = httpx.Headers(list(self.headers))
        if authorization is not None:
            headers["Authorization"] = authorization
        return httpx.Request(self.method, self.url, headers=headers, content=self.content)


@dataclass
class FaultyNetwork:
    """One phone's connection to the server, with faults armed for its next matching request."""

    server: InProcessServer
    down: bool = False
    # [fault, path, requests to that path to let through first], in arming order
    armed: list[list[object]] = field(default_factory=list)
    held: list[Sent] = field(default_factory=list)
    # Every push the server answered, and whether it took every item (accepted or duplicate).
    pushes: list[tuple[Sent, bool]] = field(default_factory=list)
    fired: int = 0
    authorization: str | None = None  # the bearer token of the phone's latest authorised request

    def arm(self, fault: Fault, path: str, after: int = 0) -> None:
        """``fault`` strikes the next request to ``path`` once ``after`` of them have gone through."""
        self.armed.append([fault, path, after])

    def heal(self) -> None:
        self.down = False
        self.armed.clear()

    def _take(self, path: str) -> Fault | None:
        for index, (fault, target, after) in enumerate(self.armed):
            if target != path:
                continue
            if isinstance(after, int) and after > 0:
                self.armed[index][2] = after - 1
                return None
            del self.armed[index]
            self.fired += 1
            assert isinstance(fault, Fault)
            return fault
        return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == PULL:
            request = httpx.Request(
                request.method,
                request.url.copy_merge_params({"limit": PULL_PAGE_LIMIT}),
                headers=request.headers,
            )
        if self.down:
            raise httpx.ConnectError("server unreachable", request=request)
        self.authorization = request.headers.get("Authorization", self.authorization)
        fault = self._take(path)
        if fault is Fault.DROP_REQUEST:
            raise httpx.ConnectError("dropped before the server", request=request)
        if fault is Fault.CRASH_BEFORE:
            raise DeviceCrashed(f"crashed sending {path}")
        if fault is Fault.HOLD:
            self.held.append(Sent.of(request))
            raise httpx.ReadTimeout("no reply yet", request=request)
        response = self.server.send(request)
        if path == PUSH:
            self.pushes.append((Sent.of(request), _took_everything(response)))
        if fault is Fault.DUPLICATE:
            response = self.server.send(request)
        if fault is Fault.DROP_REPLY:
            raise httpx.ReadError("reply lost after the server committed", request=request)
        if fault is Fault.CRASH_AFTER:
            raise DeviceCrashed(f"crashed after the server handled {path}")
        return response

    def deliver_held(self) -> int:
        """The oldest held request finally reaches the server (its reply goes nowhere)."""
        if not self.held:
            return 0
        self.server.send(self.held.pop(0).request())
        return 1

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def _took_everything(response: httpx.Response) -> bool:
    if response.status_code != httpx.codes.OK:
        return False
    answer = PushResponse.model_validate_json(response.content)
    statuses = {r.status for r in answer.results} | {r.status for r in answer.grant_results}
    return ChangeStatus.REJECTED not in statuses


# The campaign's time starts here (2026-12-01 09:00 UTC), whenever it runs.
CAMPAIGN_START_MS = 1_796_115_600_000


@dataclass
class CampaignTime:
    """The time everyone's clock follows: it moves 1 ms at each reading (so ids and stamps made one
    after another stay in order) and by minutes when a schedule says time passes, never with the
    real clock. A schedule that failed once fails the same way when replayed: nothing in it waits
    on how fast this machine ran it (a token expiring, a stamp becoming acceptable)."""

    ms: int = CAMPAIGN_START_MS

    def __call__(self) -> int:
        self.ms += 1
        return self.ms


@dataclass
class CrashingClock:
    """The phone's wall clock: the server's time plus ``ahead_ms`` (a phone set wrong); armed with
    ``crash_after=N``, the N-th next reading kills the phone."""

    server: InProcessServer
    ahead_ms: int = 0
    crash_after: int | None = None
    fired: int = 0

    def __call__(self) -> int:
        if self.crash_after is not None:
            self.crash_after -= 1
            if self.crash_after <= 0:
                self.crash_after = None
                self.fired += 1
                raise DeviceCrashed("crashed reading the clock")
        return self.server.now_ms() + self.ahead_ms


@dataclass
class Phone:
    """A team member's phone. ``app`` is replaced each time the phone is reopened after a crash."""

    slot: str
    email: str
    display_name: str
    path: Path
    network: FaultyNetwork
    clock: CrashingClock
    app: Gatepost
    max_cursor: int = 0
    cursor_regressions: int = 0
    sign_ins: int = 0

    def reopen(self) -> None:
        """The phone restarts after a crash: nothing in memory survives, the PIN unlocks it again."""
        try:
            self.app.close()
        finally:
            self.clock.crash_after = None
            self.app = Gatepost.open(
                self.path, transport=self.network.transport, now_ms=self.clock, scrypt_params=FAST_TEST_SCRYPT
            )
        self.app.account.unlock(PIN)

    def cursor(self) -> int:
        """The pull cursor as stored on disk (``device_state``)."""
        with sqlite3.connect(self.path) as db:
            row = db.execute("SELECT value FROM device_state WHERE key = ?", (StateKey.PULL_CURSOR.value,)).fetchone()
        return int(row[0]) if row else 0

    def note_cursor(self) -> None:
        cursor = self.cursor()
        if cursor < self.max_cursor:
            self.cursor_regressions += 1
        self.max_cursor = max(self.max_cursor, cursor)

    def sign_in_again(self) -> None:
        """What the worker does when the app asks for the password: the outbox stays."""
        self.app.account.sign_in(SERVER_URL, self.email, PASSWORD, f"{self.display_name}'s phone")
        self.sign_ins += 1

    def sync_until_done(self) -> None:
        """Sync with a healed network; a session lost to an earlier fault is restored by signing in."""
        try:
            report = self.app.sync.sync_now()
        except SessionExpired:
            self.sign_in_again()
            report = self.app.sync.sync_now()
        assert not report.offline, f"{self.slot} is offline on a healed network: {report.message}"
        self.note_cursor()

    def change_ids(self) -> set[str]:
        with sqlite3.connect(self.path) as db:
            return {str(row[0]) for row in db.execute("SELECT change_id FROM local_version")}


@dataclass
class Team:
    """An organisation with a coordinator and seven link workers, all holding the organisation key."""

    org_id: str
    phones: list[Phone]
    schedules_run: int = 0
    dirty: bool = False

    def server_change_ids(self, server: InProcessServer) -> set[str]:
        with server.app.state.engine.connect() as connection:
            rows = connection.execute(text("SELECT change_id FROM version WHERE org_id = :org"), {"org": self.org_id})
            return {str(row[0]) for row in rows}

    def server_notes(self, server: InProcessServer) -> dict[str, int]:
        """record_id -> how many versions the server holds for each contact record."""
        with server.app.state.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT record_id, count(*) FROM version"
                    " WHERE org_id = :org AND kind = 'contact' GROUP BY record_id"
                ),
                {"org": self.org_id},
            )
            return {str(row[0]): int(row[1]) for row in rows}

    def close(self) -> None:
        for phone in self.phones:
            phone.app.close()


class TeamPool:
    """One server for a whole campaign; a fresh team (organisation) every ``reuse`` schedules.

    A team is reused only after a schedule that healed and converged; a failing schedule retires it.
    """

    def __init__(self, root: Path, reuse: int = 10) -> None:
        self.root = root
        self.reuse = reuse
        self.time = CampaignTime()
        self.server = InProcessServer(root / "server", base_clock=self.time)
        self.team: Team | None = None
        self.teams_made = 0
        self.fresh_teams = reuse <= 1
        self.setup_seconds = 0.0

    def take(self) -> Team:
        team = self.team
        if team is not None and team.dirty:
            # The last schedule failed, and Hypothesis now replays and shrinks it: from here on every
            # schedule starts from a new team, so the shortest one it prints replays from a new team
            # (a failure that needed an earlier schedule's leftovers is then reported as flaky).
            self.fresh_teams = True
        if team is None or self.fresh_teams or team.schedules_run >= self.reuse:
            if team is not None:
                team.close()
            started = time.perf_counter()
            team = self.team = self._new_team()
            self.setup_seconds += time.perf_counter() - started
        team.schedules_run += 1
        team.dirty = True  # until the schedule proves it converged
        return team

    def _new_team(self) -> Team:
        self.teams_made += 1
        number = self.teams_made
        org_id, invitation = bootstrap_organisation(self.server.app)
        phones: list[Phone] = []
        for index in range(TEAM_SIZE):
            role = Role.COORDINATOR if index == 0 else Role.LINK_WORKER
            email = f"member{index}@team{number}.test"
            name = "Coordinator" if index == 0 else f"Worker {index}"
            code = invitation.code if index == 0 else invite_member(self.server.app, org_id, role, email).code
            network = FaultyNetwork(self.server)
            clock = CrashingClock(self.server)
            path = self.root / f"team{number}" / f"phone{index}" / "gatepost.sqlite"
            app = Gatepost.open(path, transport=network.transport, now_ms=clock, scrypt_params=FAST_TEST_SCRYPT)
            app.account.register(SERVER_URL, code, email, PASSWORD, name, f"{name}'s phone")
            app.account.set_pin(PIN)
            phones.append(Phone(f"phone{index}", email, name, path, network, clock, app))
        for phone in phones[1:]:
            phone.app.sync.sync_now()  # each worker is now waiting for the organisation key
        phones[0].app.sync.sync_now()  # the coordinator seals it to them all
        for name in ("Dean Walsh", "Kez Okafor"):  # a caseload everyone holds, so work starts at once
            phones[0].app.records.add_person({"name": name, "release_at": "2026-12-04"})
        phones[0].app.sync.sync_now()
        for phone in phones:
            phone.app.sync.sync_now()
            assert phone.app.account.profile().has_organisation_key
            phone.note_cursor()
        return Team(org_id, phones)

    def time_passes(self, ms: int) -> None:
        """Everyone's clock moves on (the server's, so every phone's too)."""
        self.server.clock_offset_ms += ms

    def close(self) -> None:
        if self.team is not None:
            self.team.close()
        self.server.close()
