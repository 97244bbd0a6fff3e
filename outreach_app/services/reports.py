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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from outreach_app.errors import NotAllowed
from outreach_app.services.device import Device
from outreach_app.services.facts import caseload_facts, current_values
from outreach_app.services.versions import counts_in_merge
from outreach_app.storage.tables import LocalVersion
from shared.kinds import (
    PERSON,
)
from shared.outcomes import (
    Figure,
    OutcomesReport,
    Period,
    anonymised_rows,
    outcomes_report,
    shown_value,
    suppressed_keys,
)
from shared.protocol import Role

__all__ = ["ReportFile", "ReportService"]


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
        caseload = caseload_facts(self._device)
        return outcomes_report([person.facts for person in caseload.people], period, caseload.not_readable)

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
