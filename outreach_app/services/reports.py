"""``ReportService``: the outcomes report, computed on a coordinator's phone from the decrypted record.

The server holds only ciphertext, so the report can be made only where the content can be read: a
coordinator's device. This service gathers each person's facts (when their order or licence ends,
where they live, work and training, gate outcomes, contacts, need ratings, referrals, whether they
work with us) into ``shared.outcomes.PersonFacts`` and lets the pure functions there count them.

- ``outcomes(period)``: every figure with the people behind it (coordinators only).
- ``names(case_ids)``: the names of the people behind a figure, for the coordinator's list.
- ``anonymised_csv(period)``: the aggregates for commissioners as a CSV file, with no names or
  identifiers and every number under 5 hidden (see ``shared.outcomes.suppressed_keys``).
- ``anonymised_summary(period)``: the same figures on one printable HTML page, with bar charts of
  the headline measures (a hidden number has no bar and no percentage).

A value this phone cannot read or trust is left out, never guessed: a person whose details cannot
be read here is not counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from outreach_app.errors import NotAllowed
from outreach_app.services.device import Device
from outreach_app.services.keys import KeyChain
from outreach_app.services.rows import read_versions
from outreach_app.services.versions import Unreadable, counts_in_merge, decrypt_version, stamp_of
from outreach_app.storage.tables import LocalVersion
from shared.clock import Hlc
from shared.crypto import JsonValue
from shared.kinds import (
    ACCOMMODATION,
    CONTACT,
    EMPLOYMENT,
    GATE_OUTCOME,
    NEED_RATING,
    PERSON,
    REFERRAL,
    FieldSpec,
    KindSpec,
    kind_spec,
    validate_value,
)
from shared.merge import field_state
from shared.outcomes import (
    AccommodationEntry,
    ContactFact,
    EmploymentEntry,
    Figure,
    GateEntry,
    OutcomesReport,
    Period,
    PersonFacts,
    RatingFact,
    ReferralFact,
    anonymised_rows,
    outcomes_report,
    shown_value,
    suppressed_keys,
)
from shared.protocol import Role
from shared.resettlement import AccommodationType, EmploymentStatus, Engagement, EteStage, Rating, Release

__all__ = ["ReportFile", "ReportService", "current_values", "person_facts"]

_KINDS = (PERSON, CONTACT, ACCOMMODATION, EMPLOYMENT, GATE_OUTCOME, NEED_RATING, REFERRAL)
_ENTRY_KINDS: Mapping[str, KindSpec] = {
    spec.name: spec for spec in (CONTACT, ACCOMMODATION, EMPLOYMENT, GATE_OUTCOME, NEED_RATING)
}
# The fields each kind's entries are counted by: an entry whose field is not valid is left out.
_COUNTED_FIELDS: Mapping[str, tuple[FieldSpec, ...]] = {
    name: tuple(
        field_spec
        for field_name, field_spec in spec.fields.items()
        if name != CONTACT.name or field_name in ("occurred_at", "setting", "contact_type", "need_areas")
    )
    for name, spec in _ENTRY_KINDS.items()
}


@dataclass(frozen=True)
class ReportFile:
    file_name: str
    content: bytes


class ReportService:
    def __init__(self, device: Device) -> None:
        self._device = device

    def _require_coordinator(self) -> None:
        if self._device.require_identity().role is not Role.COORDINATOR:
            raise NotAllowed("Only a coordinator can see the outcomes report.")

    def outcomes(self, period: Period) -> OutcomesReport:
        """Every measure for the period, from what this (coordinator's) phone holds."""
        self._require_coordinator()
        return outcomes_report(self.facts(), period)

    def anonymised_csv(self, period: Period) -> ReportFile:
        """The aggregates for commissioners: no names, no identifiers, numbers under 5 hidden."""
        report = self.outcomes(period)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("section", "measure", "counted in", "value"))
        writer.writerows(anonymised_rows(report))
        name = f"outcomes-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"
        return ReportFile(name, buffer.getvalue().encode("utf-8"))

    def anonymised_summary(self, period: Period) -> ReportFile:
        """The figures on one printable page with charts, for commissioners: no names or identifiers,
        numbers under 5 hidden as in the CSV."""
        report = self.outcomes(period)
        identity = self._device.require_identity()
        produced = dt.datetime.fromtimestamp(self._device.now_ms() / 1000)
        page = _summary_html(report, organisation=identity.org_name, produced_at=produced)
        name = f"outcomes-summary-{period.start.isoformat()}-to-{period.end.isoformat()}.html"
        return ReportFile(name, page.encode("utf-8"))

    def names(self, case_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(case id, name) for the people behind a figure, by name (coordinators only)."""
        self._require_coordinator()
        wanted = set(case_ids)
        keys = self._device.require_keys()
        with self._device.store.read() as session:
            rows = session.exec(
                select(LocalVersion).where(
                    LocalVersion.kind == PERSON.name,
                    LocalVersion.field == "name",
                    col(LocalVersion.case_id).in_(wanted),
                )
            ).all()
        by_case: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if row.case_id is not None and counts_in_merge(row):
                by_case[row.case_id].append(row)
        people = []
        for case_id in wanted:
            name = current_values(self._device, keys, by_case.get(case_id, [])).get("name")
            people.append((case_id, name if isinstance(name, str) else "Name not readable on this phone"))
        people.sort(key=lambda item: (item[1].casefold(), item[0]))
        return people

    def facts(self) -> list[PersonFacts]:
        """Each readable person's facts, as ``shared.outcomes`` counts them."""
        device = self._device
        keys = device.require_keys()
        with device.store.read() as session:
            rows = read_versions(session, [spec.name for spec in _KINDS])
        by_case: dict[str, list[LocalVersion]] = defaultdict(list)
        for row in rows:
            if row.case_id is not None and counts_in_merge(row):
                by_case[row.case_id].append(row)
        people = []
        for case_id, case_rows in sorted(by_case.items()):
            facts = person_facts(device, keys, case_id, case_rows)
            if facts is not None:
                people.append(facts)
        return people


def person_facts(
    device: Device,
    keys: KeyChain,
    case_id: str,
    rows: Sequence[LocalVersion],
    person: Mapping[str, JsonValue] | None = None,
) -> PersonFacts | None:
    """One person's facts from the versions of their case (``person``: their details, when the
    caller has read them already); None when this phone cannot read who they are."""
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        grouped[row.kind].append(row)
    if person is None:
        person = current_values(device, keys, grouped[PERSON.name])
    if not isinstance(person.get("name"), str):
        return None  # not a person this phone can read
    entries: dict[str, list[tuple[int, dict[str, JsonValue]]]] = defaultdict(list)
    for kind, counted in _COUNTED_FIELDS.items():
        for row in grouped[kind]:
            value = _value(device, keys, row)
            if isinstance(value, dict) and all(
                validate_value(field_spec, value.get(field_spec.name)) is None for field_spec in counted
            ):
                # Contacts are counted by their day; the others need the order they were written in.
                entries[kind].append((0 if kind == CONTACT.name else Hlc.parse(row.hlc).wall_ms, value))
    referrals: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in grouped[REFERRAL.name]:
        referrals[row.record_id].append(row)
    release = Release.parse(_text(person.get("release_at")))
    engagement = _text(person.get("engagement"))
    return PersonFacts(
        case_id=case_id,
        release_on=release.on if release else None,
        supervision=_text(person.get("supervision")),
        supervision_ends_on=_date(person.get("supervision_ends_on")),
        engagement=Engagement(engagement) if engagement else None,
        engagement_on=_date(person.get("engagement_on")),
        accommodation=tuple(
            AccommodationEntry(
                AccommodationType(str(entry["accommodation_type"])),
                entry["suitable"] is True,
                _day(entry["from_on"]),
                recorded,
            )
            for recorded, entry in entries[ACCOMMODATION.name]
        ),
        employment=tuple(
            EmploymentEntry(
                EmploymentStatus(str(entry["status"])),
                _day(entry["from_on"]),
                EteStage(str(entry["ete_stage"])) if entry.get("ete_stage") else None,
                recorded,
            )
            for recorded, entry in entries[EMPLOYMENT.name]
        ),
        gate_outcomes=tuple(
            GateEntry(
                entry["met"] is True,
                _flag(entry.get("housed_on_release_day")),
                _flag(entry.get("reached_planned_address")),
                recorded,
            )
            for recorded, entry in entries[GATE_OUTCOME.name]
        ),
        contacts=tuple(
            ContactFact(
                dt.datetime.fromisoformat(str(entry["occurred_at"])).date(),
                str(entry["setting"]),
                str(entry["contact_type"]),
                _areas(entry.get("need_areas")),
            )
            for _, entry in entries[CONTACT.name]
        ),
        ratings=tuple(
            RatingFact(str(entry["need_area"]), Rating(str(entry["rating"])), _day(entry["rated_on"]), recorded)
            for recorded, entry in entries[NEED_RATING.name]
        ),
        referrals=tuple(
            referral
            for record_rows in referrals.values()
            if (referral := _referral(current_values(device, keys, record_rows))) is not None
        ),
    )


def _referral(values: Mapping[str, JsonValue]) -> ReferralFact | None:
    sent_on = _date(values.get("sent_on"))
    service, status = _text(values.get("service")), _text(values.get("status"))
    if sent_on is None or service is None or status is None:
        return None  # not all of it is readable here
    return ReferralFact(service, sent_on, status, _date(values.get("status_on")))


def current_values(device: Device, keys: KeyChain, rows: Sequence[LocalVersion]) -> dict[str, JsonValue]:
    """The current value of each field of one mutable record, where this device can read and trust it."""
    grouped: dict[str, list[LocalVersion]] = defaultdict(list)
    for row in rows:
        grouped[row.field].append(row)
    values: dict[str, JsonValue] = {}
    for name, group in grouped.items():
        state = field_state([stamp_of(row) for row in group])
        current = next(row for row in group if row.change_id == state.current.change_id)
        spec = kind_spec(current.kind)
        field_spec = spec.fields.get(name) if spec is not None else None
        value = _value(device, keys, current)
        if field_spec is not None and value not in (None, "") and validate_value(field_spec, value) is None:
            values[name] = value
    return values


def _value(device: Device, keys: KeyChain, row: LocalVersion) -> JsonValue:
    try:
        return decrypt_version(device, keys, row)
    except Unreadable:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _day(value: JsonValue) -> dt.date:
    return dt.date.fromisoformat(str(value))


def _areas(value: object) -> tuple[str, ...]:
    return tuple(area for area in value if isinstance(area, str)) if isinstance(value, list) else ()


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


# --- the printable summary ----------------------------------------------------------------------

_CHARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "NI 143: settled and suitable at the end of the order or licence",
        ("ni143.settled_suitable", "ni143.settled_suitable_strict"),
    ),
    ("NI 144: in employment at the end of the order or licence", ("ni144.employed",)),
    ("Release day", ("release.met", "release.housed", "release.reached_address")),
)


def _chart_svg(title: str, rows: Sequence[tuple[str, float | None, str]]) -> str:
    """A horizontal bar chart (matplotlib, as SVG with its text kept as text) of the share of people
    behind each figure; a hidden figure has no bar, only its "*"."""
    from matplotlib import rc_context  # imported here: only the printable summary needs it
    from matplotlib.figure import Figure as Chart

    labels = [textwrap.fill(label, 34) for label, _, _ in rows]
    shares = [100 * share if share is not None else 0.0 for _, share, _ in rows]
    lines = sum(label.count("\n") + 1 for label in labels)
    with rc_context({"svg.fonttype": "none", "font.size": 8}):
        chart = Chart(figsize=(6.2, 0.6 + 0.2 * lines + 0.1 * len(rows)), layout="constrained")
        axes = chart.add_subplot()
        bars = axes.barh(labels, shares, color="#1b6b5f", height=0.55)
        axes.bar_label(bars, labels=[text for _, _, text in rows], padding=3)
        axes.set_xlim(0, 135)  # room for the value beside a full bar
        axes.invert_yaxis()  # the first figure at the top
        axes.xaxis.set_visible(False)
        for side in ("top", "right", "bottom"):
            axes.spines[side].set_visible(False)
        chart.suptitle(title, x=0.01, ha="left", fontsize=9, fontweight="bold")
        out = io.StringIO()
        chart.savefig(out, format="svg")
    svg = out.getvalue()
    return svg[svg.index("<svg") :]  # inline: without the XML prologue


def _summary_html(report: OutcomesReport, *, organisation: str, produced_at: dt.datetime) -> str:
    e = html.escape
    hidden = suppressed_keys(report.figures)
    by_key = {item.key: item for item in report.figures}

    def value(item: Figure) -> str:
        shown = shown_value(item, hidden)
        total = by_key.get(item.out_of) if item.out_of else None
        if total is None or item.key in hidden or total.key in hidden or total.count == 0:
            return shown
        return f"{shown} of {total.count} ({round(100 * item.count / total.count)}%)"

    def share(item: Figure) -> float | None:
        total = by_key.get(item.out_of) if item.out_of else None
        if total is None or item.key in hidden or total.key in hidden or total.count == 0:
            return None
        return item.count / total.count

    period = report.period
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Outcomes {period.start.isoformat()} to {period.end.isoformat()}</title>",
        "<style>@page{size:A4;margin:12mm}body{font:11px/1.35 system-ui,sans-serif;max-width:48rem;margin:1rem auto}"
        "h1{font-size:18px;margin:0}h2{font-size:13px;margin:.8rem 0 .2rem}table{border-collapse:collapse;width:100%}"
        "td{padding:1px 4px;vertical-align:middle}.meta{color:#555}.cols{columns:2;column-gap:1.5rem}"
        ".cols table{break-inside:avoid}.chart td:first-child{width:50%}.chart td:last-child{white-space:nowrap}"
        "</style></head><body>",
        f"<h1>Outcomes, {e(organisation)}</h1>",
        f"<p class=meta>{period.start:%d %b %Y} to {period.end:%d %b %Y} (both included). Made on "
        f"{produced_at:%d %b %Y} from the records on a coordinator's device. No names or identifiers. "
        "* is a number under 5, or one hidden so that a number under 5 cannot be worked out.</p>",
    ]
    for title, keys in _CHARTS:
        rows = [(by_key[key].label, share(by_key[key]), value(by_key[key])) for key in keys]
        described = "; ".join(f"{label}: {text}" for label, _, text in rows)
        parts.append(f"<figure role=img aria-label='{e(title)}: {e(described)}'>{_chart_svg(title, rows)}</figure>")
    parts.append("<div class=cols>")
    for section in report.sections:
        rows = [item for item in section.figures if item.count or item.group is None]
        if not rows:
            continue
        parts.append(f"<table><tr><td colspan=2><h2>{e(section.title)}</h2></td></tr>")
        parts += [f"<tr><td>{e(item.label)}</td><td>{e(value(item))}</td></tr>" for item in rows]
        parts.append("</table>")
    parts.append("</div></body></html>")
    return "\n".join(parts)
