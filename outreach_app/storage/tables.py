"""The device's tables. Nothing about a person is stored in plaintext: field values are kept
exactly as the server stores them (ciphertext), and keys only encrypted under the device key.

- ``local_version``: the protocol ``Version`` fields, with ``seq``, ``org_id`` and
  ``author_user_id`` empty until the server has acknowledged the version, plus ``pending`` (in
  the outbox) and ``acknowledged`` (the server holds it).
- ``key_grant``: the protocol ``KeyGrant`` fields, for grants received (kept so they can be opened
  again after the device key is lost) and grants made here (``pending`` until acknowledged).
- ``push_rejection``: why the server refused a version or grant, kept visible to the worker.
- ``keyring``: ``key_id`` -> key material encrypted under the device key (AES-GCM, associated
  data bound to the key id).
- ``device_state``: a key/value table for the device's settings and session (see
  ``outreach_app.storage.store.StateKey``).
- ``case_change``: how many times each case's versions changed here (inserted, updated or deleted),
  counted by triggers on ``local_version`` so that no write, bulk statements included, is missed;
  versions received by a pull (the only ones inserted as not pending) are counted by the statement
  that stores them instead (``outreach_app.storage.outbox.insert_received``, migration 0004).
- ``case_summary``: what the coordinator's screens worked out from a case (its facts, see
  ``outreach_app.services.facts``), encrypted under the device key and valid only while the case's
  change count and the keys held for it are what they were; deleting any version of the case deletes
  its summary (a trigger), so an erased case leaves no summary behind.

``outreach_app/storage/migrations`` creates and upgrades these tables; change both together.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from shared.protocol import ChangeIn, KeyGrantIn, Version

__all__ = [
    "CaseChange",
    "CaseSummary",
    "DeviceState",
    "KeyGrantRow",
    "KeyringEntry",
    "LocalVersion",
    "PushRejection",
    "metadata",
]

metadata = SQLModel.metadata


class LocalVersion(SQLModel, table=True):
    __tablename__ = "local_version"
    __table_args__ = (
        Index("ix_local_version_case", "case_id", "kind"),
        Index("ix_local_version_field", "record_id", "field", "hlc"),
        # Only the outbox (migration 0005): queries name it with the same "pending IS 1".
        Index("ix_local_version_outbox", "hlc", sqlite_where=text("pending IS 1")),
    )

    change_id: str = Field(primary_key=True)
    record_id: str
    case_id: str | None = None
    kind: str
    field: str
    tier: str
    key_id: str
    hlc: str
    base_hlc: str | None = None
    author_device_id: str
    nonce: str
    ciphertext: str
    tag: str
    amends: str | None = None
    settles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seq: int | None = None
    org_id: str | None = None
    author_user_id: str | None = None
    pending: bool = False
    acknowledged: bool = False

    def to_change(self) -> ChangeIn:
        return ChangeIn.model_validate(self.model_dump(include=set(ChangeIn.model_fields)))

    def to_version(self) -> Version | None:
        """The version as the server delivers it; None until acknowledged with its metadata."""
        if self.seq is None or self.org_id is None or self.author_user_id is None:
            return None
        return Version.model_validate(self.model_dump(include=set(Version.model_fields)))

    def same_content(self, version: ChangeIn) -> bool:
        """Whether ``version`` carries exactly this version's content (a server copy of it)."""
        return self.to_change() == ChangeIn.model_validate(version.model_dump(include=set(ChangeIn.model_fields)))


class KeyGrantRow(SQLModel, table=True):
    __tablename__ = "key_grant"
    __table_args__ = (Index("ix_key_grant_key", "key_id"), Index("ix_key_grant_pending", "pending"))

    grant_id: str = Field(primary_key=True)
    key_id: str
    case_id: str | None = None
    recipient_kind: str
    recipient_id: str
    wrapped_with: str
    wrapped: str
    seq: int | None = None
    org_id: str | None = None
    created_by_user_id: str | None = None
    pending: bool = False
    acknowledged: bool = False

    def to_grant_in(self) -> KeyGrantIn:
        return KeyGrantIn.model_validate(self.model_dump(include=set(KeyGrantIn.model_fields)))

    @classmethod
    def outgoing(cls, grant: KeyGrantIn) -> KeyGrantRow:
        return cls(**grant.model_dump(), pending=True, acknowledged=False)


class PushRejection(SQLModel, table=True):
    """The server refused a version or grant (``item_id`` is its change id or grant id)."""

    __tablename__ = "push_rejection"

    item_id: str = Field(primary_key=True)
    reason: str
    detail: str | None = None
    at_ms: int


class KeyringEntry(SQLModel, table=True):
    __tablename__ = "keyring"

    key_id: str = Field(primary_key=True)
    nonce: str
    ciphertext: str


class DeviceState(SQLModel, table=True):
    __tablename__ = "device_state"

    key: str = Field(primary_key=True)
    value: str


class CaseChange(SQLModel, table=True):
    __tablename__ = "case_change"

    case_id: str = Field(primary_key=True)
    changes: int


class CaseSummary(SQLModel, table=True):
    __tablename__ = "case_summary"

    case_id: str = Field(primary_key=True)
    changes: int  # the case's count in ``case_change`` when it was worked out
    keys: str  # which keys of the case this device held then (a digest of their ids)
    nonce: str
    ciphertext: str
