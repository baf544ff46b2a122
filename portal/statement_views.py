"""Statements of billing periods on the customer pages: the list, and each statement as a
printable page, a PDF, a CSV and the signed JSON.

Members of the customer (admins and viewers: statements are billing documents, not settings)
and the account team see them; anyone else gets 404 (`portal.access`). Everything shown comes
from the signed document: an issued statement's `Statement.document`, exactly as issued, or
the provisional one `services.statement_provisional` signs on demand for the period so far.
Nothing is recomputed for an issued statement, so the page, the PDF, the CSV and the JSON
always say what the signature covers.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
from datetime import datetime, time, timedelta
from typing import Any, Final

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from licensing import billing, links, selectors, services
from licensing.models import BillingPeriod, Entitlement, Statement
from portal import access, pdf

logger = logging.getLogger(__name__)

STATEMENTS_PER_PAGE: Final = 24

# The figures of a statement, in the order a reader takes them in, in two groups: (title,
# ((key in the payload's `figures`, label), ...)). The page, the PDF and the CSV all list them
# from here.
FIGURE_GROUPS: Final = (
    (
        "Usage",
        (
            ("hours", "Hours in the period"),
            ("peak", "Peak seats in use"),
            ("p95_daily_peak", "95th-percentile daily peak"),
            ("activations", "Activations"),
            ("hours_at_limit", "Hours at the limit"),
            ("denials", "Denied activations"),
        ),
    ),
    (
        "Overdraft",
        (
            ("overdraft_hours", "Hours in overdraft"),
            ("overdraft_days", "Days with overdraft"),
            ("overdraft_seat_hours", "Overdraft seat-hours"),
            ("free_overdraft_seat_hours", "Free overdraft seat-hours"),
            ("billable_overdraft_seat_hours", "Billable overdraft seat-hours"),
        ),
    ),
)
FIGURES: Final = tuple(figure for _, figures in FIGURE_GROUPS for figure in figures)
_FIGURE_LABELS: Final = dict(FIGURES)

# The utilization chart (an inline SVG, sized in its own units; the page scales it).
CHART_WIDTH: Final = 640
CHART_HEIGHT: Final = 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 12, 34, 36
_STEPS: Final = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)
# Colours of the bars, as on the usage chart (static/css/portal.css): SVG attributes, which
# WeasyPrint and the CSP both take.
_FILL: Final = {"within": "#2f6fde", "overdraft": "#c77c02", "limit": "#c62828"}
_CHAR_WIDTH: Final = 5.6  # of a 10-unit label, about: enough to keep labels apart
# A bar of a few hours out of hundreds is still drawn this high, so it can be seen.
_MIN_BAR: Final = 1.5


@dataclasses.dataclass(frozen=True)
class Bar:
    seats: int
    hours: int
    percent: float
    x: float
    y: float
    width: float
    height: float
    zone: str
    fill: str
    label: str = ""  # hours, above the bars past the entitled seats when there is room

    @property
    def middle(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclasses.dataclass(frozen=True)
class Tick:
    at: float  # the x (seat ticks) or y (percent ticks) in chart units
    label: str


@dataclasses.dataclass(frozen=True)
class Line:
    """A term's line across the chart (the entitled seats or the hard limit), its label at
    `label_y`, on the side `anchor` says, clear of the other labels."""

    x: float
    label: str
    kind: str  # "entitled" | "limit"
    anchor: str  # SVG text-anchor of its label: "end" left of the line, "start" right of it
    label_y: float


def _place_lines(lines: list[tuple[float, str, str]], left: float, right: float) -> list[Line]:
    """Each line's label left of it, or right where there is no room, on the first of two rows
    where it overlaps no other label."""
    placed: list[Line] = []
    taken: list[list[tuple[float, float]]] = [[], []]
    for x, label, kind in sorted(lines):
        width = len(label) * _CHAR_WIDTH + 4
        anchor, extent = ("end", (x - width, x)) if x - width >= left else ("start", (x, x + width))
        if extent[1] > right:
            anchor, extent = "end", (x - width, x)
        row = 0 if not any(extent[0] < b and a < extent[1] for a, b in taken[0]) else 1
        taken[row].append(extent)
        placed.append(Line(round(x, 2), label, kind, anchor, 12 + 11 * row))
    return placed


@dataclasses.dataclass(frozen=True)
class Histogram:
    """For each seat count, the share of the period's hours whose peak reached it."""

    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = _LEFT
    right: int = CHART_WIDTH - _RIGHT
    top: int = _TOP
    bottom: int = CHART_HEIGHT - _BOTTOM

    @classmethod
    def of(cls, utilization: list[dict[str, Any]], terms: list[dict[str, Any]]) -> Histogram:
        """From `Sheet.utilization()` rows (seats, hours, share, percent) and the terms."""
        peak = len(utilization)
        entitled = sorted({t["seats"] for t in terms})
        limits = sorted({t["hard_limit"] for t in terms if t["hard_limit"] is not None})
        # The scale reaches the lines when they are near, so the room left shows too; a far
        # hard limit (or none) would squash the bars.
        near = max(peak, *entitled, 1) * 2
        seats_axis = max(peak, *entitled, *(v for v in limits if v <= near), 1)
        plot_width = CHART_WIDTH - _LEFT - _RIGHT
        plot_height = CHART_HEIGHT - _TOP - _BOTTOM
        step = plot_width / seats_axis
        gap = min(step * 0.18, 2.0) if step > 3 else 0.0
        # Bars are coloured by the zone they stand in when the lines never changed.
        one_pair = len(entitled) == 1 and len(limits) <= 1
        bars = []
        for row in utilization:
            height = max(row["share"] * plot_height, _MIN_BAR if row["hours"] else 0.0)
            zone = "within"
            if one_pair and row["seats"] > entitled[0]:
                zone = "limit" if limits and row["seats"] >= limits[0] else "overdraft"
            labelled = zone != "within" and (step >= 22 or row["seats"] in (entitled[0] + 1, peak))
            bars.append(
                Bar(
                    seats=row["seats"],
                    hours=row["hours"],
                    percent=row["percent"],
                    x=round(_LEFT + (row["seats"] - 1) * step + gap / 2, 2),
                    y=round(_TOP + plot_height - height, 2),
                    width=round(max(step - gap, 0.5), 2),
                    height=round(height, 2),
                    zone=zone,
                    fill=_FILL[zone],
                    label=f"{row['hours']} h" if labelled else "",
                )
            )
        every = next((s for s in _STEPS if seats_axis / s <= 12), math.ceil(seats_axis / 12))
        x_ticks = [
            Tick(round(_LEFT + (n - 0.5) * step, 2), str(n))
            for n in sorted({1, *range(every, seats_axis + 1, every)})
        ]
        y_ticks = [
            Tick(round(_TOP + plot_height * (1 - p / 100), 2), f"{p}%")
            for p in (0, 25, 50, 75, 100)
        ]
        lines = _place_lines(
            [(_LEFT + v * step, f"{v} entitled", "entitled") for v in entitled if v <= seats_axis]
            + [(_LEFT + v * step, f"limit {v}", "limit") for v in limits if v <= seats_axis],
            _LEFT,
            CHART_WIDTH - _RIGHT,
        )
        return cls(bars=bars, x_ticks=x_ticks, y_ticks=y_ticks, lines=lines)


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclasses.dataclass(frozen=True)
class Sheet:
    """A signed statement as the pages, the PDF and the CSV show it: its payload as signed,
    and, for an issued one, the Statement row (when it was issued)."""

    document: bytes
    payload: dict[str, Any]
    signature: dict[str, str]
    statement: Statement | None = None

    @classmethod
    def of(cls, statement: Statement) -> Sheet:
        return cls(
            document=statement.document.encode(),
            payload=statement.signed["payload"],
            signature=statement.signed["signature"],
            statement=statement,
        )

    @classmethod
    def provisional_of(cls, document: bytes) -> Sheet:
        signed = json.loads(document)
        return cls(document=document, payload=signed["payload"], signature=signed["signature"])

    @property
    def provisional(self) -> bool:
        return bool(self.payload.get("provisional"))

    @property
    def period(self) -> dict[str, Any]:
        period: dict[str, Any] = self.payload["period"]
        return period

    @property
    def label(self) -> str:
        return str(self.period["label"])

    @property
    def start(self) -> datetime | None:
        return _moment(self.period["start"])

    @property
    def end(self) -> datetime | None:
        return _moment(self.period["end"])

    @property
    def dates(self) -> str:
        """The period in words: whole days (`1 Jan 2026 to 31 Jan 2026`) when it runs from
        midnight to midnight, else to the hour, its end excluded either way."""
        start, end = self.start, self.end
        if start is None or end is None:
            return ""
        if start.time() == end.time() == time(0):
            return f"{start:%-d %b %Y} to {end - timedelta(days=1):%-d %b %Y}"
        return f"{start:%-d %b %Y %H:%M} to {end:%-d %b %Y %H:%M}"

    @property
    def as_of(self) -> datetime | None:
        return _moment(self.payload.get("as_of"))

    @property
    def billing_period(self) -> str:
        value = self.period.get("billing_period", "")
        return str(BillingPeriod(value).label) if value in BillingPeriod.values else str(value)

    @property
    def figures(self) -> dict[str, int]:
        figures: dict[str, int] = self.payload["figures"]
        return figures

    def figure_groups(self) -> list[tuple[str, list[tuple[str, str, int]]]]:
        """(title, [(key, label, value), ...]) of each group of FIGURE_GROUPS; a figure a
        newer format adds, unknown here, ends the first group."""
        groups = []
        for n, (title, figures) in enumerate(FIGURE_GROUPS):
            keys = [key for key, _ in figures if key in self.figures]
            if n == 0:
                keys += [key for key in self.figures if key not in _FIGURE_LABELS]
            groups.append((title, [(key, self._label(key), self.figures[key]) for key in keys]))
        return groups

    def figure_rows(self) -> list[tuple[str, str, int]]:
        """(key, label, value) of every figure, in the groups' order."""
        return [row for _, rows in self.figure_groups() for row in rows]

    def _label(self, key: str) -> str:
        if key == "hours" and self.provisional:
            return "Hours so far"
        return _FIGURE_LABELS.get(key, key.replace("_", " ").capitalize())

    def terms(self) -> list[dict[str, Any]]:
        """The terms in force at the start, then each change inside the period."""
        start = self.start
        rows = []
        for terms in self.payload.get("terms", []):
            effective = _moment(terms["effective_from"])
            rows.append(
                {
                    **terms,
                    "effective_from": effective,
                    "at_start": effective is not None and start is not None and effective <= start,
                }
            )
        return rows

    def utilization(self) -> list[dict[str, Any]]:
        """The utilization rows with each one's `share` of the period's hours (and as a
        `percent`, to one decimal)."""
        hours = self.figures.get("hours", 0)
        rows = []
        for row in self.payload.get("utilization", []):
            share = row["hours"] / hours if hours else 0.0
            rows.append({**row, "share": share, "percent": round(100 * share, 1)})
        return rows

    def histogram(self) -> Histogram:
        return Histogram.of(self.utilization(), self.payload.get("terms", []))

    def filename(self, customer_slug: str, product_code: str, extension: str) -> str:
        start = self.start
        when = f"{start:%Y-%m-%d}" if start else "period"
        suffix = "-provisional" if self.provisional else ""
        return f"{customer_slug}-{product_code}-statement-{when}{suffix}.{extension}"

    def urls(self, slug: str, entitlement_id: Any) -> dict[str, str]:
        """The statement's page and downloads."""
        kwargs: dict[str, Any] = {"slug": slug, "entitlement_id": entitlement_id}
        if self.statement is None:
            prefix = "customer:statement_provisional"
        else:
            prefix, kwargs["statement_id"] = "customer:statement", self.statement.pk
        return {
            fmt: reverse(prefix if fmt == "html" else f"{prefix}_{fmt}", kwargs=kwargs)
            for fmt in ("html", "pdf", "csv", "json")
        }


# --- views ------------------------------------------------------------------------------------


@login_required
@require_GET
def statements(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    """The entitlement's statements, newest first, under the provisional one of the period
    running now."""
    entitlement = access.customer_entitlement(request, slug, entitlement_id)
    page = Paginator(selectors.entitlement_statements(entitlement), STATEMENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    current = _provisional(entitlement)
    now = timezone.now()
    return render(
        request,
        "portal/statements.html",
        {
            "customer": entitlement.customer,
            "entitlement": entitlement,
            "page": page,
            "rows": [(sheet, sheet.urls(slug, entitlement.pk)) for sheet in map(Sheet.of, page)],
            "current": current,
            "current_urls": current.urls(slug, entitlement.pk) if current else None,
            "first": billing.first_period(entitlement),
            "now": now,
            "jwks_url": links.absolute(reverse("jwks")),
        },
    )


def period_so_far(entitlement: Entitlement) -> Sheet | None:
    """The figures of the billing period running now, unsigned (the entitlement page's
    utilization); None when no period runs."""
    now = timezone.now()
    period = billing.open_period(entitlement, now)
    if period is None:
        return None
    payload = services.statement_payload(entitlement, period, now=now, provisional=True)
    return Sheet(document=b"", payload=payload, signature={})


def _provisional(entitlement: Entitlement) -> Sheet | None:
    """The provisional statement of the period running now, if one runs."""
    if billing.open_period(entitlement, timezone.now()) is None:
        return None
    return Sheet.provisional_of(services.statement_provisional(entitlement))


def _sheet(
    request: HttpRequest, slug: str, entitlement_id: Any, statement_id: Any
) -> tuple[Entitlement, Sheet]:
    """The entitlement and its statement (`statement_id` None: the provisional one)."""
    entitlement = access.customer_entitlement(request, slug, entitlement_id)
    if statement_id is None:
        sheet = _provisional(entitlement)
        if sheet is None:
            raise Http404
        return entitlement, sheet
    statement = get_object_or_404(Statement, pk=statement_id, entitlement_id=entitlement.pk)
    return entitlement, Sheet.of(statement)


def _context(entitlement: Entitlement, sheet: Sheet) -> dict[str, Any]:
    customer = entitlement.customer
    return {
        "customer": customer,
        "entitlement": entitlement,
        "sheet": sheet,
        "urls": sheet.urls(customer.slug, entitlement.pk),
        "statements_url": reverse(
            "customer:statements",
            kwargs={"slug": customer.slug, "entitlement_id": entitlement.pk},
        ),
        "jwks_url": links.absolute(reverse("jwks")),
    }


def _download(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def statement_page(
    request: HttpRequest, slug: str, entitlement_id: Any, statement_id: Any = None
) -> HttpResponse:
    """One statement as a printable page (A4 in print)."""
    entitlement, sheet = _sheet(request, slug, entitlement_id, statement_id)
    return render(request, "portal/statement.html", _context(entitlement, sheet))


@login_required
@require_GET
def statement_pdf(
    request: HttpRequest, slug: str, entitlement_id: Any, statement_id: Any = None
) -> HttpResponse:
    """The printable page as a PDF (the same document template)."""
    entitlement, sheet = _sheet(request, slug, entitlement_id, statement_id)
    html = render_to_string(
        "portal/statement_print.html", _context(entitlement, sheet), request=request
    )
    try:
        content = pdf.render(html)
    except pdf.PdfUnavailable:
        logger.exception("no PDF of statements on this machine: WeasyPrint cannot load")
        messages.error(request, "The PDF cannot be made right now: print this page instead.")
        return redirect(sheet.urls(slug, entitlement.pk)["html"])
    product = entitlement.product
    return _download(
        content, "application/pdf", sheet.filename(entitlement.customer.slug, product.code, "pdf")
    )


@login_required
@require_GET
def statement_csv(
    request: HttpRequest, slug: str, entitlement_id: Any, statement_id: Any = None
) -> HttpResponse:
    """The statement's figures (`figure,value` rows), then its utilization (`seats,hours,
    share_percent` rows), each block under its header row."""
    entitlement, sheet = _sheet(request, slug, entitlement_id, statement_id)
    filename = sheet.filename(entitlement.customer.slug, entitlement.product.code, "csv")
    response = _download(b"", "text/csv; charset=utf-8", filename)
    writer = csv.writer(response)
    period = sheet.period
    writer.writerow(["figure", "value"])
    writer.writerow(["statement", sheet.payload.get("statement", "")])
    writer.writerow(["customer", sheet.payload["customer"]["name"]])
    writer.writerow(["product", sheet.payload["product"]["name"]])
    writer.writerow(["entitlement", sheet.payload.get("entitlement", "")])
    writer.writerow(["period_start_utc", period["start"]])
    writer.writerow(["period_end_utc", period["end"]])
    writer.writerow(["period", period["label"]])
    writer.writerow(["billing_period", period.get("billing_period", "")])
    writer.writerow(["provisional", "yes" if sheet.provisional else "no"])
    writer.writerow(["as_of_utc", sheet.payload.get("as_of") or ""])
    writer.writerow(["key_id", sheet.signature.get("kid", "")])
    for key, _label, value in sheet.figure_rows():
        writer.writerow([key, value])
    writer.writerow([])
    writer.writerow(["seats", "hours_at_or_above", "share_of_hours_percent"])
    for row in sheet.utilization():
        writer.writerow([row["seats"], row["hours"], f"{row['percent']:.1f}"])
    return response


@login_required
@require_GET
def statement_json(
    request: HttpRequest, slug: str, entitlement_id: Any, statement_id: Any = None
) -> HttpResponse:
    """The signed document, byte for byte as signed: what `manage.py verify_statement` checks."""
    entitlement, sheet = _sheet(request, slug, entitlement_id, statement_id)
    filename = sheet.filename(entitlement.customer.slug, entitlement.product.code, "json")
    return _download(sheet.document, "application/json", filename)
