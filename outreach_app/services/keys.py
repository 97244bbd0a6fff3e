"""Keys the device holds while unlocked, and how keys travel as grants.

In memory (``KeyChain``, dropped by ``lock()``): the device key, the user's X25519 private key,
organisation keys and case keys. On disk (``keyring`` table): each key encrypted under the device
key with AES-GCM, the key id bound as associated data.

Grant formats (only clients read them; the server stores them blind):

- organisation key to a member: ``seal(member public key, org key, context)`` with
  ``recipient_kind="user"``, ``wrapped_with="user:<user id>"``;
- case keys: per tier a 32-byte content key and a 32-byte tag key (``bundle = content || tag``),
  key id ``case_key_id(case_id, tier, version)``. Wrapped for the organisation under its key
  (``recipient_kind="organisation"``, ``wrapped_with`` = the org key id): ``shared.crypto.wrap_key``
  takes 32-byte keys only, so ``wrapped`` is compact JSON ``{"content": <wrap envelope>,
  "tag": <wrap envelope>}``, each envelope's context naming the key id, the recipient and the part.
  Sealed to a user (a peer mentor), the 64-byte bundle goes in one ``seal`` envelope.
- case keys shared with a partner organisation: the bundle sealed to the partner's public key
  (``recipient_kind="organisation"``, ``wrapped_with`` = the partner's ``org-private:<id>:vN``,
  the key pair whose private half its members hold under their organisation key).

Every context binds the key id and the recipient, so a grant cannot be replayed as another key or
for another recipient.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from shared.crypto import (
    KEY_BYTES,
    b64decode,
    b64encode,
    decrypt_field,
    derive_record_keys,
    encrypt_field,
    open_sealed,
    random_key,
    seal,
    unwrap_key,
    wrap_key,
)
from shared.errors import CryptoError
from shared.kinds import Tier
from shared.protocol import KeyGrantIn, org_private_key_id, parse_case_key_id

__all__ = [
    "DEVICE_KEY_CONTEXT",
    "USER_PRIVATE_KEY_CONTEXT",
    "CaseKeys",
    "KeyChain",
    "decrypt_secret",
    "encrypt_secret",
    "grant_context",
    "new_case_bundle",
    "open_grant",
    "org_private_key_context",
    "seal_key_to_organisation",
    "seal_key_to_user",
    "user_private_key_id",
    "wrap_case_bundle_for_organisation",
]

USER_PRIVATE_KEY_CONTEXT = b"gatepost/v1/user-private-key"
DEVICE_KEY_CONTEXT = b"gatepost/v1/device-key"
_KEYRING_AAD = b"gatepost/v1/keyring|"
_SUMMARY_AAD = b"gatepost/v1/case-summary|"
_GRANT_CONTEXT = b"gatepost/v1/grant|"
_BUNDLE_PARTS = ("content", "tag")


def user_private_key_id(user_id: str) -> str:
    """Local keyring id of the user's X25519 private key (never sent anywhere)."""
    return f"user-private:{user_id}"


def org_private_key_context(key_id: str) -> bytes:
    return b"gatepost/v1/org-private|" + key_id.encode()


def grant_context(key_id: str, recipient_kind: str, recipient_id: str, part: str = "") -> bytes:
    """Associated data of a grant: the key id, the recipient and (for case bundles) the part."""
    text = f"{key_id}|{recipient_kind}:{recipient_id}"
    if part:
        text += f"|{part}"
    return _GRANT_CONTEXT + text.encode()


@dataclass(frozen=True)
class CaseKeys:
    key_id: str
    content: bytes
    tag: bytes

    @classmethod
    def from_bundle(cls, key_id: str, bundle: bytes) -> CaseKeys:
        if len(bundle) != 2 * KEY_BYTES:
            raise CryptoError("a case key bundle must be 64 bytes")
        return cls(key_id, bundle[:KEY_BYTES], bundle[KEY_BYTES:])


def new_case_bundle() -> bytes:
    """A fresh content key and tag key, as ``content || tag``."""
    return random_key() + random_key()


@dataclass
class KeyChain:
    """The keys of an unlocked device. ``keys`` maps key id -> raw material."""

    device_key: bytes
    keys: dict[str, bytes] = field(default_factory=dict)

    def case_keys(self, key_id: str) -> CaseKeys | None:
        """The content and tag keys behind ``key_id``: a case tier's bundle, or, for an organisation
        key, the keys derived from it for organisation-level records (such as case views)."""
        material = self.keys.get(key_id)
        if material is None:
            return None
        if key_id.startswith("org:") and len(material) == KEY_BYTES:
            content, tag = derive_record_keys(material)
            return CaseKeys(key_id, content, tag)
        return CaseKeys.from_bundle(key_id, material)

    def newest_case_keys(self, case_id: str, tier: Tier) -> CaseKeys | None:
        """The highest version of a case's keys for ``tier`` this device holds."""
        best: tuple[int, str] | None = None
        for key_id in self.keys:
            parsed = parse_case_key_id(key_id)
            if parsed is None or parsed[0] != case_id or parsed[1] is not tier:
                continue
            if best is None or parsed[2] > best[0]:
                best = (parsed[2], key_id)
        return None if best is None else self.case_keys(best[1])

    def newest_org_key(self, org_id: str) -> tuple[str, bytes] | None:
        """``(key id, key)`` of the highest organisation key version this device holds."""
        prefix = f"org:{org_id}:v"
        held = [(int(key_id[len(prefix) :]), key_id) for key_id in self.keys if key_id.startswith(prefix)]
        if not held:
            return None
        key_id = max(held)[1]
        return key_id, self.keys[key_id]


# --- secrets on disk under the device key ------------------------------------------------------


def encrypt_secret(device_key: bytes, name: str, secret: bytes) -> tuple[str, str]:
    """AES-GCM under the device key, ``name`` (a key id or state entry) bound as associated data."""
    nonce, ciphertext = encrypt_field(device_key, secret, _KEYRING_AAD + name.encode())
    return b64encode(nonce), b64encode(ciphertext)


def decrypt_secret(device_key: bytes, name: str, nonce: str, ciphertext: str) -> bytes:
    """Reverse ``encrypt_secret``; raises ``CryptoError`` (``DecryptionError``) when it cannot."""
    return decrypt_field(device_key, b64decode(nonce), b64decode(ciphertext), _KEYRING_AAD + name.encode())


def encrypt_summary(device_key: bytes, binding: str, summary: bytes) -> tuple[str, str]:
    """A case summary under the device key, ``binding`` (its case, change count and keys) bound as
    associated data, so a summary cannot be passed off as another case's or an older one."""
    nonce, ciphertext = encrypt_field(device_key, summary, _SUMMARY_AAD + binding.encode())
    return b64encode(nonce), b64encode(ciphertext)


def decrypt_summary(device_key: bytes, binding: str, nonce: str, ciphertext: str) -> bytes:
    """Reverse ``encrypt_summary``; raises ``CryptoError`` when it cannot."""
    return decrypt_field(device_key, b64decode(nonce), b64decode(ciphertext), _SUMMARY_AAD + binding.encode())


# --- grants ------------------------------------------------------------------------------------


def seal_key_to_user(
    grant_id: str, key_id: str, material: bytes, user_id: str, public_key: bytes, case_id: str | None = None
) -> KeyGrantIn:
    """A grant sealing ``material`` (an org key or a case bundle) to one member's public key."""
    return KeyGrantIn(
        grant_id=grant_id,
        key_id=key_id,
        case_id=case_id,
        recipient_kind="user",
        recipient_id=user_id,
        wrapped_with=f"user:{user_id}",
        wrapped=seal(public_key, material, context=grant_context(key_id, "user", user_id)),
    )


def seal_key_to_organisation(
    grant_id: str, key_id: str, bundle: bytes, org_id: str, key_version: int, public_key: bytes, case_id: str
) -> KeyGrantIn:
    """A grant sealing a case bundle to a partner organisation's public key."""
    return KeyGrantIn(
        grant_id=grant_id,
        key_id=key_id,
        case_id=case_id,
        recipient_kind="organisation",
        recipient_id=org_id,
        wrapped_with=org_private_key_id(org_id, key_version),
        wrapped=seal(public_key, bundle, context=grant_context(key_id, "organisation", org_id)),
    )


def wrap_case_bundle_for_organisation(
    grant_id: str, key_id: str, case_id: str, bundle: bytes, org_id: str, org_key_id: str, org_key: bytes
) -> KeyGrantIn:
    """A grant wrapping a case's content and tag keys under the organisation key."""
    keys = CaseKeys.from_bundle(key_id, bundle)
    wrapped = {
        part: wrap_key(org_key, value, context=grant_context(key_id, "organisation", org_id, part))
        for part, value in zip(_BUNDLE_PARTS, (keys.content, keys.tag), strict=True)
    }
    return KeyGrantIn(
        grant_id=grant_id,
        key_id=key_id,
        case_id=case_id,
        recipient_kind="organisation",
        recipient_id=org_id,
        wrapped_with=org_key_id,
        wrapped=json.dumps(wrapped, separators=(",", ":"), sort_keys=True),
    )


def open_grant(grant: KeyGrantIn, *, user_id: str, private_key: bytes | None, keys: dict[str, bytes]) -> bytes | None:
    """The key material in ``grant`` if this device can open it now, else None.

    Raises ``CryptoError`` when a grant addressed to us does not open (tampered or wrong key).
    """
    if grant.recipient_kind == "user":
        if grant.recipient_id != user_id or private_key is None:
            return None
        material = open_sealed(private_key, grant.wrapped, context=grant_context(grant.key_id, "user", user_id))
    else:
        org_key = keys.get(grant.wrapped_with)
        if org_key is None:
            return None
        if grant.key_id.startswith("org-private:"):
            # The organisation's X25519 private key, wrapped by the first coordinator's device.
            return unwrap_key(org_key, grant.wrapped, context=org_private_key_context(grant.key_id))
        if grant.wrapped_with.startswith("org-private:"):
            # A case shared with us by another organisation: sealed to our organisation's public key.
            context = grant_context(grant.key_id, "organisation", grant.recipient_id)
            material = open_sealed(org_key, grant.wrapped, context=context)
            CaseKeys.from_bundle(grant.key_id, material)
            return material
        try:
            parts = json.loads(grant.wrapped)
        except ValueError:
            raise CryptoError("case key grant is not valid JSON") from None
        if not isinstance(parts, dict) or set(parts) != set(_BUNDLE_PARTS):
            raise CryptoError("case key grant has missing or unknown parts")
        material = b"".join(
            unwrap_key(
                org_key,
                str(parts[part]),
                context=grant_context(grant.key_id, "organisation", grant.recipient_id, part),
            )
            for part in _BUNDLE_PARTS
        )
    if parse_case_key_id(grant.key_id) is not None:
        CaseKeys.from_bundle(grant.key_id, material)
    elif len(material) != KEY_BYTES:
        raise CryptoError("granted key has the wrong length")
    return material
