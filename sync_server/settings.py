"""Server configuration, read from ``OUTREACH_*`` environment variables (or passed in by tests).

Outside development the server refuses to start with a placeholder or short ``server_secret``, and
in production it needs ``jwt_private_key_pem`` (an Ed25519 private key in PEM). In development and
test, a missing JWT key is generated once and kept in ``data_dir/jwt-ed25519.pem`` (see
``sync_server.services.tokens.load_signing_key``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import MAX_CLOCK_AHEAD_MS

__all__ = ["DEVELOPMENT_SECRET", "MIN_SECRET_LENGTH", "ServerSettings"]

DEVELOPMENT_SECRET = "development-only-secret"  # noqa: S105 - a placeholder, refused outside development
MIN_SECRET_LENGTH = 32
_PLACEHOLDER_MARKERS = ("development-only", "change-me", "changeme", "placeholder", "example", "secret-here")


def _is_placeholder(secret: str) -> bool:
    lowered = secret.lower()
    return secret == DEVELOPMENT_SECRET or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


class ServerSettings(BaseSettings):
    """Everything the sync server can be configured with; env prefix ``OUTREACH_``."""

    model_config = SettingsConfigDict(env_prefix="OUTREACH_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    # None -> SQLite in data_dir. PostgreSQL: postgresql+psycopg://user@host:5432/db
    database_url: str | None = None
    server_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    jwt_private_key_pem: SecretStr | None = None
    jwt_issuer: str = "gatepost-sync"
    jwt_audience: str = "gatepost-app"
    access_token_ttl_seconds: int = Field(default=900, gt=0)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    host: str = "127.0.0.1"
    server_port: int = Field(default=8000, ge=1, le=65535)
    max_request_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_clock_ahead_ms: int = Field(default=MAX_CLOCK_AHEAD_MS, ge=0)
    invitation_ttl_days: int = Field(default=14, gt=0)
    # Sign-in throttling: failures counted per typed email and per client address over a window.
    sign_in_window_seconds: int = Field(default=15 * 60, gt=0)
    sign_in_failures_per_account: int = Field(default=5, gt=0)
    sign_in_failures_per_address: int = Field(default=50, gt=0)
    auto_migrate: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe_secrets(self) -> ServerSettings:
        if self.environment != "development":
            secret = self.server_secret.get_secret_value()
            if _is_placeholder(secret) or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"OUTREACH_SERVER_SECRET must be a random value of at least {MIN_SECRET_LENGTH} characters "
                    f"outside development (environment is {self.environment!r}); generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
        if self.jwt_private_key_pem is None:
            if self.environment == "production":
                raise ValueError(
                    "OUTREACH_JWT_PRIVATE_KEY_PEM (an Ed25519 private key in PEM) is required in production"
                )
        else:
            try:
                key = load_pem_private_key(self.jwt_private_key_pem.get_secret_value().encode("utf-8"), password=None)
            except (ValueError, TypeError):
                raise ValueError("OUTREACH_JWT_PRIVATE_KEY_PEM is not an unencrypted PEM private key") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("OUTREACH_JWT_PRIVATE_KEY_PEM must be an Ed25519 private key")
        return self

    def resolved_database_url(self) -> str:
        """The database URL in use: ``database_url`` or SQLite at ``data_dir/server.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'server.db'}"

    @property
    def jwt_key_path(self) -> Path:
        """Where a development/test JWT key is kept when none is configured."""
        return self.data_dir / "jwt-ed25519.pem"
