"""Unit and property tests for shared.crypto.

Hypothesis prints the falsifying example and a ``@reproduce_failure`` blob when a property fails;
``pytest --hypothesis-seed=N`` replays a run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.crypto import (
    FAST_TEST_SCRYPT,
    KEY_BYTES,
    JsonValue,
    ScryptParams,
    account_keys,
    auth_key_matches,
    b64decode,
    b64encode,
    canonical_value,
    decrypt_field,
    derive_master_key,
    derive_pin_key,
    derive_record_keys,
    encrypt_field,
    equality_tag,
    field_associated_data,
    generate_key_pair,
    hash_auth_key,
    open_sealed,
    public_key_of,
    random_key,
    random_salt,
    seal,
    unwrap_key,
    wrap_key,
    wrapped_key_kdf,
)
from shared.errors import CryptoError, DecryptionError

FAST = settings(max_examples=25, deadline=None, print_blob=True)
SLOW = settings(max_examples=8, deadline=None, print_blob=True)  # for scrypt-bound properties

keys = st.binary(min_size=KEY_BYTES, max_size=KEY_BYTES)
payloads = st.binary(max_size=512)
contexts = st.binary(max_size=64)
salts = st.binary(min_size=16, max_size=32)
texts = st.characters(exclude_categories=["Cs"])  # no lone surrogates: every str is valid UTF-8
parts = st.text(texts, min_size=1, max_size=20)
ascii_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ascii_keys, children, max_size=4),
    max_leaves=12,
)


def flip(data: bytes, index: int, mask: int) -> bytes:
    """``data`` with the byte at ``index % len(data)`` XORed by a non-zero ``mask``."""
    assert mask != 0
    i = index % len(data)
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


def replace_entry(envelope: str, name: str, value: object) -> str:
    data = json.loads(envelope)
    data[name] = value
    return json.dumps(data, separators=(",", ":"))


def flip_b64_entry(envelope: str, name: str, index: int, mask: int) -> str:
    raw = b64decode(json.loads(envelope)[name])
    return replace_entry(envelope, name, b64encode(flip(raw, index, mask)))


indices = st.integers(min_value=0, max_value=10_000)
masks = st.integers(min_value=1, max_value=255)


# --------------------------------------------------------------------------------------------------
# base64


@FAST
@given(payloads)
def test_b64_round_trip_is_urlsafe_and_unpadded(data: bytes) -> None:
    text = b64encode(data)
    assert b64decode(text) == data
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text


@FAST
@given(payloads)
def test_b64_decode_accepts_standard_padding(data: bytes) -> None:
    text = b64encode(data)
    padded = text + "=" * (-len(text) % 4)
    assert b64decode(padded) == data


@FAST
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=12))
def test_b64_decode_accepts_exactly_the_canonical_texts(text: str) -> None:
    """Of all texts in the alphabet, only the one each byte string encodes to is accepted."""
    if len(text) % 4 == 1:
        with pytest.raises(CryptoError):
            b64decode(text)
        return
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64encode(data) == text:
        assert b64decode(text) == data
    else:
        with pytest.raises(CryptoError, match="non-canonical"):
            b64decode(text)


@pytest.mark.parametrize(
    "garbage",
    [
        "!!!!",  # outside the alphabet
        "a",  # impossible length
        "abcde",  # impossible length
        "ab+/",  # standard, not URL-safe, alphabet
        "AB",  # non-zero unused trailing bits (canonical is "AA")
        "A===",  # too much padding
        "AA=",  # padding to a length that is not a multiple of four
        "AA==AA",  # padding in the middle
        "AA AA",  # whitespace
        "éé",  # non-ASCII
    ],
)
def test_b64_decode_rejects_garbage(garbage: str) -> None:
    with pytest.raises(CryptoError):
        b64decode(garbage)


# --------------------------------------------------------------------------------------------------
# Scrypt parameters and derivation


def test_scrypt_params_dict_round_trip() -> None:
    params = ScryptParams(n=2**14, r=8, p=2)
    assert params.to_dict() == {"kdf": "scrypt", "n": 2**14, "r": 8, "p": 2}
    assert ScryptParams.from_dict(params.to_dict()) == params
    # Extra entries recorded next to the parameters (the salt) do not get in the way.
    assert ScryptParams.from_dict({**params.to_dict(), "salt": b64encode(b"s" * 16)}) == params


@pytest.mark.parametrize(
    "data",
    [
        {"n": 2**15, "r": 8, "p": 1},  # kdf missing
        {"kdf": "argon2id", "n": 2**15, "r": 8, "p": 1},
        {"kdf": "scrypt", "r": 8, "p": 1},  # n missing
        {"kdf": "scrypt", "n": 3 * 2**12, "r": 8, "p": 1},  # not a power of two
        {"kdf": "scrypt", "n": 2**9, "r": 8, "p": 1},  # too cheap
        {"kdf": "scrypt", "n": 2**21, "r": 8, "p": 1},  # too expensive
        {"kdf": "scrypt", "n": 2**15, "r": 0, "p": 1},
        {"kdf": "scrypt", "n": 2**15, "r": 33, "p": 1},
        {"kdf": "scrypt", "n": 2**15, "r": 8, "p": 0},
        {"kdf": "scrypt", "n": 2**15, "r": 8, "p": 17},
        {"kdf": "scrypt", "n": "32768", "r": 8, "p": 1},  # not an int
        {"kdf": "scrypt", "n": 32768.0, "r": 8, "p": 1},
        {"kdf": "scrypt", "n": 2**15, "r": True, "p": 1},  # bool is not a count
    ],
)
def test_scrypt_params_from_dict_rejects_bad_input(data: dict[str, object]) -> None:
    with pytest.raises(CryptoError):
        ScryptParams.from_dict(data)


def test_scrypt_params_bounds_are_inclusive() -> None:
    for n, r, p in [(2**10, 1, 1), (2**20, 32, 16)]:
        assert ScryptParams.from_dict({"kdf": "scrypt", "n": n, "r": r, "p": p}) == ScryptParams(n, r, p)


def test_derive_master_key_is_scrypt_of_nfc_utf8_password() -> None:
    salt = bytes(range(16))
    expected = hashlib.scrypt("café".encode(), salt=salt, n=2**10, r=8, p=1, dklen=32)
    assert derive_master_key("café", salt, FAST_TEST_SCRYPT) == expected
    decomposed = unicodedata.normalize("NFD", "café")
    assert decomposed != "café"
    assert derive_master_key(decomposed, salt, FAST_TEST_SCRYPT) == expected


@SLOW
@given(st.text(texts, max_size=30), salts, salts)
def test_derive_master_key_deterministic_and_salted(password: str, salt_a: bytes, salt_b: bytes) -> None:
    assume(salt_a != salt_b)
    first = derive_master_key(password, salt_a, FAST_TEST_SCRYPT)
    assert len(first) == KEY_BYTES
    assert derive_master_key(password, salt_a, FAST_TEST_SCRYPT) == first
    assert derive_master_key(password, salt_b, FAST_TEST_SCRYPT) != first


def test_derive_master_key_depends_on_password_and_params() -> None:
    salt = random_salt()
    base = derive_master_key("correct horse", salt, FAST_TEST_SCRYPT)
    assert derive_master_key("correct horsf", salt, FAST_TEST_SCRYPT) != base
    assert derive_master_key("correct horse", salt, ScryptParams(n=2**11, r=8, p=1)) != base


def test_derive_pin_key_deterministic_and_salted() -> None:
    salt = random_salt()
    key = derive_pin_key("4821", salt, FAST_TEST_SCRYPT)
    assert len(key) == KEY_BYTES
    assert derive_pin_key("4821", salt, FAST_TEST_SCRYPT) == key
    assert derive_pin_key("4822", salt, FAST_TEST_SCRYPT) != key
    assert derive_pin_key("4821", random_salt(), FAST_TEST_SCRYPT) != key


def test_short_salt_is_refused() -> None:
    with pytest.raises(CryptoError):
        derive_master_key("pw", b"short", FAST_TEST_SCRYPT)


def test_random_key_and_salt_sizes() -> None:
    assert len(random_key()) == KEY_BYTES
    assert len(random_salt()) == 16
    assert random_key() != random_key()


# --------------------------------------------------------------------------------------------------
# Account keys and auth hash


def _hkdf_sha256_one_block(ikm: bytes, info: bytes) -> bytes:
    """RFC 5869 with no salt and 32 bytes of output, written independently of the module."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


@FAST
@given(keys)
def test_account_keys_are_hkdf_split_and_distinct(master: bytes) -> None:
    split = account_keys(master)
    assert split.auth_key == _hkdf_sha256_one_block(master, b"gatepost/v1/auth-key")
    assert split.wrap_key == _hkdf_sha256_one_block(master, b"gatepost/v1/wrap-key")
    assert split.auth_key != split.wrap_key
    assert split.auth_key != master
    assert split.wrap_key != master


@FAST
@given(keys)
def test_organisation_record_keys_are_hkdf_derived_and_distinct(org_key: bytes) -> None:
    content, tag = derive_record_keys(org_key)
    assert content == _hkdf_sha256_one_block(org_key, b"gatepost/v1/org-record-content-key")
    assert tag == _hkdf_sha256_one_block(org_key, b"gatepost/v1/org-record-tag-key")
    assert len({content, tag, org_key}) == 3


@FAST
@given(keys, keys)
def test_auth_key_hash_matches_only_its_key(auth_key: bytes, other: bytes) -> None:
    assume(auth_key != other)
    stored = hash_auth_key(auth_key)
    assert stored == hashlib.sha256(b"gatepost/v1/auth-hash" + auth_key).hexdigest()
    assert auth_key.hex() not in stored
    assert auth_key_matches(auth_key, stored)
    assert not auth_key_matches(other, stored)
    tampered = ("1" if stored[0] == "0" else "0") + stored[1:]
    assert not auth_key_matches(auth_key, tampered)
    assert not auth_key_matches(auth_key, "")


# --------------------------------------------------------------------------------------------------
# Sealing


def test_key_pair_public_key_matches_private() -> None:
    pair = generate_key_pair()
    assert len(pair.private_key) == KEY_BYTES
    assert len(pair.public_key) == KEY_BYTES
    assert public_key_of(pair.private_key) == pair.public_key
    assert generate_key_pair().private_key != pair.private_key


@FAST
@given(payloads, contexts)
def test_seal_open_round_trip(plaintext: bytes, context: bytes) -> None:
    pair = generate_key_pair()
    envelope = seal(pair.public_key, plaintext, context=context)
    assert open_sealed(pair.private_key, envelope, context=context) == plaintext


def test_seal_envelope_format_and_freshness() -> None:
    pair = generate_key_pair()
    first = seal(pair.public_key, b"org key", context=b"ctx")
    second = seal(pair.public_key, b"org key", context=b"ctx")
    data = json.loads(first)
    assert list(data) == ["v", "alg", "epk", "nonce", "ct"]
    assert data["v"] == 1
    assert data["alg"] == "X25519-HKDF-SHA256-A256GCM"
    assert " " not in first
    assert len(b64decode(data["epk"])) == 32
    assert len(b64decode(data["nonce"])) == 12
    # A fresh ephemeral key and nonce every time.
    assert json.loads(second)["epk"] != data["epk"]
    assert json.loads(second)["nonce"] != data["nonce"]


@FAST
@given(payloads, st.sampled_from(["epk", "nonce", "ct"]), indices, masks)
def test_seal_rejects_flipped_envelope_bytes(plaintext: bytes, entry: str, index: int, mask: int) -> None:
    pair = generate_key_pair()
    envelope = seal(pair.public_key, plaintext, context=b"ctx")
    with pytest.raises(DecryptionError):
        open_sealed(pair.private_key, flip_b64_entry(envelope, entry, index, mask), context=b"ctx")


@FAST
@given(payloads, st.binary(min_size=1, max_size=32), indices, masks)
def test_seal_rejects_changed_context(plaintext: bytes, context: bytes, index: int, mask: int) -> None:
    pair = generate_key_pair()
    envelope = seal(pair.public_key, plaintext, context=context)
    with pytest.raises(DecryptionError):
        open_sealed(pair.private_key, envelope, context=flip(context, index, mask))
    with pytest.raises(DecryptionError):
        open_sealed(pair.private_key, envelope, context=context + b"x")


@FAST
@given(payloads)
def test_seal_rejects_wrong_private_key(plaintext: bytes) -> None:
    pair, other = generate_key_pair(), generate_key_pair()
    envelope = seal(pair.public_key, plaintext, context=b"ctx")
    with pytest.raises(DecryptionError):
        open_sealed(other.private_key, envelope, context=b"ctx")


@settings(max_examples=60, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(indices, st.characters(min_codepoint=0, max_codepoint=0x2FF))
def test_seal_rejects_any_single_character_change(index: int, replacement: str) -> None:
    pair = generate_key_pair()
    envelope = seal(pair.public_key, b"secret", context=b"ctx")
    i = index % len(envelope)
    assume(envelope[i] != replacement)
    changed = envelope[:i] + replacement + envelope[i + 1 :]
    with pytest.raises(DecryptionError):
        open_sealed(pair.private_key, changed, context=b"ctx")


# One key pair and one good envelope; each malformed variant is opened with the right key, so the
# malformation is the only reason for it to fail.
MALFORMED_PAIR = generate_key_pair()
GOOD_SEALED = seal(MALFORMED_PAIR.public_key, b"x", context=b"")


def _sealed_with(**changes: object) -> str:
    data = {**json.loads(GOOD_SEALED), **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}, separators=(",", ":"))


def _bump_last_char(text: str) -> str:
    """Same decoded bytes, different text: changes only unused trailing bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) + 1]


def test_good_sealed_envelope_opens() -> None:
    assert open_sealed(MALFORMED_PAIR.private_key, GOOD_SEALED, context=b"") == b"x"
    assert open_sealed(MALFORMED_PAIR.private_key, _sealed_with(), context=b"") == b"x"


@pytest.mark.parametrize(
    "envelope",
    [
        "",
        "not json",
        "null",
        "[]",
        '"text"',
        "{}",
        "[" * 100_000,
        _sealed_with(v=2),
        _sealed_with(v=True),
        _sealed_with(v="1"),
        _sealed_with(v=1.0),
        _sealed_with(alg="A256GCM"),
        _sealed_with(extra=1),
        _sealed_with(ct=...),  # entry missing
        _sealed_with(epk=5),
        _sealed_with(epk="!!"),
        _sealed_with(epk=b64encode(b"\x01" * 31)),
        _sealed_with(nonce=b64encode(b"\x00" * 16)),
        _sealed_with(ct=b64encode(b"short")),
        _sealed_with(epk=b64encode(b"\x00" * 32)),  # low-order point
        _sealed_with(epk=_bump_last_char(json.loads(GOOD_SEALED)["epk"])),  # non-canonical base64
    ],
)
def test_open_sealed_rejects_malformed_envelopes(envelope: str) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(MALFORMED_PAIR.private_key, envelope, context=b"")


def test_seal_follows_documented_construction() -> None:
    """Open a sealed box by hand: X25519, HKDF-SHA256(salt=epk||pk, info), AES-256-GCM with AAD=context."""
    pair = generate_key_pair()
    data = json.loads(seal(pair.public_key, b"organisation key", context=b"grant:42"))
    epk = b64decode(data["epk"])
    shared = X25519PrivateKey.from_private_bytes(pair.private_key).exchange(X25519PublicKey.from_public_bytes(epk))
    prk = hmac.new(epk + pair.public_key, shared, hashlib.sha256).digest()
    key = hmac.new(prk, b"gatepost/v1/seal\x01", hashlib.sha256).digest()
    plaintext = AESGCM(key).decrypt(b64decode(data["nonce"]), b64decode(data["ct"]), b"grant:42")
    assert plaintext == b"organisation key"


# --------------------------------------------------------------------------------------------------
# Key wrapping

SCRYPT_KDF = {**FAST_TEST_SCRYPT.to_dict(), "salt": b64encode(b"\x07" * 16)}
kdfs = st.none() | st.just(SCRYPT_KDF) | st.dictionaries(ascii_keys, st.integers() | st.text(max_size=8))


@FAST
@given(keys, keys, contexts, kdfs)
def test_wrap_unwrap_round_trip(wrapping: bytes, key: bytes, context: bytes, kdf: dict[str, object] | None) -> None:
    envelope = wrap_key(wrapping, key, context=context, kdf=kdf)
    assert unwrap_key(wrapping, envelope, context=context) == key
    assert wrapped_key_kdf(envelope) == kdf
    assert key.hex() not in envelope
    assert b64encode(key) not in envelope


def test_wrapped_kdf_records_how_to_rederive_the_wrapping_key() -> None:
    salt = random_salt()
    pin_key = derive_pin_key("2468", salt, FAST_TEST_SCRYPT)
    device_key = random_key()
    envelope = wrap_key(
        pin_key, device_key, context=b"device", kdf={**FAST_TEST_SCRYPT.to_dict(), "salt": b64encode(salt)}
    )
    recorded = wrapped_key_kdf(envelope)
    assert recorded is not None
    params = ScryptParams.from_dict(recorded)
    assert params == FAST_TEST_SCRYPT
    salt_text = recorded["salt"]
    assert isinstance(salt_text, str)
    rederived = derive_pin_key("2468", b64decode(salt_text), params)
    assert unwrap_key(rederived, envelope, context=b"device") == device_key


@FAST
@given(keys, st.sampled_from(["nonce", "ct"]), indices, masks)
def test_unwrap_rejects_flipped_envelope_bytes(key: bytes, entry: str, index: int, mask: int) -> None:
    wrapping = random_key()
    envelope = wrap_key(wrapping, key, context=b"ctx", kdf=SCRYPT_KDF)
    with pytest.raises(DecryptionError):
        unwrap_key(wrapping, flip_b64_entry(envelope, entry, index, mask), context=b"ctx")


@FAST
@given(keys, st.binary(min_size=1, max_size=32), indices, masks)
def test_unwrap_rejects_changed_context(key: bytes, context: bytes, index: int, mask: int) -> None:
    wrapping = random_key()
    envelope = wrap_key(wrapping, key, context=context)
    with pytest.raises(DecryptionError):
        unwrap_key(wrapping, envelope, context=flip(context, index, mask))


@FAST
@given(keys, keys)
def test_unwrap_rejects_wrong_wrapping_key(wrapping: bytes, other: bytes) -> None:
    assume(wrapping != other)
    envelope = wrap_key(wrapping, random_key(), context=b"ctx")
    with pytest.raises(DecryptionError):
        unwrap_key(other, envelope, context=b"ctx")


@pytest.mark.parametrize(
    "tampered_kdf",
    [
        {**SCRYPT_KDF, "n": 2**11},  # weaker or different parameters
        {**SCRYPT_KDF, "salt": b64encode(b"\x08" * 16)},
        {**SCRYPT_KDF, "extra": 1},
        {k: v for k, v in SCRYPT_KDF.items() if k != "p"},
        {},
        None,  # entry removed
    ],
)
def test_unwrap_rejects_tampered_kdf_entry(tampered_kdf: dict[str, object] | None) -> None:
    wrapping = random_key()
    envelope = wrap_key(wrapping, random_key(), context=b"ctx", kdf=SCRYPT_KDF)
    data = json.loads(envelope)
    if tampered_kdf is None:
        del data["kdf"]
    else:
        data["kdf"] = tampered_kdf
    with pytest.raises(DecryptionError):
        unwrap_key(wrapping, json.dumps(data), context=b"ctx")


def test_unwrap_rejects_kdf_entry_added_afterwards() -> None:
    wrapping = random_key()
    envelope = wrap_key(wrapping, random_key(), context=b"ctx")
    with pytest.raises(DecryptionError):
        unwrap_key(wrapping, replace_entry(envelope, "kdf", {}), context=b"ctx")


def test_unwrap_accepts_reordered_kdf_entry() -> None:
    """The binding is to the kdf's content, not to how a JSON writer happened to order it."""
    wrapping, key = random_key(), random_key()
    envelope = wrap_key(wrapping, key, context=b"ctx", kdf=SCRYPT_KDF)
    reordered = dict(reversed(list(SCRYPT_KDF.items())))
    assert unwrap_key(wrapping, replace_entry(envelope, "kdf", reordered), context=b"ctx") == key


@pytest.mark.parametrize(
    "envelope",
    ["", "{}", "[]", '{"v":1,"alg":"A256GCM","nonce":"AAAAAAAAAAAAAAAA","ct":"AA","kdf":[]}'],
)
def test_unwrap_and_kdf_reader_reject_malformed_envelopes(envelope: str) -> None:
    with pytest.raises(DecryptionError):
        unwrap_key(random_key(), envelope, context=b"")
    with pytest.raises(DecryptionError):
        wrapped_key_kdf(envelope)


def test_unwrap_rejects_seal_envelope() -> None:
    pair = generate_key_pair()
    with pytest.raises(DecryptionError):
        unwrap_key(random_key(), seal(pair.public_key, random_key(), context=b""), context=b"")


def test_wrap_refuses_non_json_kdf_and_wrong_key_lengths() -> None:
    with pytest.raises(CryptoError):
        wrap_key(random_key(), random_key(), context=b"", kdf={"salt": b"raw bytes"})
    with pytest.raises(CryptoError):
        wrap_key(random_key(), random_key(), context=b"", kdf={"n": float("nan")})
    with pytest.raises(CryptoError):
        wrap_key(random_key()[:16], random_key(), context=b"")
    with pytest.raises(CryptoError):
        wrap_key(random_key(), b"\x00" * 16, context=b"")


# --------------------------------------------------------------------------------------------------
# Field encryption

field_parts = st.tuples(parts, parts, parts, parts)


@FAST
@given(keys, payloads, field_parts)
def test_field_round_trip(key: bytes, plaintext: bytes, ad_parts: tuple[str, str, str, str]) -> None:
    ad = field_associated_data(*ad_parts)
    nonce, ciphertext = encrypt_field(key, plaintext, ad)
    assert len(nonce) == 12
    assert len(ciphertext) == len(plaintext) + 16
    assert decrypt_field(key, nonce, ciphertext, ad) == plaintext


@FAST
@given(keys, payloads, indices, masks, st.sampled_from(["nonce", "ciphertext", "ad"]))
def test_field_rejects_flipped_bytes(key: bytes, plaintext: bytes, index: int, mask: int, target: str) -> None:
    ad = field_associated_data("rec-1", "name", "0001:0000:dev", "case-1/basic/1")
    nonce, ciphertext = encrypt_field(key, plaintext, ad)
    if target == "nonce":
        nonce = flip(nonce, index, mask)
    elif target == "ciphertext":
        ciphertext = flip(ciphertext, index, mask)
    else:
        ad = flip(ad, index, mask)
    with pytest.raises(DecryptionError):
        decrypt_field(key, nonce, ciphertext, ad)


@FAST
@given(keys, keys, payloads)
def test_field_rejects_wrong_key(key: bytes, other: bytes, plaintext: bytes) -> None:
    assume(key != other)
    ad = field_associated_data("rec-1", "name", "hlc", "k1")
    nonce, ciphertext = encrypt_field(key, plaintext, ad)
    with pytest.raises(DecryptionError):
        decrypt_field(other, nonce, ciphertext, ad)


@FAST
@given(field_parts, st.integers(min_value=0, max_value=3), parts)
def test_field_ciphertext_cannot_move(original: tuple[str, str, str, str], position: int, new_part: str) -> None:
    assume(original[position] != new_part)
    moved = list(original)
    moved[position] = new_part
    key = random_key()
    nonce, ciphertext = encrypt_field(key, b"Gate pick-up 08:00", field_associated_data(*original))
    with pytest.raises(DecryptionError):
        decrypt_field(key, nonce, ciphertext, field_associated_data(*moved))


def test_field_associated_data_is_unambiguous() -> None:
    assert field_associated_data("a|b", "c", "h", "k") != field_associated_data("a", "b|c", "h", "k")
    assert field_associated_data("ab", "c", "h", "k") != field_associated_data("a", "bc", "h", "k")
    assert field_associated_data("r", "f", "h", "k").startswith(b"gatepost/v1/field|")
    with pytest.raises(CryptoError):
        field_associated_data("", "f", "h", "k")


@pytest.mark.parametrize(("nonce", "ciphertext"), [(b"\x00" * 11, b"\x00" * 32), (b"\x00" * 12, b"\x00" * 15)])
def test_decrypt_field_rejects_malformed_input(nonce: bytes, ciphertext: bytes) -> None:
    with pytest.raises(DecryptionError):
        decrypt_field(random_key(), nonce, ciphertext, b"ad")


# --------------------------------------------------------------------------------------------------
# Wrong-length keys and messages


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_wrong_length_keys_raise_crypto_error(length: int) -> None:
    bad = b"\x01" * length
    pair = generate_key_pair()
    envelope = seal(pair.public_key, b"x", context=b"")
    for call in (
        lambda: encrypt_field(bad, b"x", b"ad"),
        lambda: decrypt_field(bad, b"\x00" * 12, b"\x00" * 16, b"ad"),
        lambda: seal(bad, b"x", context=b""),
        lambda: open_sealed(bad, envelope, context=b""),
        lambda: public_key_of(bad),
        lambda: account_keys(bad),
        lambda: derive_record_keys(bad),
        lambda: hash_auth_key(bad),
        lambda: equality_tag(bad, "x"),
        lambda: unwrap_key(bad, wrap_key(random_key(), random_key(), context=b""), context=b""),
    ):
        with pytest.raises(CryptoError) as caught:
            call()
        assert not isinstance(caught.value, DecryptionError)


def test_decryption_errors_do_not_reveal_keys() -> None:
    key, other = random_key(), random_key()
    envelope = wrap_key(key, random_key(), context=b"ctx")
    with pytest.raises(DecryptionError) as caught:
        unwrap_key(other, envelope, context=b"ctx")
    message = str(caught.value)
    assert message
    for secret in (key, other):
        assert secret.hex() not in message
        assert b64encode(secret) not in message
    assert caught.value.__cause__ is None


# --------------------------------------------------------------------------------------------------
# Canonical values and equality tags


@FAST
@given(keys, json_values)
def test_equal_values_have_equal_tags(tag_key: bytes, value: JsonValue) -> None:
    copy = json.loads(json.dumps(value))
    assert equality_tag(tag_key, value) == equality_tag(tag_key, copy)
    tag = equality_tag(tag_key, value)
    assert len(tag) == 32
    assert set(tag) <= set("0123456789abcdef")


@FAST
@given(keys, st.dictionaries(ascii_keys, json_values, min_size=2, max_size=6))
def test_dict_key_order_is_irrelevant(tag_key: bytes, value: dict[str, JsonValue]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert list(reordered) != list(value)
    assert canonical_value(reordered) == canonical_value(value)
    assert equality_tag(tag_key, reordered) == equality_tag(tag_key, value)


@FAST
@given(keys, keys, json_values)
def test_different_tag_keys_give_different_tags(key_a: bytes, key_b: bytes, value: JsonValue) -> None:
    assume(key_a != key_b)
    assert equality_tag(key_a, value) != equality_tag(key_b, value)


@FAST
@given(keys, json_values, json_values)
def test_different_values_give_different_tags(tag_key: bytes, a: JsonValue, b: JsonValue) -> None:
    assume(canonical_value(a) != canonical_value(b))
    assert equality_tag(tag_key, a) != equality_tag(tag_key, b)


def test_canonical_value_form() -> None:
    assert canonical_value({"b": [1, True, None], "a": "é"}) == '{"a":"é","b":[1,true,null]}'.encode()
    assert canonical_value("e\u0301") == canonical_value("é")  # NFC
    assert canonical_value(1) != canonical_value(True) != canonical_value("1")
    tag_key = random_key()
    assert equality_tag(tag_key, {"name": "Zoë"}) == equality_tag(tag_key, {"name": "Zoe\u0308"})
    expected = hmac.new(tag_key, b'{"a":1}', hashlib.sha256).digest()[:16].hex()
    assert equality_tag(tag_key, {"a": 1}) == expected


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), b"bytes", {1: "x"}, {"é": 1, "e\u0301": 2}, ("tuple",), {"a": {1, 2}}],
)
def test_canonical_value_rejects_non_json(bad: object) -> None:
    with pytest.raises(CryptoError):
        canonical_value(bad)  # type: ignore[arg-type]


def test_a_case_key_bundle_of_content_and_tag_key_wraps_and_only_those_lengths_do() -> None:
    from shared.crypto import random_key, unwrap_key, wrap_key

    wrapping = random_key()
    bundle = random_key() + random_key()
    assert unwrap_key(wrapping, wrap_key(wrapping, bundle, context=b"case"), context=b"case") == bundle
    for length in (16, 31, 33, 48, 65):
        with pytest.raises(CryptoError):
            wrap_key(wrapping, b"k" * length, context=b"case")
