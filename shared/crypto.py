"""Gatepost's cryptography: key derivation, key wrapping, sealing and field encryption.

Everything the client encrypts, and everything the server checks about keys, goes through here, so
there is one envelope format and one base64 codec. The primitives all come from ``cryptography``:
AES-256-GCM (fields, wrapped keys, sealed boxes), X25519 (sealing keys to a member or organisation),
HKDF-SHA256 (splitting the master key, deriving seal keys), HMAC-SHA256 (equality tags) and Scrypt
(password and PIN). Argon2id is not used because the phone build of ``cryptography`` (43.x) lacks
it; every wrapped key records its KDF and parameters so they can change later.

The functions are pure: keys are passed in, nothing is stored, nothing is read from disk. Any failed
decryption, unwrapping or opening, including a malformed envelope, raises ``DecryptionError``; a key
of the wrong length raises ``CryptoError``. Messages never contain key material.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import os
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from shared.errors import CryptoError, DecryptionError

__all__ = [
    "FAST_TEST_SCRYPT",
    "KEY_BYTES",
    "NONCE_BYTES",
    "SALT_BYTES",
    "WRAPPABLE_KEY_LENGTHS",
    "AccountKeys",
    "JsonValue",
    "KeyPair",
    "ScryptParams",
    "account_keys",
    "auth_key_matches",
    "b64decode",
    "b64encode",
    "canonical_value",
    "decrypt_field",
    "derive_master_key",
    "derive_pin_key",
    "derive_record_keys",
    "encrypt_field",
    "equality_tag",
    "field_associated_data",
    "generate_key_pair",
    "hash_auth_key",
    "open_sealed",
    "public_key_of",
    "random_key",
    "random_salt",
    "seal",
    "unwrap_key",
    "wrap_key",
    "wrapped_key_kdf",
]

KEY_BYTES = 32
# A wrapped key is one key or a bundle of two (content key and tag key of a case tier).
WRAPPABLE_KEY_LENGTHS = (KEY_BYTES, 2 * KEY_BYTES)
"""Length of every symmetric key and of raw X25519 keys."""

NONCE_BYTES = 12
"""AES-GCM nonce length."""

SALT_BYTES = 16
"""Length of a random salt; Scrypt salts shorter than this are refused."""

_TAG_BYTES = 16  # AES-GCM authentication tag
_EQUALITY_TAG_BYTES = 16

_SEAL_ALG = "X25519-HKDF-SHA256-A256GCM"
_WRAP_ALG = "A256GCM"
_ENVELOPE_VERSION = 1

_AUTH_INFO = b"gatepost/v1/auth-key"
_WRAP_INFO = b"gatepost/v1/wrap-key"
_ORG_RECORD_CONTENT_INFO = b"gatepost/v1/org-record-content-key"
_ORG_RECORD_TAG_INFO = b"gatepost/v1/org-record-tag-key"
_SEAL_INFO = b"gatepost/v1/seal"
_AUTH_HASH_PREFIX = b"gatepost/v1/auth-hash"
_WRAP_AAD_PREFIX = b"gatepost/v1/wrap"
_FIELD_AAD_PREFIX = b"gatepost/v1/field|"

_B64_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_B64_MAX_PADDING = 2
_B64_DIGITS = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
# Unused low bits of the last character, by the unpadded length modulo 4; canonical text has them zero.
_B64_UNUSED_BITS = {2: 0b1111, 3: 0b11}

_SCRYPT_MIN_N = 2**10
_SCRYPT_MAX_N = 2**20
_SCRYPT_MAX_R = 32
_SCRYPT_MAX_P = 16

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A JSON value as ``json.loads`` returns it."""


# --------------------------------------------------------------------------------------------------
# base64


def b64encode(data: bytes) -> str:
    """Encode bytes as URL-safe base64 without padding: the project's one base64 form."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode URL-safe base64, with or without padding.

    Only the canonical encoding of some byte string is accepted (the URL-safe alphabet, correct
    padding if any, unused trailing bits zero), so each byte string has exactly one accepted text
    apart from optional padding. Anything else raises ``CryptoError``.
    """
    if not isinstance(text, str):
        raise CryptoError("base64 input must be text")
    body = text
    if body.endswith("="):
        stripped = body.rstrip("=")
        if len(body) % 4 != 0 or len(body) - len(stripped) > _B64_MAX_PADDING:
            raise CryptoError("invalid base64 padding")
        body = stripped
    # "+" and "/" are the standard alphabet's, which the translation below would let through.
    if len(body) % 4 == 1 or not body.isascii() or "+" in body or "/" in body:
        raise CryptoError("invalid base64")
    try:
        # Strict mode refuses anything outside the alphabet (whitespace, "=" inside the text).
        data = binascii.a2b_base64(
            (body + "=" * (-len(body) % 4)).encode("ascii").translate(_B64_URLSAFE_TO_STANDARD), strict_mode=True
        )
    except (binascii.Error, ValueError):
        raise CryptoError("invalid base64") from None
    # The one canonical text of these bytes leaves the last character's unused bits zero (checked
    # here instead of encoding the bytes again: this runs for every version a phone decrypts).
    unused = _B64_UNUSED_BITS.get(len(body) % 4, 0)
    if unused and _B64_DIGITS.index(body[-1]) & unused:
        raise CryptoError("non-canonical base64")
    return data


# --------------------------------------------------------------------------------------------------
# Checks shared by the functions below


def _check_key(key: bytes, name: str, length: int = KEY_BYTES) -> None:
    if not isinstance(key, bytes):
        raise CryptoError(f"{name} must be bytes")
    if len(key) != length:
        raise CryptoError(f"{name} must be {length} bytes, got {len(key)}")


def _check_bytes(value: bytes, name: str) -> None:
    if not isinstance(value, bytes):
        raise CryptoError(f"{name} must be bytes")


def _utf8(text: str, name: str) -> bytes:
    if not isinstance(text, str):
        raise CryptoError(f"{name} must be text")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CryptoError(f"{name} is not encodable as UTF-8") from None


def _length_prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


# --------------------------------------------------------------------------------------------------
# Scrypt: password and PIN


@dataclass(frozen=True)
class ScryptParams:
    """Scrypt cost parameters; recorded next to every key they protect.

    Construction validates: ``n`` a power of two in [2**10, 2**20], ``r`` in 1..32, ``p`` in 1..16.
    """

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        for name in ("n", "r", "p"):
            value = getattr(self, name)
            if type(value) is not int:
                raise CryptoError(f"scrypt parameter {name} must be an integer")
        if not _SCRYPT_MIN_N <= self.n <= _SCRYPT_MAX_N or self.n & (self.n - 1) != 0:
            raise CryptoError("scrypt n must be a power of two between 2**10 and 2**20")
        if not 1 <= self.r <= _SCRYPT_MAX_R:
            raise CryptoError(f"scrypt r must be between 1 and {_SCRYPT_MAX_R}")
        if not 1 <= self.p <= _SCRYPT_MAX_P:
            raise CryptoError(f"scrypt p must be between 1 and {_SCRYPT_MAX_P}")

    def to_dict(self) -> dict[str, int | str]:
        """The parameters as recorded in a wrapped key's ``kdf`` entry."""
        return {"kdf": "scrypt", "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ScryptParams:
        """Read parameters recorded by ``to_dict``; other entries (such as ``salt``) are ignored.

        Raises ``CryptoError`` unless ``kdf`` is ``"scrypt"`` and ``n``, ``r``, ``p`` are integers
        within the bounds above.
        """
        if not isinstance(data, Mapping):
            raise CryptoError("kdf parameters must be a mapping")
        if data.get("kdf") != "scrypt":
            raise CryptoError("kdf must be 'scrypt'")
        values: dict[str, int] = {}
        for name in ("n", "r", "p"):
            value = data.get(name)
            if type(value) is not int:
                raise CryptoError(f"scrypt parameter {name} must be an integer")
            values[name] = value
        return cls(n=values["n"], r=values["r"], p=values["p"])


FAST_TEST_SCRYPT = ScryptParams(n=2**10, r=8, p=1)
"""Cheapest allowed parameters. For tests only: never use them to protect a real key."""


def random_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def random_salt() -> bytes:
    """A fresh random salt of ``SALT_BYTES`` bytes."""
    return os.urandom(SALT_BYTES)


def _scrypt(secret: str, salt: bytes, params: ScryptParams, name: str) -> bytes:
    if not isinstance(params, ScryptParams):
        raise CryptoError("params must be ScryptParams")
    _check_bytes(salt, "salt")
    if len(salt) < SALT_BYTES:
        raise CryptoError(f"salt must be at least {SALT_BYTES} bytes")
    if not isinstance(secret, str):
        raise CryptoError(f"{name} must be text")
    material = _utf8(unicodedata.normalize("NFC", secret), name)
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=params.n, r=params.r, p=params.p)
    return kdf.derive(material)


def derive_master_key(password: str, salt: bytes, params: ScryptParams) -> bytes:
    """Scrypt the password (NFC-normalised, UTF-8) into the 32-byte account master key."""
    return _scrypt(password, salt, params, "password")


def derive_pin_key(pin: str, salt: bytes, params: ScryptParams) -> bytes:
    """Scrypt the device PIN (NFC-normalised, UTF-8) into the key that wraps the device key."""
    return _scrypt(pin, salt, params, "pin")


# --------------------------------------------------------------------------------------------------
# Account keys


@dataclass(frozen=True)
class AccountKeys:
    """The two keys split from an account's master key."""

    auth_key: bytes
    """Sent at login; the server stores only ``hash_auth_key(auth_key)``."""
    wrap_key: bytes
    """Never leaves the device; wraps the user's private key."""


def _hkdf(secret: bytes, *, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(secret)


def account_keys(master_key: bytes) -> AccountKeys:
    """Split the master key with HKDF-SHA256 into independent auth and wrap keys."""
    _check_key(master_key, "master key")
    return AccountKeys(
        auth_key=_hkdf(master_key, salt=None, info=_AUTH_INFO),
        wrap_key=_hkdf(master_key, salt=None, info=_WRAP_INFO),
    )


def derive_record_keys(organisation_key: bytes) -> tuple[bytes, bytes]:
    """The content key and tag key of organisation-level records (no case), from the organisation
    key with HKDF-SHA256, so those records use keys of their own and not the key that wraps others."""
    _check_key(organisation_key, "organisation key")
    return (
        _hkdf(organisation_key, salt=None, info=_ORG_RECORD_CONTENT_INFO),
        _hkdf(organisation_key, salt=None, info=_ORG_RECORD_TAG_INFO),
    )


def hash_auth_key(auth_key: bytes) -> str:
    """What the server stores: hex SHA-256 of a domain prefix and the (high-entropy) auth key."""
    _check_key(auth_key, "auth key")
    digest = hashes.Hash(hashes.SHA256())
    digest.update(_AUTH_HASH_PREFIX + auth_key)
    return digest.finalize().hex()


def auth_key_matches(auth_key: bytes, stored_hash: str) -> bool:
    """Whether ``auth_key`` hashes to ``stored_hash``, compared in constant time."""
    if not isinstance(stored_hash, str):
        raise CryptoError("stored hash must be text")
    computed = hash_auth_key(auth_key).encode("ascii")
    return hmac.compare_digest(computed, stored_hash.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------------------------------
# X25519 key pairs and sealing


@dataclass(frozen=True)
class KeyPair:
    """A raw X25519 key pair."""

    private_key: bytes
    public_key: bytes


def generate_key_pair() -> KeyPair:
    """A fresh X25519 key pair, as raw 32-byte keys."""
    private = X25519PrivateKey.generate()
    return KeyPair(
        private_key=private.private_bytes_raw(),
        public_key=private.public_key().public_bytes_raw(),
    )


def public_key_of(private_key: bytes) -> bytes:
    """The raw public key belonging to a raw X25519 private key."""
    _check_key(private_key, "private key")
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def _seal_key(shared_secret: bytes, epk: bytes, recipient_public_key: bytes) -> bytes:
    return _hkdf(shared_secret, salt=epk + recipient_public_key, info=_SEAL_INFO)


def _dump_envelope(envelope: dict[str, object]) -> str:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def seal(recipient_public_key: bytes, plaintext: bytes, *, context: bytes) -> str:
    """Encrypt ``plaintext`` so only the holder of the matching private key can open it.

    An ephemeral X25519 key agrees a secret with the recipient; HKDF-SHA256 (salt = ephemeral public
    key || recipient public key) turns it into an AES-256-GCM key; ``context`` is the associated data,
    so the box opens only for the same context. Returns compact JSON text.
    """
    _check_key(recipient_public_key, "recipient public key")
    _check_bytes(plaintext, "plaintext")
    _check_bytes(context, "context")
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes_raw()
    try:
        shared_secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public_key))
    except ValueError:
        raise CryptoError("recipient public key is not usable") from None
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(_seal_key(shared_secret, epk, recipient_public_key)).encrypt(nonce, plaintext, context)
    return _dump_envelope(
        {
            "v": _ENVELOPE_VERSION,
            "alg": _SEAL_ALG,
            "epk": b64encode(epk),
            "nonce": b64encode(nonce),
            "ct": b64encode(ciphertext),
        }
    )


def _load_envelope(
    envelope: str, *, alg: str, fields: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, object]:
    if not isinstance(envelope, str):
        raise DecryptionError("envelope must be text")
    try:
        data = json.loads(envelope)
    except (ValueError, RecursionError):
        raise DecryptionError("envelope is not valid JSON") from None
    if not isinstance(data, dict):
        raise DecryptionError("envelope is not a JSON object")
    required = fields | {"v", "alg"}
    keys = set(data)
    if not required <= keys or not keys <= required | optional:
        raise DecryptionError("envelope has missing or unknown entries")
    version = data["v"]
    if type(version) is not int or version != _ENVELOPE_VERSION:
        raise DecryptionError("unsupported envelope version")
    if data["alg"] != alg:
        raise DecryptionError("unsupported envelope algorithm")
    return data


def _envelope_bytes(data: dict[str, object], name: str, *, length: int | None = None, minimum: int = 0) -> bytes:
    value = data[name]
    if not isinstance(value, str):
        raise DecryptionError(f"envelope entry {name!r} is not text")
    try:
        raw = b64decode(value)
    except CryptoError:
        raise DecryptionError(f"envelope entry {name!r} is not valid base64") from None
    if (length is not None and len(raw) != length) or len(raw) < minimum:
        raise DecryptionError(f"envelope entry {name!r} has the wrong length")
    return raw


def _aes_gcm_open(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except InvalidTag:
        raise DecryptionError(f"{what} failed: wrong key or tampered data") from None


def open_sealed(private_key: bytes, envelope: str, *, context: bytes) -> bytes:
    """Open an envelope made by ``seal`` with the recipient's raw private key and the same context."""
    _check_key(private_key, "private key")
    _check_bytes(context, "context")
    data = _load_envelope(envelope, alg=_SEAL_ALG, fields=frozenset({"epk", "nonce", "ct"}))
    epk = _envelope_bytes(data, "epk", length=KEY_BYTES)
    nonce = _envelope_bytes(data, "nonce", length=NONCE_BYTES)
    ciphertext = _envelope_bytes(data, "ct", minimum=_TAG_BYTES)
    private = X25519PrivateKey.from_private_bytes(private_key)
    try:
        shared_secret = private.exchange(X25519PublicKey.from_public_bytes(epk))
    except ValueError:
        raise DecryptionError("sealed envelope has an unusable ephemeral key") from None
    recipient_public_key = private.public_key().public_bytes_raw()
    key = _seal_key(shared_secret, epk, recipient_public_key)
    return _aes_gcm_open(key, nonce, ciphertext, context, "opening sealed envelope")


# --------------------------------------------------------------------------------------------------
# Wrapped keys


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _wrap_associated_data(context: bytes, kdf_json: bytes | None) -> bytes:
    # Prefix, then the length-prefixed context, then a presence flag and the length-prefixed
    # canonical kdf JSON: removing, adding or altering the kdf entry changes the associated data.
    kdf_part = b"\x00" if kdf_json is None else b"\x01" + _length_prefixed(kdf_json)
    return _WRAP_AAD_PREFIX + _length_prefixed(context) + kdf_part


def wrap_key(wrapping_key: bytes, key: bytes, *, context: bytes, kdf: Mapping[str, object] | None = None) -> str:
    """Encrypt a key under ``wrapping_key`` with AES-256-GCM; returns compact JSON text.

    ``key`` is one 32-byte key, or a 64-byte bundle of two (a case's content key and tag key).

    ``kdf`` records how ``wrapping_key`` was derived (for example ``ScryptParams.to_dict()`` plus a
    base64 ``salt``); it is stored in clear so it can be read back with ``wrapped_key_kdf`` before
    deriving, and bound to the ciphertext through the associated data together with ``context``.
    """
    _check_key(wrapping_key, "wrapping key")
    _check_bytes(key, "key to wrap")
    if len(key) not in WRAPPABLE_KEY_LENGTHS:
        raise CryptoError(f"key to wrap must be 32 or 64 bytes, got {len(key)}")
    _check_bytes(context, "context")
    kdf_entry: dict[str, object] | None = None
    kdf_json: bytes | None = None
    if kdf is not None:
        if not isinstance(kdf, Mapping):
            raise CryptoError("kdf must be a mapping")
        try:
            # Store what the JSON round trip yields, so unwrapping re-derives exactly these bytes.
            kdf_entry = json.loads(_canonical_json(dict(kdf)))
            kdf_json = _canonical_json(kdf_entry)
        except (TypeError, ValueError):
            raise CryptoError("kdf must hold only JSON values") from None
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(wrapping_key).encrypt(nonce, key, _wrap_associated_data(context, kdf_json))
    envelope: dict[str, object] = {
        "v": _ENVELOPE_VERSION,
        "alg": _WRAP_ALG,
        "nonce": b64encode(nonce),
        "ct": b64encode(ciphertext),
    }
    if kdf_entry is not None:
        envelope["kdf"] = kdf_entry
    return _dump_envelope(envelope)


def _load_wrapped(envelope: str) -> tuple[dict[str, object], dict[str, object] | None]:
    data = _load_envelope(envelope, alg=_WRAP_ALG, fields=frozenset({"nonce", "ct"}), optional=frozenset({"kdf"}))
    if "kdf" not in data:
        return data, None
    kdf = data["kdf"]
    if not isinstance(kdf, dict):
        raise DecryptionError("envelope entry 'kdf' is not a JSON object")
    return data, kdf


def unwrap_key(wrapping_key: bytes, envelope: str, *, context: bytes) -> bytes:
    """Recover the key wrapped by ``wrap_key`` under the same wrapping key and context."""
    _check_key(wrapping_key, "wrapping key")
    _check_bytes(context, "context")
    data, kdf = _load_wrapped(envelope)
    nonce = _envelope_bytes(data, "nonce", length=NONCE_BYTES)
    ciphertext = _envelope_bytes(data, "ct", minimum=KEY_BYTES + _TAG_BYTES)
    if len(ciphertext) - _TAG_BYTES not in WRAPPABLE_KEY_LENGTHS:
        raise DecryptionError("envelope entry 'ct' has the wrong length")
    try:
        kdf_json = None if kdf is None else _canonical_json(kdf)
    except ValueError:  # a non-finite number
        raise DecryptionError("envelope entry 'kdf' is not canonical JSON") from None
    associated_data = _wrap_associated_data(context, kdf_json)
    return _aes_gcm_open(wrapping_key, nonce, ciphertext, associated_data, "unwrapping key")


def wrapped_key_kdf(envelope: str) -> dict[str, object] | None:
    """The ``kdf`` entry recorded in a wrapped key, read without decrypting (``None`` if absent).

    Unauthenticated until ``unwrap_key`` succeeds, which detects any change to it.
    """
    return _load_wrapped(envelope)[1]


# --------------------------------------------------------------------------------------------------
# Field encryption


def field_associated_data(record_id: str, field: str, hlc: str, key_id: str) -> bytes:
    """Associated data binding a field ciphertext to its record, field, clock value and key.

    ``b"gatepost/v1/field|"`` followed by each part as UTF-8, prefixed by its 4-byte big-endian
    length, so no two different tuples give the same bytes. Empty parts are refused.
    """
    parts = []
    for name, part in (("record_id", record_id), ("field", field), ("hlc", hlc), ("key_id", key_id)):
        encoded = _utf8(part, name)
        if not encoded:
            raise CryptoError(f"{name} must not be empty")
        parts.append(len(encoded).to_bytes(4, "big"))
        parts.append(encoded)
    return _FIELD_AAD_PREFIX + b"".join(parts)


def encrypt_field(key: bytes, plaintext: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM with a random nonce; returns ``(nonce, ciphertext with tag)``."""
    _check_key(key, "field key")
    _check_bytes(plaintext, "plaintext")
    _check_bytes(associated_data, "associated data")
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, associated_data)


def decrypt_field(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """Reverse ``encrypt_field``; any mismatch raises ``DecryptionError``."""
    _check_key(key, "field key")
    _check_bytes(associated_data, "associated data")
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise DecryptionError("field nonce has the wrong length")
    if not isinstance(ciphertext, bytes) or len(ciphertext) < _TAG_BYTES:
        raise DecryptionError("field ciphertext is too short")
    return _aes_gcm_open(key, nonce, ciphertext, associated_data, "decrypting field")


# --------------------------------------------------------------------------------------------------
# Equality tags


def _normalised(value: object) -> JsonValue:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CryptoError("value holds a non-finite number")
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    if isinstance(value, dict):
        result: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CryptoError("object keys must be text")
            normal_key = unicodedata.normalize("NFC", key)
            if normal_key in result:
                raise CryptoError("object keys collide after NFC normalisation")
            result[normal_key] = _normalised(item)
        return result
    raise CryptoError(f"{type(value).__name__} is not a JSON value")


def canonical_value(value: JsonValue) -> bytes:
    """The canonical UTF-8 JSON of a value: sorted keys, no spaces, strings NFC-normalised.

    Raises ``CryptoError`` for anything that is not a JSON value (including NaN and infinities),
    or for object keys that become equal after normalisation.
    """
    normalised = _normalised(value)
    try:
        return _canonical_json(normalised)
    except UnicodeEncodeError:
        raise CryptoError("value holds text not encodable as UTF-8") from None


def equality_tag(tag_key: bytes, value: JsonValue) -> str:
    """HMAC-SHA256 of ``canonical_value(value)`` under ``tag_key``, truncated to 16 bytes, as hex."""
    _check_key(tag_key, "tag key")
    mac = crypto_hmac.HMAC(tag_key, hashes.SHA256())
    mac.update(canonical_value(value))
    return mac.finalize()[:_EQUALITY_TAG_BYTES].hex()
