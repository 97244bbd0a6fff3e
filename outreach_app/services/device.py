"""``Device``: what the services of one device share — the store, the unlocked keys, the clock
and the connection to the server. Internal to ``outreach_app.services``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select

from outreach_app.errors import Locked, NotReady, SessionExpired
from outreach_app.services.keys import (
    KeyChain,
    decrypt_secret,
    encrypt_secret,
    open_grant,
    user_private_key_id,
)
from outreach_app.storage import LocalStore, StateKey, keyring
from outreach_app.storage.tables import (
    CaseChange,
    CaseSummary,
    DeviceState,
    KeyGrantRow,
    KeyringEntry,
    LocalVersion,
    PushRejection,
)
from outreach_app.sync.transport import SyncApi
from shared.clock import Hlc, HybridClock
from shared.crypto import JsonValue, ScryptParams
from shared.errors import CryptoError
from shared.protocol import Role, SessionGrant

__all__ = ["Device", "Identity"]

_ID_CHUNK = 500  # ids per IN query


@dataclass(frozen=True)
class Identity:
    """Who is signed in on this device (from ``device_state``)."""

    server_url: str
    user_id: str
    device_id: str
    org_id: str
    role: Role
    email: str
    display_name: str
    org_name: str

    @classmethod
    def from_state(cls, state: dict[str, str]) -> Identity | None:
        try:
            return cls(
                server_url=state[StateKey.SERVER_URL],
                user_id=state[StateKey.USER_ID],
                device_id=state[StateKey.DEVICE_ID],
                org_id=state[StateKey.ORG_ID],
                role=Role(state[StateKey.ROLE]),
                email=state[StateKey.EMAIL],
                display_name=state[StateKey.DISPLAY_NAME],
                org_name=state.get(StateKey.ORG_NAME, ""),
            )
        except KeyError:
            return None


class Device:
    def __init__(
        self,
        store: LocalStore,
        *,
        transport: httpx.BaseTransport | None,
        now_ms: Callable[[], int],
        scrypt_params: ScryptParams,
    ) -> None:
        self.store = store
        self.transport = transport
        self.now_ms = now_ms
        self.scrypt_params = scrypt_params
        self.keys: KeyChain | None = None
        self.plaintext_cache: dict[str, JsonValue] = {}
        # What screens worked out from the decrypted record (name -> (store generation, result)):
        # plaintext too, so it goes whenever the plaintext cache does.
        self.derived: dict[str, tuple[int, object]] = {}
        # One conversation with the server at a time (token refresh is not re-entrant).
        self.net_lock = threading.RLock()
        self._api: SyncApi | None = None
        # (store generation, key chain, how many keys) when no stored grant was left to open: while
        # the store has committed nothing and the keys are the same, the answer stays no.
        self._nothing_to_open: tuple[int, int, int] | None = None

    # --- identity and keys ---------------------------------------------------------------------

    def identity(self) -> Identity | None:
        return Identity.from_state(self.store.state())

    def require_identity(self) -> Identity:
        identity = self.identity()
        if identity is None:
            raise NotReady("Sign in first.")
        return identity

    def require_keys(self) -> KeyChain:
        if self.keys is None:
            if self.identity() is None:
                raise NotReady("Sign in first.")
            raise Locked()
        return self.keys

    def put_key(self, session: Session, key_id: str, material: bytes) -> None:
        """Keep a key in memory and, encrypted under the device key, in the keyring."""
        self.put_keys(session, {key_id: material})

    def put_keys(self, session: Session, materials: dict[str, bytes]) -> None:
        """``put_key`` for many keys, in one statement (``storage.keyring``)."""
        keys = self.require_keys()
        keys.keys.update(materials)
        entries = []
        for key_id in sorted(materials):
            nonce, ciphertext = encrypt_secret(keys.device_key, key_id, materials[key_id])
            entries.append((key_id, nonce, ciphertext))
        keyring.keep_entries(session, entries)

    def load_keyring(self, session: Session, device_key: bytes) -> KeyChain:
        """Decrypt every keyring entry; entries that do not open (an old device key) are dropped."""
        chain = KeyChain(device_key=device_key)
        for entry in session.exec(select(KeyringEntry)).all():
            try:
                chain.keys[entry.key_id] = decrypt_secret(device_key, entry.key_id, entry.nonce, entry.ciphertext)
            except CryptoError:
                session.delete(entry)
        return chain

    @staticmethod
    def wipe_keyring(session: Session) -> None:
        session.exec(delete(KeyringEntry))

    def has_grants_to_open(self) -> bool:
        """Whether a stored grant is for a key this device does not hold (a read, no write).

        Grants change only through the store's writes and keys only with them (or when the key
        chain is replaced), so a "no" is remembered until the store commits a write."""
        keys = self.require_keys()
        seen = (self.store.generation, id(keys), len(keys.keys))  # taken before the read
        if seen == self._nothing_to_open:
            return False
        with self.store.read() as session:
            key_ids = session.connection().execute(sa_select(col(KeyGrantRow.key_id)).distinct()).scalars()
            found = any(key_id not in keys.keys for key_id in key_ids)
        self._nothing_to_open = None if found else seen
        return found

    def open_grants(self, session: Session, identity: Identity) -> int:
        """Open every stored grant this device can open and has not opened; returns how many."""
        keys = self.require_keys()
        private_key = keys.keys.get(user_private_key_id(identity.user_id))
        # Only the ids are read for grants whose key is already held (most of them, on every sync).
        unopened = sorted(
            grant_id
            for grant_id, key_id in session.exec(select(KeyGrantRow.grant_id, KeyGrantRow.key_id)).all()
            if key_id not in keys.keys
        )
        grants: list[KeyGrantRow] = []
        for start in range(0, len(unopened), _ID_CHUNK):
            chunk = unopened[start : start + _ID_CHUNK]
            grants += session.exec(select(KeyGrantRow).where(col(KeyGrantRow.grant_id).in_(chunk))).all()
        opened: dict[str, bytes] = {}
        progress = True
        while progress and grants:
            progress = False
            waiting: list[KeyGrantRow] = []  # not openable yet: perhaps by a key opened in this pass
            for row in grants:
                if row.key_id in keys.keys:
                    continue
                try:
                    material = open_grant(
                        row.to_grant_in(), user_id=identity.user_id, private_key=private_key, keys=keys.keys
                    )
                except CryptoError:
                    continue  # addressed to us but does not open: leave it unopened
                if material is None:
                    waiting.append(row)
                    continue
                keys.keys[row.key_id] = material  # it may open the next grant in this pass
                opened[row.key_id] = material
                progress = True
            grants = waiting
        if opened:
            self.put_keys(session, opened)
        return len(opened)

    # --- secrets in device_state ---------------------------------------------------------------

    def save_refresh_token(self, session: Session, token: str | None) -> None:
        if token is None:
            LocalStore.put(session, {StateKey.REFRESH_TOKEN: None})
            return
        keys = self.require_keys()
        nonce, ciphertext = encrypt_secret(keys.device_key, StateKey.REFRESH_TOKEN.value, token.encode())
        LocalStore.put(session, {StateKey.REFRESH_TOKEN: f"{nonce}.{ciphertext}"})

    def load_refresh_token(self, state: dict[str, str], device_key: bytes) -> str | None:
        stored = state.get(StateKey.REFRESH_TOKEN)
        if not stored or "." not in stored:
            return None
        nonce, ciphertext = stored.split(".", 1)
        try:
            return decrypt_secret(device_key, StateKey.REFRESH_TOKEN.value, nonce, ciphertext).decode()
        except (CryptoError, UnicodeDecodeError):
            return None

    # --- the server ----------------------------------------------------------------------------

    def new_api(self, server_url: str, refresh_token: str | None = None) -> SyncApi:
        return SyncApi(server_url, transport=self.transport, refresh_token=refresh_token, on_session=self._on_session)

    def install_api(self, api: SyncApi | None) -> None:
        if self._api is not None and self._api is not api:
            self._api.close()
        self._api = api

    def api(self) -> SyncApi:
        """The connection for the signed-in, unlocked user; ``SessionExpired`` when there is no session."""
        keys = self.require_keys()
        if self._api is None:
            identity = self.require_identity()
            token = self.load_refresh_token(self.store.state(), keys.device_key)
            if token is None:
                raise SessionExpired()
            self._api = self.new_api(identity.server_url, token)
        if not self._api.has_session:
            raise SessionExpired()
        return self._api

    def _on_session(self, grant: SessionGrant) -> None:
        with self.store.write() as session:
            self.save_refresh_token(session, grant.refresh_token)

    # --- the clock -----------------------------------------------------------------------------

    def physical_ms(self, session: Session) -> int:
        offset = int(LocalStore.get(session, StateKey.CLOCK_OFFSET_MS) or 0)
        return self.now_ms() + offset

    def clock(self, session: Session) -> HybridClock:
        device_id = LocalStore.get(session, StateKey.DEVICE_ID)
        if device_id is None:
            raise NotReady("Sign in first.")
        return HybridClock(
            device_id,
            wall_ms=int(LocalStore.get(session, StateKey.HLC_WALL) or 0),
            counter=int(LocalStore.get(session, StateKey.HLC_COUNTER) or 0),
        )

    @staticmethod
    def save_clock(session: Session, clock: HybridClock) -> None:
        LocalStore.put(session, {StateKey.HLC_WALL: clock.wall_ms, StateKey.HLC_COUNTER: clock.counter})

    def stamp(self, session: Session) -> Hlc:
        """A new clock stamp for a local edit, persisted in the same transaction."""
        clock = self.clock(session)
        stamp = clock.now(self.physical_ms(session))
        self.save_clock(session, clock)
        return stamp

    def learn_server_time(self, session: Session, server_time_ms: int) -> None:
        """Remember how far this phone's clock is from the server's, so stamps follow the server."""
        LocalStore.put(session, {StateKey.CLOCK_OFFSET_MS: server_time_ms - self.now_ms()})

    @staticmethod
    def erase_data(session: Session) -> None:
        """Delete everything this device holds: records, outbox, keys, grants and who signed in."""
        for table in (LocalVersion, KeyGrantRow, PushRejection, KeyringEntry, DeviceState, CaseSummary, CaseChange):
            session.exec(delete(table))

    def erase_after_revocation(self) -> None:
        """The server says this device was signed out: erase it, as a lost phone should."""
        with self.store.write() as session:
            self.erase_data(session)
        self.store.reconcile_journal()  # the bulk delete bypasses the journal's bookkeeping
        self.forget_keys()

    def forget_plaintext(self) -> None:
        """Drop every decrypted value held in memory (a lock, a purge, keys taken away)."""
        self.plaintext_cache.clear()
        self.derived.clear()

    def forget_keys(self) -> None:
        self.keys = None
        self.forget_plaintext()
        self.install_api(None)
