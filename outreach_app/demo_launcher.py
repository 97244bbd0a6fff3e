"""``make demo``: the sync server, a seeded demo organisation and the app in a browser, on this machine.

    python -m outreach_app.demo_launcher

1. starts the sync server (``python -m sync_server.cli serve``, environment ``development``, data in
   ``var/demo/server``) on 127.0.0.1:``OUTREACH_SERVER_PORT`` (8000) and waits for ``/healthz``;
2. the first time, creates the organisation "Demo Outreach" with ``outreach-server init-org`` and
   seeds it through the client's own services (``outreach_app.demo.seed``; a second run reuses it);
3. serves the app in web mode (``python -m outreach_app.main --web``) on
   127.0.0.1:``OUTREACH_APP_PORT`` (8550), app data in ``var/demo/app-data``;
4. prints both addresses and the demo sign-ins, then waits.

Ctrl-C (or SIGTERM) stops both. If either process stops by itself, the other is stopped too and
the launcher exits non-zero after printing the end of its log (``var/demo/server.log``,
``var/demo/app.log``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from outreach_app.errors import AppError

__all__ = ["DEMO_ORG_NAME", "main", "parse_invitation_code"]

DEMO_ORG_NAME = "Demo Outreach"
COORDINATOR_EMAIL = "coordinator@demo.test"
# A partner organisation on the same server, so that sharing with consent can be tried.
PARTNER_ORG_NAME = "Hope Street Probation"
PARTNER_EMAIL = "partner@demo.test"
HOST = "127.0.0.1"
DEFAULT_SERVER_PORT = 8000
DEFAULT_APP_PORT = 8550
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 30

_CODE_LINE = re.compile(r"^\s*Invitation code:\s*([A-Za-z0-9][A-Za-z0-9 -]*[A-Za-z0-9])\s*$", re.MULTILINE)


class LauncherError(Exception):
    """Something the person running the demo has to sort out; the message says what."""


class Stop(Exception):
    """Ctrl-C or SIGTERM arrived."""


def parse_invitation_code(output: str) -> str:
    """The code from ``outreach-server init-org``/``invite`` output (the ``Invitation code: ...`` line)."""
    match = _CODE_LINE.search(output)
    if match is None:
        raise LauncherError(f"`outreach-server init-org` printed no invitation code. It printed:\n{output.strip()}")
    return match.group(1).strip()


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise LauncherError(f"{name} must be a port number, not {raw!r}.") from None
    if not 1 <= port <= 65535:
        raise LauncherError(f"{name} must be between 1 and 65535, not {port}.")
    return port


def _check_port_free(port: int, what: str, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: connections lingering in TIME_WAIT from a previous run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise LauncherError(
                f"Port {port} on {HOST} is already in use, so the {what} cannot start there. "
                f"Is another demo or server still running? Stop it, or pick another port: "
                f"{variable}=<free port> make demo"
            ) from None


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in kept) if kept else "    (the log is empty)"


def _die_with_parent() -> None:
    """Runs in the child before exec (Linux): get SIGTERM if the launcher itself is killed."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(libc_name, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


@dataclass
class Child:
    """One process the launcher started: its name, log file and how to reach it."""

    name: str
    log_path: Path
    url: str
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, command: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C reaches only the launcher, which stops the children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def died_message(self) -> str:
        code = self.exit_code()
        if code is not None and code < 0:
            how = f"was stopped by {signal.Signals(-code).name}"
        else:
            how = f"stopped (exit code {code})"
        return f"The {self.name} {how}. The end of {self.log_path}:\n{_tail(self.log_path)}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - http://127.0.0.1 only
            return bool(200 <= reply.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _wait_until_answering(child: Child, url: str, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if child.exit_code() is not None:
            message = child.died_message()
            if "address already in use" in message.lower():
                message = f"The {child.name}'s port is already in use.\n{message}"
            raise LauncherError(message)
        if _answers(url):
            return
        if time.monotonic() > deadline:
            raise LauncherError(
                f"The {child.name} did not answer at {url} within {timeout:.0f} s. "
                f"The end of {child.log_path}:\n{_tail(child.log_path)}"
            )
        time.sleep(0.2)


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def server_data(self) -> Path:
        return self.root / "server"

    @property
    def app_data(self) -> Path:
        return self.root / "app-data"

    @property
    def server_log(self) -> Path:
        return self.root / "server.log"

    @property
    def app_log(self) -> Path:
        return self.root / "app.log"

    @property
    def init_log(self) -> Path:
        return self.root / "init-org.log"


def _server_env(paths: Paths, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OUTREACH_DATABASE_URL", None)  # the demo keeps its own SQLite database in var/demo/server
    env.update(
        {
            "OUTREACH_ENVIRONMENT": "development",
            "OUTREACH_DATA_DIR": str(paths.server_data),
            "OUTREACH_HOST": HOST,
            "OUTREACH_SERVER_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _app_env(paths: Paths, server_url: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FLET_APP_STORAGE_DATA", None)  # would win over OUTREACH_APP_DATA
    env.update(
        {
            "OUTREACH_ENVIRONMENT": "development",
            "OUTREACH_SERVER_URL": server_url,
            "OUTREACH_APP_DATA": str(paths.app_data),
            "OUTREACH_APP_PORT": str(port),
            "FLET_SERVER_PORT": str(port),  # ft.run reads it too; keep both the same
            "FLET_FORCE_WEB_SERVER": "1",  # never open a browser window from here
            "FLET_SERVER_IP": HOST,
            "FLET_WEB_NO_CDN": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _organisation_exists(server_data: Path, name: str = DEMO_ORG_NAME) -> bool:
    # Imported here: the phone build of the app never carries the server.
    from sqlmodel import Session

    from sync_server.settings import ServerSettings
    from sync_server.storage import organisations
    from sync_server.storage.database import make_engine

    url = ServerSettings(environment="development", data_dir=server_data, database_url=None).resolved_database_url()
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return organisations.get_organisation_by_name(session, name) is not None
    finally:
        engine.dispose()


def _init_org(
    paths: Paths, server_port: int, cwd: Path, name: str = DEMO_ORG_NAME, email: str = COORDINATOR_EMAIL
) -> str:
    """Run ``outreach-server init-org`` for a demo organisation; returns its coordinator's code."""
    command = [sys.executable, "-m", "sync_server.cli", "init-org", name, "--coordinator-email", email]
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        command,
        cwd=cwd,
        env=_server_env(paths, server_port),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with paths.init_log.open("a", encoding="utf-8") as log:
        # The code is a secret for the coordinator: it goes to the log, not to the terminal.
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip()
        raise LauncherError(f"`outreach-server init-org` failed (exit code {result.returncode}):\n{said}")
    return parse_invitation_code(result.stdout)


def _seed(paths: Paths, server_url: str, server_port: int, cwd: Path) -> None:
    from outreach_app import demo
    from outreach_app.errors import SignInFailed

    partner_code = None
    if not _organisation_exists(paths.server_data, PARTNER_ORG_NAME):
        print(f'Creating the partner organisation "{PARTNER_ORG_NAME}" (outreach-server init-org)...', flush=True)
        partner_code = _init_org(paths, server_port, cwd, PARTNER_ORG_NAME, PARTNER_EMAIL)
    if _organisation_exists(paths.server_data):
        print("The demo organisation exists; signing in to reuse it.", flush=True)
        try:
            demo.seed(server_url, paths.app_data, None, partner_code=partner_code)
            return
        except SignInFailed:
            # The organisation was made but its coordinator never registered (an earlier run
            # stopped half way): a fresh coordinator invitation finishes the job.
            print("The coordinator has no account yet; making a fresh invitation.", flush=True)
    else:
        print(f'Creating the organisation "{DEMO_ORG_NAME}" (outreach-server init-org)...', flush=True)
    code = _init_org(paths, server_port, cwd)
    demo.seed(server_url, paths.app_data, code, partner_code=partner_code)


def _banner(server_url: str, app_url: str, paths: Paths) -> str:
    from outreach_app.demo import DEMO_PASSWORD, DEMO_PIN

    return f"""
================================================================================
 Gatepost demo is running.

   App (open in a browser):  {app_url}
   Sync server:              {server_url}   (health: {server_url}/healthz)

 Sign in on the app's first screen (the server address is filled in):
   coordinator@demo.test   coordinator   (Priya Shah)
   worker@demo.test        link worker   (Sam Okoro, has most of the people)
   worker2@demo.test       link worker   (Aisha Khan)
   mentor@demo.test        peer mentor   (Danny Reeve)
   partner@demo.test       coordinator of Hope Street Probation, a partner
                           organisation (Dean Walsh consented to share his basic details)
   password: {DEMO_PASSWORD}     PIN: {DEMO_PIN} (the app asks you to choose a PIN; use {DEMO_PIN})

 The mentor is assigned to two of the people and sees their basic details and the
 notes mentors may see, nothing else. A coordinator assigns and unassigns mentors on
 a person's record. Sam and Aisha disagree about Marcus Bailey's release: the
 coordinator settles it on the Desk.

 Each browser (or private window) is its own phone. Data: {paths.root}
 Logs: {paths.server_log}, {paths.app_log}
 Stop with Ctrl-C.
================================================================================
""".rstrip()


def _install_signal_handlers() -> Callable[[], None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _ignore_further_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def run(root: Path, cwd: Path) -> int:
    paths = Paths(root)
    server_port = _port_from_env("OUTREACH_SERVER_PORT", DEFAULT_SERVER_PORT)
    app_port = _port_from_env("OUTREACH_APP_PORT", DEFAULT_APP_PORT)
    if server_port == app_port:
        raise LauncherError(f"OUTREACH_SERVER_PORT and OUTREACH_APP_PORT are both {server_port}; choose two ports.")
    _check_port_free(server_port, "sync server", "OUTREACH_SERVER_PORT")
    _check_port_free(app_port, "app", "OUTREACH_APP_PORT")
    for directory in (paths.server_data, paths.app_data):
        directory.mkdir(parents=True, exist_ok=True)

    server_url = f"http://{HOST}:{server_port}"
    app_url = f"http://{HOST}:{app_port}/"
    server = Child("sync server", paths.server_log, server_url)
    app = Child("app", paths.app_log, app_url)
    children = (app, server)  # stopped in this order
    try:
        print(f"Starting the sync server on {server_url} (log: {paths.server_log})...", flush=True)
        server.start(
            [sys.executable, "-m", "sync_server.cli", "serve", "--host", HOST, "--port", str(server_port)],
            _server_env(paths, server_port),
            cwd,
        )
        _wait_until_answering(server, f"{server_url}/healthz")

        try:
            _seed(paths, server_url, server_port, cwd)
        except AppError:
            if server.exit_code() is not None:  # the real cause
                raise LauncherError(server.died_message()) from None
            raise
        if server.exit_code() is not None:
            raise LauncherError(server.died_message())

        print(f"Starting the app on {app_url} (log: {paths.app_log})...", flush=True)
        app.start([sys.executable, "-m", "outreach_app.main", "--web"], _app_env(paths, server_url, app_port), cwd)
        _wait_until_answering(app, app_url)
        print(_banner(server_url, app_url, paths), flush=True)

        while True:
            for child in children:
                if child.exit_code() is not None:
                    other = server if child is app else app
                    print(f"\n{child.died_message()}\nStopping the {other.name}...", file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)
    except Stop:
        print("\nStopping the app and the sync server...", flush=True)
        return 0
    finally:
        _ignore_further_signals()  # a second Ctrl-C must not leave a child running
        for child in children:
            child.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m outreach_app.demo_launcher", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("var/demo"), help="where the demo keeps its data (default: var/demo)"
    )
    args = parser.parse_args(argv)
    root: Path = args.data_dir.resolve()
    restore = _install_signal_handlers()
    try:
        code = run(root, Path.cwd())
    except Stop:
        print("\nStopped.", flush=True)
        code = 0
    except LauncherError as error:
        print(f"\n{error}", file=sys.stderr, flush=True)
        code = 1
    except AppError as error:
        print(f"\nSeeding the demo failed: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        restore()
    if code == 0:
        print("Demo stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
