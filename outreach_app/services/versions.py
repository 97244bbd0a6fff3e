"""Encrypting, decrypting and re-stamping versions: the one place field crypto meets the store."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from outreach_app.ids import uuid7
from outreach_app.services.device import Device
from outreach_app.services.keys import CaseKeys, KeyChain
from outreach_app.storage.tables import LocalVersion
from shared.clock import Hlc, HybridClock
from shared.crypto import (
    JsonValue,
    b64decode,
    b64encode,
    canonical_value,
    decrypt_field,
    encrypt_field,
    equality_tag,
    field_associated_data,
)
from shared.errors import OutreachError
from shared.kinds import ENTRY_FIELD, KINDS, Tier
from shared.merge import VersionStamp

__all__ = [
    "AUTHOR_NAME_KEY",
    "Unreadable",
    "append_entry",
    "author_name",
    "colleague_names",
    "counts_in_merge",
    "decrypt_version",
    "new_version",
    "restamp_pending",
    "stamp_of",
    "write_entry",
]

_APPEND_ONLY = {name: spec.append_only for name, spec in KINDS.items()}


class Unreadable(Exception):
    """A version this device cannot decrypt or validate; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# An entry carries its author's display name (encrypted with it): the protocol has no way for a
# device to look up a colleague's name.
AUTHOR_NAME_KEY = "author_name"


def stamp_of(row: LocalVersion) -> VersionStamp:
    return VersionStamp(
        change_id=row.change_id,
        record_id=row.record_id,
        field=row.field,
        hlc=row.hlc,
        author_device_id=row.author_device_id,
        base_hlc=row.base_hlc,
        tag=row.tag,
        settles=tuple(row.settles),
    )


def _seal_value(keys: CaseKeys, record_id: str, field: str, hlc: str, value: JsonValue) -> tuple[str, str]:
    nonce, ciphertext = encrypt_field(
        keys.content, canonical_value(value), field_associated_data(record_id, field, hlc, keys.key_id)
    )
    return b64encode(nonce), b64encode(ciphertext)


def new_version(
    device: Device,
    session: Session,
    keys: CaseKeys,
    *,
    record_id: str,
    case_id: str | None,
    kind: str,
    field: str,
    tier: Tier,
    value: JsonValue,
    base_hlc: str | None = None,
    settles: Sequence[str] = (),
    amends: str | None = None,
) -> LocalVersion:
    """Encrypt ``value`` as a new version in the outbox, stamped by the device clock."""
    hlc = device.stamp(session)
    nonce, ciphertext = _seal_value(keys, record_id, field, hlc.encode(), value)
    row = LocalVersion(
        change_id=uuid7(device.now_ms()),
        record_id=record_id,
        case_id=case_id,
        kind=kind,
        field=field,
        tier=tier.value,
        key_id=keys.key_id,
        hlc=hlc.encode(),
        base_hlc=base_hlc,
        author_device_id=hlc.device,
        nonce=nonce,
        ciphertext=ciphertext,
        tag=equality_tag(keys.tag, value),
        amends=amends,
        settles=list(settles),
        pending=True,
        acknowledged=False,
    )
    session.add(row)
    return row


def write_entry(
    device: Device,
    session: Session,
    keys: CaseKeys,
    *,
    case_id: str,
    kind: str,
    tier: Tier,
    value: JsonValue,
    amends: str | None = None,
) -> str:
    """Write a new record of an append-only kind (one ``entry`` version) in the caller's
    transaction, so that what goes with it is saved with it; returns the new record's id."""
    record_id = uuid7(device.now_ms())
    new_version(
        device,
        session,
        keys,
        record_id=record_id,
        case_id=case_id,
        kind=kind,
        field=ENTRY_FIELD,
        tier=tier,
        value=value,
        amends=amends,
    )
    return record_id


def append_entry(device: Device, keys: CaseKeys, *, case_id: str, kind: str, tier: Tier, value: JsonValue) -> str:
    """Write a record of an append-only kind (one ``entry`` version) in its own transaction; returns
    the new record's id."""
    with device.store.write() as session:
        return write_entry(device, session, keys, case_id=case_id, kind=kind, tier=tier, value=value)


def counts_in_merge(row: LocalVersion) -> bool:
    """Versions the server refused stay visible but out of the merge, so replicas agree."""
    return row.pending or row.acknowledged


def decrypt_version(device: Device, keys: KeyChain, row: LocalVersion) -> JsonValue:
    """The value of a version; ``Unreadable`` when this device cannot open or trust it."""
    cached = device.plaintext_cache.get(row.change_id + row.hlc)
    if cached is not None:
        return cached
    case_keys = keys.case_keys(row.key_id)
    if case_keys is None:
        raise Unreadable("This device does not hold the key for it.")
    try:
        plaintext = decrypt_field(
            case_keys.content,
            b64decode(row.nonce),
            b64decode(row.ciphertext),
            field_associated_data(row.record_id, row.field, row.hlc, row.key_id),
        )
        value: JsonValue = json.loads(plaintext)
        # A tag only ever decides a conflict between versions of one field. An append-only entry is
        # the one version of its record (the server refuses a second), so its tag is never compared
        # and checking it would only cost time on screens that read every contact.
        if not _APPEND_ONLY.get(row.kind, False) and equality_tag(case_keys.tag, value) != row.tag:
            raise Unreadable("Its content does not match its tag.")
    except (OutreachError, ValueError):
        raise Unreadable("It could not be decrypted.") from None
    device.plaintext_cache[row.change_id + row.hlc] = value
    return value


def colleague_names(device: Device, user_ids: set[str], kinds: Sequence[str]) -> dict[str, str]:
    """Colleagues' names as their own entries of ``kinds`` give them (each carries its author's
    name, encrypted; the protocol has no member directory a phone could read names from)."""
    names: dict[str, str] = {}
    if not user_ids:
        return names
    keys = device.require_keys()
    with device.store.read() as session:
        rows = session.exec(
            select(LocalVersion)
            .where(col(LocalVersion.kind).in_(list(kinds)), col(LocalVersion.author_user_id).in_(sorted(user_ids)))
            .order_by(col(LocalVersion.hlc).desc())
        ).all()
    for row in rows:
        if row.author_user_id is None or row.author_user_id in names:
            continue
        if (name := author_name(device, keys, row)) is not None:
            names[row.author_user_id] = name
        if len(names) == len(user_ids):
            break
    return names


def author_name(device: Device, keys: KeyChain, row: LocalVersion) -> str | None:
    """The name an entry gives its author (inside the encrypted entry), or None."""
    try:
        value = decrypt_version(device, keys, row)
    except Unreadable:
        return None
    if isinstance(value, dict) and isinstance(name := value.get(AUTHOR_NAME_KEY), str) and name.strip():
        return name.strip()[:80]
    return None


def restamp_pending(device: Device, session: Session, change_ids: set[str]) -> int:
    """Give pending versions new clock stamps (re-encrypting them: the stamp is associated data).

    Used when the server says a phone's clock is too far ahead, and when the server registered
    this phone under a new device id. The new stamps follow every other version this device holds,
    and a re-stamped version that was the base of another keeps being its base.
    """
    rows = session.exec(
        select(LocalVersion).where(col(LocalVersion.change_id).in_(change_ids), LocalVersion.pending)
    ).all()
    keys = device.keys
    if not rows or keys is None:
        return 0
    # Versions the server refused for good are on no other replica and out of the merge: a stamp far
    # ahead among them must not hold every re-stamp ahead of the server too.
    floor = session.exec(
        select(func.max(LocalVersion.hlc)).where(
            col(LocalVersion.change_id).not_in(change_ids),
            col(LocalVersion.pending) | col(LocalVersion.acknowledged),
        )
    ).one()
    base = device.clock(session)
    clock = HybridClock(base.device)
    if floor is not None:
        stamp = Hlc.parse(floor)
        clock = HybridClock(base.device, wall_ms=stamp.wall_ms, counter=stamp.counter)
    physical = device.physical_ms(session)
    renamed: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r.hlc):
        case_keys = keys.case_keys(row.key_id)
        if case_keys is None:
            continue
        try:
            value = decrypt_version(device, keys, row)
        except Unreadable:
            continue
        hlc = clock.now(physical).encode()
        renamed[row.hlc] = hlc
        row.nonce, row.ciphertext = _seal_value(case_keys, row.record_id, row.field, hlc, value)
        row.hlc, row.author_device_id = hlc, clock.device
        session.add(row)
    for row in session.exec(select(LocalVersion).where(LocalVersion.pending)).all():
        if row.base_hlc in renamed:
            row.base_hlc = renamed[row.base_hlc]
            session.add(row)
    Device.save_clock(session, clock)
    return len(renamed)
