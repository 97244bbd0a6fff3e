"""Access tokens (EdDSA JWTs, algorithm pinned) and opaque refresh tokens.

An access token's claims: ``iss``, ``aud``, ``sub`` (user id), ``dev`` (device id), ``org``,
``role``, ``typ="access"``, ``iat``, ``nbf``, ``exp`` and ``jti``; every one is required on decode.
Refresh tokens are 32 random bytes (URL-safe base64); only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from sync_server.errors import Unauthenticated
from sync_server.settings import ServerSettings

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "AccessClaims",
    "TokenService",
    "hash_refresh_token",
    "load_signing_key",
    "new_refresh_token",
]

ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
_ALGORITHM = "EdDSA"
# ``iat_ms``: the issue time to the millisecond, so a password reset can end tokens issued before it.
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "dev", "org", "role", "typ", "iat", "iat_ms", "nbf", "exp", "jti"]
_LEEWAY_SECONDS = 5
# Tokens whose signature and claims were decoded already (a phone sends the same token for its
# whole lifetime): verifying an Ed25519 signature cost more than the rest of a no-change pull's
# authentication. Only the decoding is remembered; the times are checked on every request.
_DECODED_TOKENS = 4096


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    device_id: str
    org_id: str
    role: str
    issued_at_ms: int


def load_signing_key(settings: ServerSettings) -> Ed25519PrivateKey:
    """The configured Ed25519 key, or (development/test only) one kept in ``data_dir``.

    A generated key is written once with mode 0600 so that restarts keep sessions valid.
    """
    if settings.jwt_private_key_pem is not None:
        key = load_pem_private_key(settings.jwt_private_key_pem.get_secret_value().encode("utf-8"), password=None)
        if not isinstance(key, Ed25519PrivateKey):  # also checked by the settings validator
            raise ValueError("the JWT signing key must be an Ed25519 private key")
        return key
    if settings.environment == "production":  # the settings validator refuses this already
        raise ValueError("OUTREACH_JWT_PRIVATE_KEY_PEM is required in production")
    return _load_or_create_key_file(settings.jwt_key_path)


def _load_or_create_key_file(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        # Write a private temporary file, then link it into place: the link either appears
        # complete or fails because another process (a second worker) got there first.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            return key
        finally:
            temporary.unlink(missing_ok=True)
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return loaded


class TokenService:
    """Issues and verifies access tokens with one Ed25519 key."""

    def __init__(self, settings: ServerSettings, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key: Ed25519PublicKey = private_key.public_key()
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.ttl_seconds = settings.access_token_ttl_seconds
        self._decoded: dict[str, dict[str, Any]] = {}
        self._decoded_lock = threading.Lock()

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    def issue(self, *, user_id: str, device_id: str, org_id: str, role: str, now_ms: int) -> str:
        now = now_ms // 1000
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "dev": device_id,
            "org": org_id,
            "role": role,
            "typ": ACCESS_TOKEN_TYPE,
            "iat": now,
            "iat_ms": now_ms,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._private_key, algorithm=_ALGORITHM)

    def verify(self, token: str, *, now_ms: int) -> AccessClaims:
        """The claims of a valid access token; anything else raises ``Unauthenticated``."""
        claims = self._decoded.get(token)
        if claims is None:
            claims = self._decode(token)
        now = now_ms // 1000
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not all(type(value) is int for value in (exp, nbf, iat)):
            raise _invalid()
        assert isinstance(exp, int)
        assert isinstance(nbf, int)
        if nbf > now + _LEEWAY_SECONDS:
            raise _invalid()
        if exp <= now - _LEEWAY_SECONDS:
            raise Unauthenticated("token_expired", "Your session has expired: sign in again")
        values = [claims.get(name) for name in ("sub", "dev", "org", "role")]
        if claims.get("typ") != ACCESS_TOKEN_TYPE or not all(isinstance(value, str) for value in values):
            raise _invalid()
        user_id, device_id, org_id, role = (str(value) for value in values)
        issued_at_ms = claims.get("iat_ms")
        if type(issued_at_ms) is not int:
            raise _invalid()
        return AccessClaims(user_id=user_id, device_id=device_id, org_id=org_id, role=role, issued_at_ms=issued_at_ms)

    def _decode(self, token: str) -> dict[str, Any]:
        """Check the signature, algorithm, audience, issuer and required claims of ``token`` (not
        its times) and remember the claims of one that passes."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Times are checked by ``verify`` against the server's (injectable) clock, not PyJWT's.
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise _invalid() from None
        with self._decoded_lock:
            if len(self._decoded) >= _DECODED_TOKENS:
                del self._decoded[next(iter(self._decoded))]  # the oldest
            self._decoded[token] = claims
        return claims


def _invalid() -> Unauthenticated:
    return Unauthenticated("token_invalid", "Your session is not valid: sign in again")


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
