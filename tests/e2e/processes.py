"""Real processes for the browser tests: the sync server (uvicorn, via ``outreach-server serve``),
its admin CLI (``init-org``), a team made through the client's own services, and the Flet app in
web mode. Logs go to ``test-artifacts/e2e-logs/``; a process that fails to start shows its log.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from outreach_app.services import Gatepost, device_store_path
from shared.crypto import FAST_TEST_SCRYPT
from shared.protocol import Role
from tests.support.server import TEST_SERVER_SECRET

__all__ = [
    "ARTIFACTS",
    "COORDINATOR",
    "LOGS",
    "PASSWORD",
    "PIN",
    "WORKER",
    "AppProcess",
    "ServerProcess",
    "Team",
    "TeamMember",
    "free_port",
    "join_team",
    "make_team",
    "tail_of_log",
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LOGS = ARTIFACTS / "e2e-logs"
PASSWORD = "e2e-password-2468"
PIN = "2580"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TeamMember:
    email: str
    display_name: str
    role: Role


WORKER = TeamMember("worker@e2e.test", "Jess Linklater", Role.LINK_WORKER)
COORDINATOR = TeamMember("coordinator@e2e.test", "Cora Mensah", Role.COORDINATOR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail_of_log(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class _Process:
    """A child process with a log file, started and stopped by the tests."""

    name = "process"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, command: list[str], env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )

    def _wait_for(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"The {self.name} exited (code {self.process.returncode}) before answering {url}. "
                    f"End of {self.log_path}:\n{tail_of_log(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"The {self.name} did not answer {url} within {START_TIMEOUT_S:.0f} s. "
                    f"End of {self.log_path}:\n{tail_of_log(self.log_path)}"
                )
            time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class ServerProcess(_Process):
    """``python -m sync_server.cli serve`` on a free port, SQLite in ``data_dir``, environment test.

    ``stop()`` then ``start()`` brings it back on the same port with the same data.
    """

    name = "sync server"

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        super().__init__(log_path)
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("OUTREACH_DATABASE_URL", None)
        env.update(
            {
                "OUTREACH_ENVIRONMENT": "test",
                "OUTREACH_SERVER_SECRET": TEST_SERVER_SECRET,
                "OUTREACH_DATA_DIR": str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def command(self) -> list[str]:
        """``outreach-server serve`` on this server's port."""
        return [sys.executable, "-m", "sync_server.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self) -> ServerProcess:
        self._spawn(self.command(), self.env())
        self._wait_for(f"{self.url}/healthz")
        return self

    def _admin(self, *arguments: str) -> str:
        """Run the server's admin CLI against this server's database; returns the printed code."""
        result = subprocess.run(
            [sys.executable, "-m", "sync_server.cli", *arguments],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"outreach-server {arguments[0]} failed:\n{result.stdout}\n{result.stderr}"
        match = re.search(r"^Invitation code:\s*(\S+)\s*$", result.stdout, re.MULTILINE)
        assert match, f"outreach-server {arguments[0]} printed no invitation code:\n{result.stdout}"
        return match.group(1)

    def init_org(self, name: str, coordinator_email: str) -> str:
        """``outreach-server init-org NAME --coordinator-email EMAIL``: the coordinator's code."""
        return self._admin("init-org", name, "--coordinator-email", coordinator_email)

    def invite(self, org_name: str, role: Role, email: str) -> str:
        """``outreach-server invite --org NAME --role ROLE --email EMAIL``: the invitation code."""
        return self._admin("invite", "--org", org_name, "--role", role.value, "--email", email)


@dataclass(frozen=True)
class Team:
    server: ServerProcess
    org_name: str
    devices_dir: Path

    def coordinator_device(self) -> Gatepost:
        """The harness's own phone for the coordinator (already signed in and unlocked)."""
        device = Gatepost.open(device_store_path(self.devices_dir, "coordinator"), scrypt_params=FAST_TEST_SCRYPT)
        device.account.unlock(PIN)
        return device


def make_team(
    server: ServerProcess,
    org_name: str,
    devices_dir: Path,
    *,
    coordinator_member: TeamMember = COORDINATOR,
    worker_member: TeamMember | None = WORKER,
) -> Team:
    """An organisation (made with the CLI) with a coordinator and (unless ``worker_member`` is None)
    a link worker, each registered from a phone of the harness's through the client services (fast
    Scrypt), and the worker given the organisation key by the coordinator's phone, as a real team
    would do it. Emails are unique per server: a second team on one server needs other members."""
    code = server.init_org(org_name, coordinator_member.email)
    coordinator = Gatepost.open(device_store_path(devices_dir, "coordinator"), scrypt_params=FAST_TEST_SCRYPT)
    try:
        coordinator.account.register(
            server.url, code, coordinator_member.email, PASSWORD, coordinator_member.display_name, "Coordinator's phone"
        )
        coordinator.account.set_pin(PIN)
        assert not coordinator.sync.sync_now().offline
        if worker_member is not None:
            _add_worker(server, coordinator, worker_member, devices_dir)
    finally:
        coordinator.close()
    return Team(server=server, org_name=org_name, devices_dir=devices_dir)


def _add_worker(server: ServerProcess, coordinator: Gatepost, member: TeamMember, devices_dir: Path) -> None:
    worker = Gatepost.open(device_store_path(devices_dir, "worker"), scrypt_params=FAST_TEST_SCRYPT)
    try:
        invitation = coordinator.account.create_invitation(member.role, member.email)
        worker.account.register(server.url, invitation.code, member.email, PASSWORD, member.display_name, "Old phone")
        worker.account.set_pin(PIN)
        assert not worker.sync.sync_now().offline
        assert not coordinator.sync.sync_now().offline  # seals the organisation key to the worker
        assert not worker.sync.sync_now().offline
        assert worker.account.profile().has_organisation_key, "the worker did not receive the organisation key"
    finally:
        worker.close()


def join_team(team: Team, member: TeamMember, devices_dir: Path, device_name: str) -> None:
    """A member who has used Gatepost before: invited with the admin CLI and registered from a phone
    of the harness's, which has synced once. Each test gives its own unique email."""
    phone = Gatepost.open(device_store_path(devices_dir, "member-phone"), scrypt_params=FAST_TEST_SCRYPT)
    try:
        code = team.server.invite(team.org_name, member.role, member.email)
        phone.account.register(team.server.url, code, member.email, PASSWORD, member.display_name, device_name)
        phone.account.set_pin(PIN)
        assert not phone.sync.sync_now().offline
    finally:
        phone.close()


class AppProcess(_Process):
    """``python -m outreach_app.main --web`` on a free port (each browser context is a new phone)."""

    name = "app"

    def __init__(
        self, data_dir: Path, server_url: str, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        super().__init__(log_path)
        self.data_dir = data_dir
        self.server_url = server_url
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"

    def start(self) -> AppProcess:
        env = dict(os.environ)
        env.pop("FLET_APP_STORAGE_DATA", None)
        env.update(
            {
                "OUTREACH_ENVIRONMENT": "test",
                "OUTREACH_FAST_KDF_FOR_TESTS": "1",
                "OUTREACH_SERVER_URL": self.server_url,
                "OUTREACH_APP_DATA": str(self.data_dir),
                "OUTREACH_APP_PORT": str(self.port),
                "FLET_SERVER_PORT": str(self.port),
                "FLET_FORCE_WEB_SERVER": "1",  # never open a browser window
                "FLET_SERVER_IP": "127.0.0.1",
                "FLET_WEB_NO_CDN": "1",
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
            }
        )
        self._spawn([sys.executable, "-m", "outreach_app.main", "--web"], env)
        self._wait_for(self.url)
        return self
