"""Start the Gatepost app: on a phone or desktop, or in a browser with ``--web``.

This is the composition root: it opens this device's store, builds the state and mounts the
views. In web mode each browser is its own device (its slot id lives in the browser's shared
preferences), with its own local store and device registration.

    python -m outreach_app.main --web     # http://127.0.0.1:$OUTREACH_APP_PORT (default 8550)
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import uuid
from pathlib import Path

import flet as ft

from outreach_app.config import app_data_dir, default_server_url, lock_after_seconds
from outreach_app.services import Gatepost, device_store_path
from outreach_app.state import AppState
from outreach_app.views import mount
from shared.crypto import FAST_TEST_SCRYPT, ScryptParams

DEVICE_SLOT_KEY = "gatepost.device_slot"
THEME_KEY = "gatepost.theme"
DEFAULT_APP_PORT = 8550

# Tabs of one browser are one device: they share its open store.
_open_devices: dict[Path, Gatepost] = {}
_open_lock = threading.Lock()


def _scrypt_params() -> ScryptParams | None:
    """Real Scrypt cost, except in the test environment when the tests ask for speed."""
    if os.environ.get("OUTREACH_ENVIRONMENT") == "test" and os.environ.get("OUTREACH_FAST_KDF_FOR_TESTS") == "1":
        return FAST_TEST_SCRYPT
    return None


def _device(path: Path) -> Gatepost:
    with _open_lock:
        if path not in _open_devices:
            _open_devices[path] = Gatepost.open(path, scrypt_params=_scrypt_params())
        return _open_devices[path]


async def main(page: ft.Page) -> None:
    if page.web:
        preferences = ft.SharedPreferences()
        slot = await preferences.get(DEVICE_SLOT_KEY)
        if not slot:
            slot = f"browser-{uuid.uuid4().hex}"
            await preferences.set(DEVICE_SLOT_KEY, slot)
        # A short tail of the slot tells a worker's browsers apart in the Devices list.
        device_name = f"Web browser {str(slot)[-4:]}"
    else:
        slot = "this-device"
        device_name = f"{page.platform.value.capitalize()} device" if page.platform else "This device"
    gatepost = _device(device_store_path(app_data_dir(), str(slot)))
    state = AppState(
        gatepost,
        default_server_url=default_server_url(),
        device_name=device_name,
        lock_after_seconds=lock_after_seconds(),
    )
    preferences = ft.SharedPreferences()
    # Light or dark is a choice about this screen, not about anyone's record: Flet keeps it.
    theme = await preferences.get(THEME_KEY)
    state.theme = str(theme) if theme in ("dark", "light") else "system"

    def keep_theme(chosen: str) -> None:
        page.run_task(preferences.set, THEME_KEY, chosen)

    state.on_theme = keep_theme
    mount(page, state)
    await state.start()
    background = [page.run_task(state.auto_sync_forever), page.run_task(state.auto_lock_forever)]

    def stop_background(_: object) -> None:
        for task in background:
            task.cancel()

    page.on_close = stop_background
    page.on_disconnect = lambda _: state.screen_left()
    page.on_connect = lambda _: state.screen_returned()


def settle_memory() -> None:
    """Leave what the app loaded to start (modules, schemas, tables) out of the collector's full
    passes: a sync of thousands of notes set several off, each walking all of it again (about a
    third of the phone's time in a 10,000-note pull). Garbage is collected first, so none is kept."""
    gc.collect()
    gc.freeze()


def run(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settle_memory()
    if "--web" in args or os.environ.get("OUTREACH_APP_WEB") == "1":
        ft.run(
            main,
            view=ft.AppView.WEB_BROWSER,
            host=os.environ.get("FLET_SERVER_IP", "127.0.0.1"),
            port=int(os.environ.get("OUTREACH_APP_PORT", str(DEFAULT_APP_PORT))),
            no_cdn=True,
        )
    else:
        ft.run(main)


if __name__ == "__main__":
    run()
