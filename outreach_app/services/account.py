"""``AccountService``: registering, signing in, the device PIN, locking and invitations.

The password never leaves the device: Scrypt turns it into a master key, HKDF splits that into the
auth key (sent at sign-in) and the wrap key (opens the user's private key, which the server keeps
wrapped). A random device key protects everything the device stores; it is wrapped under a key
derived from the PIN, so unlocking works offline. Five wrong PINs destroy the wrapped device key and
the keyring; unsent versions survive (they are under case keys) and a password sign-in restores
the keys from the grants the device and the server keep.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from sqlmodel import Session, func, select

from outreach_app.errors import (
    AppError,
    DeviceInUse,
    DeviceKeyDestroyed,
    DeviceRevoked,
    InsecureServer,
    NotReady,
    ServerRejected,
    SignInFailed,
    ValidationFailed,
    WrongPin,
)
from outreach_app.ids import uuid7
from outreach_app.services.device import Device, Identity
from outreach_app.services.keys import (
    DEVICE_KEY_CONTEXT,
    USER_PRIVATE_KEY_CONTEXT,
    KeyChain,
    org_private_key_context,
    seal_key_to_user,
    user_private_key_id,
)
from outreach_app.services.versions import restamp_pending
from outreach_app.storage import LocalStore, StateKey, StoreRebuilt
from outreach_app.storage.tables import KeyringEntry, LocalVersion
from outreach_app.sync.transport import SyncApi, is_allowed_server_url
from shared.crypto import (
    AccountKeys,
    KeyPair,
    ScryptParams,
    account_keys,
    b64decode,
    b64encode,
    derive_master_key,
    derive_pin_key,
    generate_key_pair,
    random_key,
    random_salt,
    unwrap_key,
    wrap_key,
    wrapped_key_kdf,
)
from shared.errors import CryptoError
from shared.protocol import (
    AuditEntry,
    DeviceInfo,
    Invitation,
    InvitationRequest,
    KdfParams,
    LoginRequest,
    OrganisationKeySetup,
    PasswordResetRequest,
    RegisterRequest,
    Role,
    SessionGrant,
    org_key_id,
    org_private_key_id,
)

__all__ = [
    "MAX_PIN_ATTEMPTS",
    "AccountService",
    "AccountStatus",
    "Profile",
    "ensure_organisation_key",
    "store_rebuilt_message",
]

MAX_PIN_ATTEMPTS = 5
MIN_PASSWORD_LENGTH = 8
_PIN = re.compile(r"^[0-9]{4,8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


T = TypeVar("T")


class AccountStatus(StrEnum):
    SIGNED_OUT = "signed_out"  # no usable account on this device: sign in with the password
    NEEDS_PIN = "needs_pin"  # signed in, keys in memory, no PIN chosen yet
    LOCKED = "locked"  # enter the PIN
    UNLOCKED = "unlocked"


@dataclass(frozen=True)
class Profile:
    user_id: str
    email: str
    display_name: str
    role: Role
    org_id: str
    org_name: str
    device_id: str
    server_url: str
    # False until a coordinator's device has granted this user the organisation key.
    has_organisation_key: bool


_AUDIT_WORDS = {
    "organisation_created": "The organisation was created",
    "registered": "{actor} joined on {device}",
    "signed_in": "{actor} signed in on {device}",
    "sign_in_failed": "A sign-in as {actor} failed (wrong password)",
    "session_reused": "A used session of {actor} on {device} was presented again, so it was ended",
    "organisation_key_set_up": "{actor} set up the organisation key",
    "invitation_created": "{actor} invited a new {role}",
    "invitation_cancelled": "{actor} cancelled an invitation for a {role}",
    "pushed": "{actor} sent {what} from {device}",
    "pulled": "{actor} received {what} on {device}",
    "device_signed_out": "{actor} signed out {target}",
    "shared": "{actor} shared a person's record with another organisation",
    "share_withdrawn": "{actor} withdrew the sharing of a person's record",
    "share_renewed": "{actor} renewed the sharing of a person's record (new review date)",
    "share_keys_rotated": "{actor} gave a person new keys after a share ended",
    "partner_pulled": "{actor} of a partner organisation received {what} you share",
    "mentor_assigned": "{actor} assigned a peer mentor to a person",
    "mentor_unassigned": "{actor} unassigned a peer mentor from a person",
    "member_removed": "{actor} removed a {role} from the organisation and signed out {devices}",
    "case_purged": "{actor}'s {device} was told to delete a person's record",
    "case_closed": "{actor} closed a person's case",
    "case_reopened": "{actor} reopened a person's case",
    "case_erased": "{actor} erased a person's record ({what} deleted from the server)",
    "retention_changed": "{actor} changed how long closed cases are kept to {days} days",
    "case_views_aged_out": "{actor} deleted {case_views} records of who opened a record, past the retention period",
}


def _counted(count: object, one: str, many: str) -> str | None:
    if not isinstance(count, int) or count <= 0:
        return None
    return f"{count} {one if count == 1 else many}"


def _what(details: dict[str, int | str]) -> str:
    """ "3 changes and 1 key", "2 changes already on the server", "nothing new"."""
    parts = [
        _counted(details.get("accepted", details.get("versions")), "change", "changes"),
        _counted(details.get("key_grants"), "key", "keys"),
        _counted(details.get("case_views"), "record of who opened it", "records of who opened it"),
    ]
    said = " and ".join(part for part in parts if part)
    repeated = _counted(details.get("duplicate"), "change", "changes")
    refused = _counted(details.get("rejected"), "change", "changes")
    extras = [f"{repeated} already on the server" if repeated else None, f"{refused} refused" if refused else None]
    extras_said = ", ".join(extra for extra in extras if extra)
    if said and extras_said:
        return f"{said} ({extras_said})"
    return said or extras_said or "nothing new"


@dataclass(frozen=True)
class AuditEvent:
    """One audited event of the organisation, in words a coordinator reads."""

    position: int
    at_ms: int
    action: str
    text: str

    @classmethod
    def from_entry(cls, entry: AuditEntry) -> AuditEvent:
        words = _AUDIT_WORDS.get(entry.action, entry.action.replace("_", " ").capitalize())
        values = {
            "actor": entry.actor_name or "The server admin",
            "device": entry.device_name or "a device",
            "target": entry.target_device_name or "a device",
            "role": str(entry.details.get("role", "member")).replace("_", " "),
            "what": _what(entry.details),
            "days": entry.details.get("days", "?"),
            "case_views": entry.details.get("case_views", "?"),
            "devices": _counted(entry.details.get("devices"), "device", "devices") or "no device",
        }
        return cls(position=entry.position, at_ms=entry.at_ms, action=entry.action, text=words.format(**values))


@dataclass(frozen=True)
class RegisteredDevice:
    """A phone or browser registered to someone in the organisation."""

    device_id: str
    name: str
    owner: str
    owner_user_id: str
    role: Role
    last_seen_at_ms: int
    signed_out: bool
    this_device: bool

    @classmethod
    def from_info(cls, info: DeviceInfo) -> RegisteredDevice:
        return cls(
            device_id=info.device_id,
            name=info.name,
            owner=info.user_display_name,
            owner_user_id=info.user_id,
            role=info.role,
            last_seen_at_ms=info.last_seen_at_ms,
            signed_out=info.revoked_at_ms is not None,
            this_device=info.this_device,
        )


class AccountService:
    def __init__(self, device: Device) -> None:
        self._device = device

    # --- state ---------------------------------------------------------------------------------

    def status(self) -> AccountStatus:
        state = self._device.store.state()
        has_wrapped = StateKey.WRAPPED_DEVICE_KEY in state
        if self._device.keys is not None:
            return AccountStatus.UNLOCKED if has_wrapped else AccountStatus.NEEDS_PIN
        if has_wrapped and Identity.from_state(state) is not None:
            return AccountStatus.LOCKED
        return AccountStatus.SIGNED_OUT

    def profile(self) -> Profile:
        identity = self._device.require_identity()
        keys = self._device.keys
        return Profile(
            user_id=identity.user_id,
            email=identity.email,
            display_name=identity.display_name,
            role=identity.role,
            org_id=identity.org_id,
            org_name=identity.org_name,
            device_id=identity.device_id,
            server_url=identity.server_url,
            has_organisation_key=keys is not None and keys.newest_org_key(identity.org_id) is not None,
        )

    def pin_attempts_left(self) -> int:
        attempts = int(self._device.store.state().get(StateKey.FAILED_PIN_ATTEMPTS, "0"))
        return max(0, MAX_PIN_ATTEMPTS - attempts)

    def device_key_destroyed(self) -> bool:
        return StateKey.DEVICE_KEY_DESTROYED in self._device.store.state()

    def store_rebuilt(self) -> StoreRebuilt | None:
        """Set when this phone's database was damaged or missing and rebuilt; cleared at sign-in."""
        text = self._device.store.state().get(StateKey.STORE_REBUILT)
        return StoreRebuilt.from_json(text) if text else None

    # --- registration and sign-in --------------------------------------------------------------

    def register(
        self,
        server_url: str,
        invitation_code: str,
        email: str,
        password: str,
        display_name: str,
        device_name: str,
    ) -> Profile:
        """Accept an invitation: create the account keys here and register them with the server.

        The first coordinator's device also creates the organisation key and key pair.
        """
        server_url, email = server_url.strip().rstrip("/"), email.strip().lower()
        problems = _check_new_password(server_url, email, device_name, password)
        if not display_name.strip():
            problems["display_name"] = "Your name is needed."
        if len(invitation_code.strip()) < 6:
            problems["invitation_code"] = "Enter the invitation code you were given."
        if problems:
            raise ValidationFailed(problems)
        self._refuse_if_other_users_work(server_url, email)

        kdf, keys, pair, wrapped_private = self._new_account_keys(password)
        api = self._device.new_api(server_url)
        grant = api.register(
            RegisterRequest(
                invitation_code=invitation_code.strip(),
                email=email,
                display_name=display_name.strip(),
                kdf=kdf,
                auth_key=b64encode(keys.auth_key),
                public_key=b64encode(pair.public_key),
                wrapped_private_key=wrapped_private,
                device_name=device_name.strip(),
            )
        )
        self._adopt_session(api, grant, pair.private_key, server_url, device_name.strip())
        self._try_organisation_key(api, grant)
        return self.profile()

    def reset_password(
        self, server_url: str, reset_code: str, email: str, new_password: str, device_name: str
    ) -> Profile:
        """Set a new password with a coordinator's reset code. New keys are made here; until a
        coordinator's phone syncs and seals the organisation key to them, the app says it is waiting.
        Work this phone had not sent yet stays and goes with the next sync."""
        server_url, email = server_url.strip().rstrip("/"), email.strip().lower()
        problems = _check_new_password(server_url, email, device_name, new_password)
        if len(reset_code.strip()) < 6:
            problems["reset_code"] = "Enter the reset code your coordinator gave you."
        if problems:
            raise ValidationFailed(problems)
        self._refuse_if_other_users_work(server_url, email)
        kdf, keys, pair, wrapped_private = self._new_account_keys(new_password)
        api = self._device.new_api(server_url)
        grant = api.reset_password(
            PasswordResetRequest(
                reset_code=reset_code.strip(),
                email=email,
                kdf=kdf,
                auth_key=b64encode(keys.auth_key),
                public_key=b64encode(pair.public_key),
                wrapped_private_key=wrapped_private,
                device_name=device_name.strip(),
            )
        )
        self._adopt_session(api, grant, pair.private_key, server_url, device_name.strip())
        return self.profile()

    def _new_account_keys(self, password: str) -> tuple[KdfParams, AccountKeys, KeyPair, str]:
        """A fresh salt, the keys the password gives, and a new key pair wrapped under them."""
        params = self._device.scrypt_params
        salt = random_salt()
        kdf = KdfParams(n=params.n, r=params.r, p=params.p, salt=b64encode(salt))
        keys = account_keys(derive_master_key(password, salt, params))
        pair = generate_key_pair()
        wrapped_private = wrap_key(
            keys.wrap_key, pair.private_key, context=USER_PRIVATE_KEY_CONTEXT, kdf=kdf.model_dump()
        )
        return kdf, keys, pair, wrapped_private

    def sign_in(self, server_url: str, email: str, password: str, device_name: str) -> Profile:
        """Sign in with the password (online). Keeps this device's outbox and data for the same user."""
        server_url, email = server_url.strip().rstrip("/"), email.strip().lower()
        problems = _check_common(server_url, email, device_name)
        if not password:
            problems["password"] = "Enter your password."  # noqa: S105 (a message, not a password)
        if problems:
            raise ValidationFailed(problems)
        self._refuse_if_other_users_work(server_url, email)

        api = self._device.new_api(server_url)
        prelogin = api.prelogin(email)
        params = ScryptParams(n=prelogin.kdf.n, r=prelogin.kdf.r, p=prelogin.kdf.p)
        keys = account_keys(derive_master_key(password, b64decode(prelogin.kdf.salt), params))
        state = self._device.store.state()
        known_device = (
            state.get(StateKey.DEVICE_ID)
            if state.get(StateKey.EMAIL) == email and state.get(StateKey.SERVER_URL) == server_url
            else None
        )
        grant = api.login(
            LoginRequest(
                email=email,
                auth_key=b64encode(keys.auth_key),
                device_name=device_name.strip(),
                device_id=known_device,
            )
        )
        try:
            private_key = unwrap_key(keys.wrap_key, grant.wrapped_private_key, context=USER_PRIVATE_KEY_CONTEXT)
        except CryptoError:
            api.close()
            raise SignInFailed("Signed in, but your keys could not be opened with this password.") from None
        self._adopt_session(api, grant, private_key, server_url, device_name.strip())
        self._try_organisation_key(api, grant)
        return self.profile()

    def _refuse_if_other_users_work(self, server_url: str, email: str) -> None:
        state = self._device.store.state()
        if StateKey.USER_ID not in state:
            return
        if state.get(StateKey.EMAIL) == email and state.get(StateKey.SERVER_URL) == server_url:
            return
        with self._device.store.read() as session:
            if _unsent_count(session) > 0:
                raise DeviceInUse()

    def _adopt_session(
        self, api: SyncApi, grant: SessionGrant, private_key: bytes, server_url: str, device_name: str
    ) -> None:
        device = self._device
        previous_keys = device.keys
        try:
            with device.store.write() as session:
                state = LocalStore.state_of(session)
                same_user = (
                    state.get(StateKey.USER_ID) == grant.user.user_id and state.get(StateKey.SERVER_URL) == server_url
                )
                if not same_user and state:
                    if _unsent_count(session) > 0:
                        raise DeviceInUse()
                    Device.erase_data(session)
                    device.forget_plaintext()
                if previous_keys is None or not same_user:
                    # No usable device key (locked, destroyed or never set): start a new one and
                    # rebuild the keyring from the grants; the PIN must be chosen again.
                    device.keys = KeyChain(device_key=random_key())
                    Device.wipe_keyring(session)
                    LocalStore.put(
                        session,
                        {
                            StateKey.WRAPPED_DEVICE_KEY: None,
                            StateKey.FAILED_PIN_ATTEMPTS: None,
                            StateKey.REFRESH_TOKEN: None,
                        },
                    )
                old_device_id = state.get(StateKey.DEVICE_ID) if same_user else None
                LocalStore.put(
                    session,
                    {
                        StateKey.SERVER_URL: server_url,
                        StateKey.DEVICE_ID: grant.device_id,
                        StateKey.DEVICE_NAME: device_name,
                        StateKey.USER_ID: grant.user.user_id,
                        StateKey.EMAIL: grant.user.email,
                        StateKey.DISPLAY_NAME: grant.user.display_name,
                        StateKey.ROLE: grant.user.role.value,
                        StateKey.ORG_ID: grant.organisation.org_id,
                        StateKey.ORG_NAME: grant.organisation.name,
                        StateKey.ORG_PUBLIC_KEY: grant.organisation.public_key,
                        StateKey.ORG_KEY_VERSION: grant.organisation.key_version,
                        StateKey.PUBLIC_KEY: grant.public_key,
                        StateKey.WRAPPED_PRIVATE_KEY: grant.wrapped_private_key,
                        StateKey.KDF: grant.kdf.model_dump_json(),
                        StateKey.DEVICE_KEY_DESTROYED: None,
                        StateKey.STORE_REBUILT: None,
                    },
                )
                identity = Identity.from_state(LocalStore.state_of(session))
                assert identity is not None
                device.put_key(session, user_private_key_id(identity.user_id), private_key)
                device.save_refresh_token(session, grant.refresh_token)
                device.open_grants(session, identity)
                if old_device_id is not None and old_device_id != grant.device_id:
                    # The server registered this phone afresh: unsent versions are re-stamped so
                    # they carry the new device id (it is part of each clock stamp).
                    pending = session.exec(select(LocalVersion.change_id).where(LocalVersion.pending)).all()
                    restamp_pending(device, session, set(pending))
        except BaseException:
            device.keys = previous_keys
            api.close()
            raise
        device.install_api(api)

    def _try_organisation_key(self, api: SyncApi, grant: SessionGrant) -> None:
        # The account exists now: if the setup cannot be sent (offline, or refused), it is kept
        # as pending and the next sync sends it again and reports any problem.
        with contextlib.suppress(AppError):
            ensure_organisation_key(self._device, api, grant.organisation.key_version)

    # --- PIN -----------------------------------------------------------------------------------

    def set_pin(self, pin: str) -> None:
        """Choose (or change) the PIN that unlocks this device offline."""
        if not _PIN.fullmatch(pin):
            raise ValidationFailed({"pin": "The PIN must be 4 to 8 digits."})
        device = self._device
        keys = device.require_keys()
        params = device.scrypt_params
        salt = random_salt()
        wrapped = wrap_key(
            derive_pin_key(pin, salt, params),
            keys.device_key,
            context=DEVICE_KEY_CONTEXT,
            kdf={**params.to_dict(), "salt": b64encode(salt)},
        )
        with device.store.write() as session:
            LocalStore.put(
                session,
                {
                    StateKey.WRAPPED_DEVICE_KEY: wrapped,
                    StateKey.FAILED_PIN_ATTEMPTS: None,
                    StateKey.DEVICE_KEY_DESTROYED: None,
                },
            )

    def unlock(self, pin: str) -> None:
        """Unlock offline with the PIN. ``WrongPin`` counts down; the fifth wrong PIN destroys the keys."""
        device = self._device
        if device.keys is not None and self.status() is AccountStatus.UNLOCKED:
            return
        state = device.store.state()
        wrapped = state.get(StateKey.WRAPPED_DEVICE_KEY)
        if wrapped is None:
            if StateKey.DEVICE_KEY_DESTROYED in state:
                raise DeviceKeyDestroyed()
            raise NotReady("Sign in with your email and password first.")
        if not _PIN.fullmatch(pin):
            raise ValidationFailed({"pin": "The PIN must be 4 to 8 digits."})
        # Count the attempt before trying it, so stopping the app mid-attempt cannot skip the count.
        with device.store.write() as session:
            attempts = int(LocalStore.get(session, StateKey.FAILED_PIN_ATTEMPTS) or 0) + 1
            LocalStore.put(session, {StateKey.FAILED_PIN_ATTEMPTS: attempts})
        try:
            kdf = wrapped_key_kdf(wrapped) or {}
            params = ScryptParams.from_dict(kdf)
            salt = b64decode(str(kdf.get("salt", "")))
            device_key = unwrap_key(derive_pin_key(pin, salt, params), wrapped, context=DEVICE_KEY_CONTEXT)
        except CryptoError:
            if attempts >= MAX_PIN_ATTEMPTS:
                with device.store.write() as session:
                    Device.wipe_keyring(session)
                    LocalStore.put(
                        session,
                        {
                            StateKey.WRAPPED_DEVICE_KEY: None,
                            StateKey.REFRESH_TOKEN: None,
                            StateKey.FAILED_PIN_ATTEMPTS: None,
                            StateKey.DEVICE_KEY_DESTROYED: "1",
                        },
                    )
                device.forget_keys()
                raise DeviceKeyDestroyed() from None
            raise WrongPin(MAX_PIN_ATTEMPTS - attempts) from None
        with device.store.write() as session:
            LocalStore.put(session, {StateKey.FAILED_PIN_ATTEMPTS: None})
            device.keys = device.load_keyring(session, device_key)

    def lock(self) -> None:
        """Forget every key in memory; the PIN is needed again."""
        self._device.forget_keys()

    # --- coordinators --------------------------------------------------------------------------

    def create_invitation(self, role: Role, email: str | None = None) -> Invitation:
        """A one-time code for a new member (coordinators; online)."""
        if email is not None:
            email = email.strip().lower() or None
            if email is not None and not _EMAIL.fullmatch(email):
                raise ValidationFailed({"email": "Enter an email address like name@example.org."})
        return self._online(lambda api: api.create_invitation(InvitationRequest(role=role, email=email)))

    # --- devices -------------------------------------------------------------------------------

    def devices(self) -> list[RegisteredDevice]:
        """Your devices; a coordinator sees the whole team's (online)."""
        listed = self._online(lambda api: api.list_devices())
        return [RegisteredDevice.from_info(info) for info in listed.devices]

    def create_password_reset(self, user_id: str) -> Invitation:
        """A one-day code for a member who forgot their password (coordinators; online)."""
        return self._online(lambda api: api.create_password_reset(user_id))

    def sign_out_device(self, device_id: str) -> RegisteredDevice:
        """Sign a device out (a lost phone): it stops syncing at once and erases itself at its next contact."""
        return RegisteredDevice.from_info(self._online(lambda api: api.revoke_device(device_id)))

    def audit_trail(self, limit: int = 100) -> list[AuditEvent]:
        """The organisation's newest audit events, in plain words (coordinators; online)."""
        page = self._online(lambda api: api.audit_trail(limit=limit))
        return [AuditEvent.from_entry(entry) for entry in page.entries]

    def _online(self, work: Callable[[SyncApi], T]) -> T:
        with self._device.net_lock:
            try:
                return work(self._device.api())
            except DeviceRevoked:
                self._device.erase_after_revocation()
                raise


def ensure_organisation_key(
    device: Device, api: SyncApi, server_key_version: int | None = None, *, identity: Identity | None = None
) -> None:
    """On a coordinator's device: create the organisation key once and register it with the server.

    The setup is stored before it is sent, so a lost reply or a crash resends the same keys.
    ``identity``, when the caller has just read it, saves reading it again.
    """
    identity = identity if identity is not None else device.require_identity()
    if identity.role is not Role.COORDINATOR:
        return
    keys = device.require_keys()
    state = device.store.state()
    version = int(state.get(StateKey.ORG_KEY_VERSION, "0")) if server_key_version is None else server_key_version
    pending = state.get(StateKey.PENDING_ORG_SETUP)
    if pending is None:
        if version > 0 or keys.newest_org_key(identity.org_id) is not None:
            return
        org_key = random_key()
        pair = generate_key_pair()
        key_id = org_key_id(identity.org_id, 1)
        public_key = b64decode(state[StateKey.PUBLIC_KEY])
        setup = OrganisationKeySetup(
            public_key=b64encode(pair.public_key),
            wrapped_private_key=wrap_key(
                org_key,
                pair.private_key,
                context=org_private_key_context(org_private_key_id(identity.org_id, 1)),
            ),
            coordinator_grant=seal_key_to_user(uuid7(), key_id, org_key, identity.user_id, public_key),
        )
        with device.store.write() as session:
            device.put_key(session, key_id, org_key)
            LocalStore.put(session, {StateKey.PENDING_ORG_SETUP: setup.model_dump_json()})
    else:
        setup = OrganisationKeySetup.model_validate_json(pending)
    try:
        info = api.setup_organisation_keys(setup)
        public_key_text, key_version = info.public_key, info.key_version
    except ServerRejected as error:
        if error.status != 409:
            raise
        # Already set (by this device with a lost reply, or another coordinator): the real key
        # reaches this device as a grant at the next pull.
        with device.store.write() as session:
            key_id = setup.coordinator_grant.key_id
            keys.keys.pop(key_id, None)
            entry = session.get(KeyringEntry, key_id)
            if entry is not None:
                session.delete(entry)
            LocalStore.put(session, {StateKey.PENDING_ORG_SETUP: None, StateKey.ORG_KEY_VERSION: max(version, 1)})
        return
    with device.store.write() as session:
        LocalStore.put(
            session,
            {
                StateKey.PENDING_ORG_SETUP: None,
                StateKey.ORG_KEY_VERSION: key_version,
                StateKey.ORG_PUBLIC_KEY: public_key_text,
            },
        )


def store_rebuilt_message(rebuilt: StoreRebuilt) -> str:
    """What the worker reads after the database was rebuilt (until they sign in)."""
    what = "was damaged" if rebuilt.reason == "damaged" else "went missing"
    kept = rebuilt.kept
    changes = f"{kept} unsent change{'s were' if kept != 1 else ' was'} kept and will be sent after you sign in"
    return f"This phone's data {what} and is being rebuilt from the server: {changes}."


def _check_new_password(server_url: str, email: str, device_name: str, password: str) -> dict[str, str]:
    problems = _check_common(server_url, email, device_name)
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    return problems


def _check_common(server_url: str, email: str, device_name: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not is_allowed_server_url(server_url):
        problems["server_url"] = InsecureServer.default_message
    if not _EMAIL.fullmatch(email):
        problems["email"] = "Enter an email address like name@example.org."
    if not device_name.strip():
        problems["device_name"] = "Give this phone a name, such as 'Work phone'."
    return problems


def _unsent_count(session: Session) -> int:
    versions = session.exec(select(func.count()).select_from(LocalVersion).where(LocalVersion.pending)).one()
    return int(versions)
