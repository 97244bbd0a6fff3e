"""``DraftService``: the half-filled form, kept on the phone so that closing the app (or the phone
switching it off) in the middle of a form loses nothing.

One draft at a time: which form, for which person, and what was typed. It is encrypted under the
device key (as the refresh token is), so it is readable only while the app is unlocked and it goes
with the device key: a phone whose key was destroyed by wrong PINs cannot read an old draft.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from outreach_app.services.device import Device
from outreach_app.services.keys import decrypt_secret, encrypt_secret
from outreach_app.storage import LocalStore, StateKey
from shared.errors import CryptoError

__all__ = ["Draft", "DraftService"]

_CONTEXT = StateKey.DRAFT.value


@dataclass(frozen=True)
class Draft:
    form: str  # the screen's name
    case_id: str | None
    fields: Mapping[str, str]


class DraftService:
    def __init__(self, device: Device) -> None:
        self._device = device

    def keep(self, form: str, case_id: str | None, fields: Mapping[str, str]) -> None:
        """Replace the kept draft (nothing typed yet: forget it)."""
        if not any(value.strip() for value in fields.values()):
            self.discard()
            return
        keys = self._device.require_keys()
        plain = json.dumps({"form": form, "case_id": case_id, "fields": dict(fields)}, sort_keys=True).encode()
        nonce, ciphertext = encrypt_secret(keys.device_key, _CONTEXT, plain)
        with self._device.store.write() as session:
            LocalStore.put(session, {StateKey.DRAFT: f"{nonce}.{ciphertext}"})

    def restore(self) -> Draft | None:
        """The kept draft, if this unlocked phone can read it."""
        stored = self._device.store.state().get(StateKey.DRAFT)
        keys = self._device.keys
        if not stored or "." not in stored or keys is None:
            return None
        nonce, ciphertext = stored.split(".", 1)
        try:
            value = json.loads(decrypt_secret(keys.device_key, _CONTEXT, nonce, ciphertext))
            fields = {str(name): str(text) for name, text in dict(value["fields"]).items()}
            case_id = value.get("case_id")
            return Draft(str(value["form"]), str(case_id) if case_id else None, fields)
        except (CryptoError, ValueError, KeyError, TypeError):
            return None  # written under an earlier device key: nothing to bring back

    def discard(self) -> None:
        with self._device.store.write() as session:
            LocalStore.put(session, {StateKey.DRAFT: None})
