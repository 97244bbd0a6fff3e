"""Subject access: one person's whole record as a readable file, made on a coordinator's device.

The person has a right to see what is held about them. The server cannot produce this (it holds
only ciphertext), so the coordinator's phone decrypts and writes a self-contained HTML page that
opens in any browser and prints: every detail with its full history (who wrote what, when), every
contact note, open conflicts, and anything this device could not read. Everything is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

from outreach_app.errors import NotAllowed
from outreach_app.services.device import Device
from outreach_app.services.records import CaseloadService, FieldValue, PersonRecord
from shared.kinds import Tier
from shared.protocol import Role

__all__ = ["ExportService", "SubjectAccessFile", "subject_access_export"]

_TIER_WORDS = {Tier.BASIC: "mentors may see this", Tier.FULL: "link workers and coordinators only"}


@dataclass(frozen=True)
class SubjectAccessFile:
    file_name: str
    content: bytes  # UTF-8 HTML


def subject_access_export(device: Device, records: CaseloadService, case_id: str) -> SubjectAccessFile:
    """The whole record of one person as an HTML file (coordinators only)."""
    identity = device.require_identity()
    if identity.role is not Role.COORDINATOR:
        raise NotAllowed("Only a coordinator can export a person's record.")
    record = records.person_record(case_id)
    produced = dt.datetime.fromtimestamp(device.now_ms() / 1000)
    page = _render(record, organisation=identity.org_name, produced_by=identity.display_name, produced_at=produced)
    stem = re.sub(r"[^A-Za-z0-9]+", "-", record.name or "person").strip("-") or "person"
    return SubjectAccessFile(f"record-{stem}-{produced:%Y-%m-%d}.html", page.encode("utf-8"))


class ExportService:
    def __init__(self, device: Device, records: CaseloadService) -> None:
        self._device = device
        self._records = records

    def subject_access(self, case_id: str) -> SubjectAccessFile:
        """One person's whole record as a readable HTML file (coordinators only; works offline)."""
        return subject_access_export(self._device, self._records, case_id)


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y, %H:%M")


def _value(value: FieldValue) -> str:
    text = value.value if value.readable and value.value is not None else "(could not be read on this device)"
    who = f"{html.escape(value.author.name)}, {_when(value.written_at_ms)}"
    return f"{html.escape(text)} <span class=meta>— {who}</span>"


def _render(record: PersonRecord, *, organisation: str, produced_by: str, produced_at: dt.datetime) -> str:
    e = html.escape
    name = e(record.name or "Name not readable on this device")
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Record of {name}</title>",
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
        ".meta{color:#555;font-size:.9em}table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}"
        "li{margin:.3rem 0}</style></head><body>",
        f"<h1>Record of {name}</h1>",
        f"<p class=meta>Everything {e(organisation)} holds about this person in Gatepost, produced for a subject "
        f"access request by {e(produced_by)} on {produced_at:%d %b %Y at %H:%M}. Times are the writer's.</p>",
        "<h2>Details</h2><table><tr><th>Detail</th><th>Now</th><th>History (oldest first)</th></tr>",
    ]
    for view in record.fields:
        now = _value(view.current) if view.current else "—"
        history = "".join(f"<li>{_value(value)}</li>" for value in view.history) or "<li>never recorded</li>"
        parts.append(
            f"<tr><td>{e(view.label)}<br><span class=meta>{_TIER_WORDS[view.tier]}</span></td>"
            f"<td>{now}</td><td><ul>{history}</ul></td></tr>"
        )
    parts.append("</table>")
    if record.open_conflicts:
        parts.append("<h2>Disagreements not yet settled</h2><ul>")
        for conflict in record.open_conflicts:
            parts.append(
                f"<li>{e(conflict.label)}: {_value(conflict.earlier)} <em>or</em> {_value(conflict.later)}</li>"
            )
        parts.append("</ul>")
    parts.append(f"<h2>Contacts ({len(record.contacts)})</h2>")
    for contact in record.contacts:
        parts.append(
            f"<h3>{e(contact.occurred_at.replace('T', ' '))} · {e(contact.setting_label)} · "
            f"{e(contact.contact_type_label)}</h3>"
            f"<p>{e(contact.note)}</p>"
            f"<p class=meta>{e(contact.basis_label)} · written by {e(contact.author.name)} · "
            f"{_TIER_WORDS[contact.tier]}</p>"
        )
    if record.unreadable:
        parts.append("<h2>Entries this device could not read</h2><ul>")
        for entry in record.unreadable:
            parts.append(
                f"<li>{e(entry.kind)} {e(entry.field)} by {e(entry.author.name)}, {_when(entry.written_at_ms)}: "
                f"{e(entry.reason)}</li>"
            )
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
