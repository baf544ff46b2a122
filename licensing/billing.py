"""Billing periods and what a statement of one says (pure; licensing.services.billing reads the
rows, signs and stores).

**Periods** are anchored at the entitlement's start (its hour): a monthly entitlement that
started on 31 Jan 10:00 has periods from 31 Jan, 28 Feb (29 in a leap year), 31 Mar, 30 Apr ...
each at 10:00: the k-th period starts k months (3k, 12k) after the anchor, the day clamped to the
month's last. The length is the entitlement's `billing_period` as it is when the periods are
counted; a statement once issued never changes.

**Figures** are the usage history's (licensing.history, each hour judged by the terms in force
then) and the capacity model's (licensing.capacity): the peak, the 95th-percentile daily peak,
overdraft hours and seat-hours, denials; and, here: the days with an overdraft hour, the hours
at the limit (the hard limit, or the customer's cap), the overdraft seat-hours beyond the free
allowance in force at the period's start (billable), and the utilization histogram: for each
seat count, the hours whose peak reached it.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from licensing import zones
from licensing.capacity import capacity_of
from licensing.history import Point, Terms, floor_day, floor_hour

MONTHS: Final = {"monthly": 1, "quarterly": 3, "yearly": 12}
# The statement format's name and version, inside every signed statement.
FORMAT: Final = "overdraft-portal/statement"
VERSION: Final = 1


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` that many calendar months later, the day clamped to the month's last."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, _days_in(year, month)))


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@dataclasses.dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    index: int  # 0 for the period that starts at the anchor
    months: int = 1

    @property
    def label(self) -> str:
        """The months it starts in: `Nov 2026`, `Oct to Dec 2026`, `Mar 2026 to Feb 2027`."""
        first = f"{self.start:%b %Y}"
        if self.months == 1:
            return first
        last = add_months(self.start, self.months - 1)
        if last.year == self.start.year:
            return f"{self.start:%b} to {last:%b %Y}"
        return f"{first} to {last:%b %Y}"


def anchor_of(starts_at: datetime) -> datetime:
    return floor_hour(starts_at)


def period_at(anchor: datetime, billing_period: str, index: int) -> Period:
    months = MONTHS[billing_period]
    return Period(
        add_months(anchor, index * months),
        add_months(anchor, (index + 1) * months),
        index,
        months,
    )


def period_containing(anchor: datetime, billing_period: str, moment: datetime) -> Period:
    """The period that holds `moment` (the first one for a moment before the anchor)."""
    months = MONTHS[billing_period]
    index = max(((moment.year - anchor.year) * 12 + moment.month - anchor.month) // months, 0)
    period = period_at(anchor, billing_period, index)
    while period.start > moment and period.index > 0:
        period = period_at(anchor, billing_period, period.index - 1)
    while period.end <= moment:
        period = period_at(anchor, billing_period, period.index + 1)
    return period


def period_of(entitlement: Any, moment: datetime) -> Period:
    """The entitlement's billing period that holds `moment` (its first one before it starts)."""
    return period_containing(anchor_of(entitlement.starts_at), entitlement.billing_period, moment)


def open_period(entitlement: Any, now: datetime) -> Period | None:
    """The period running at `now`, of which a provisional statement can be made: None before
    the entitlement starts and once the period that holds its end has closed (that is the
    last period; licensing.services.billing issues no statement after it)."""
    if now < entitlement.starts_at:
        return None
    period = period_of(entitlement, now)
    if entitlement.ends_at is not None and period.start > entitlement.ends_at:
        return None
    return period


def first_period(entitlement: Any) -> Period:
    """The entitlement's first billing period: the first statement is issued once it closes."""
    return period_at(anchor_of(entitlement.starts_at), entitlement.billing_period, 0)


def closed_periods(
    anchor: datetime, billing_period: str, *, until: datetime, since: datetime | None = None
) -> list[Period]:
    """The periods that ended by `until` (and, with `since`, end after it), oldest first."""
    periods = []
    index = 0
    if since is not None and since > anchor:
        index = period_containing(anchor, billing_period, since).index
    while (period := period_at(anchor, billing_period, index)).end <= until:
        if since is None or period.end > since:
            periods.append(period)
        index += 1
    return periods


@dataclasses.dataclass(frozen=True)
class Figures:
    """What a period's hours say (the points of licensing.history.walk, hourly)."""

    hours: int
    peak: int
    p95_daily_peak: int
    overdraft_hours: int
    overdraft_seat_hours: int
    overdraft_days: int
    hours_at_limit: int
    denials: int
    activations: int
    free_overdraft_seat_hours: int
    billable_overdraft_seat_hours: int
    # at_or_above[n - 1]: the hours whose peak reached n seats, for n from 1 to the peak.
    at_or_above: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values.pop("at_or_above")
        return values

    def utilization(self) -> list[dict[str, int]]:
        """`[{"seats": n, "hours": h}, ...]`: hours at or above each seat count."""
        return [{"seats": n, "hours": h} for n, h in enumerate(self.at_or_above, start=1)]


def figures_of(points: Sequence[Point], *, free_overdraft_seat_hours: int) -> Figures:
    """A period's figures from its hourly points."""
    capacity = capacity_of(points, entitled=0, hard_limit=None)
    peaks = Counter(p.peak for p in points)
    at_or_above: list[int] = []
    reached = 0
    for seats in range(capacity.peak, 0, -1):
        reached += peaks.get(seats, 0)
        at_or_above.append(reached)
    return Figures(
        hours=len(points),
        peak=capacity.peak,
        p95_daily_peak=capacity.p95_daily_peak,
        overdraft_hours=capacity.overdraft_hours,
        overdraft_seat_hours=capacity.overdraft_seat_hours,
        overdraft_days=len({floor_day(p.start) for p in points if p.overdraft_hours}),
        hours_at_limit=sum(1 for p in points if p.zone == zones.Zone.AT_HARD_LIMIT),
        denials=capacity.denials,
        activations=capacity.activations,
        free_overdraft_seat_hours=free_overdraft_seat_hours,
        billable_overdraft_seat_hours=max(
            capacity.overdraft_seat_hours - free_overdraft_seat_hours, 0
        ),
        at_or_above=tuple(reversed(at_or_above)),
    )


def _terms_dict(terms: Terms) -> dict[str, Any]:
    return {
        "effective_from": terms.effective_from.isoformat(),
        "seats": terms.seats,
        "hard_limit": terms.hard_limit,
        "customer_cap": terms.customer_cap,
        "status": terms.status,
    }


def payload(
    *,
    entitlement: Any,
    period: Period,
    billing_period: str,
    terms: Sequence[Terms],
    figures: Figures,
    provisional_as_of: datetime | None = None,
) -> dict[str, Any]:
    """The statement's signed content: who, which period, the terms in force (at the start and
    each change inside), the figures and the utilization. Nothing in it depends on when it is
    built, so reissuing a closed period gives the same bytes; a provisional one says as of
    when."""
    customer, product = entitlement.customer, entitlement.product
    return {
        "format": FORMAT,
        "version": VERSION,
        "statement": f"{entitlement.pk}/{period.start:%Y-%m-%dT%H}",
        "provisional": provisional_as_of is not None,
        "as_of": provisional_as_of.isoformat() if provisional_as_of else None,
        "customer": {"id": str(customer.pk), "name": customer.name},
        "product": {"id": str(product.pk), "name": product.name, "code": product.code},
        "entitlement": str(entitlement.pk),
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "billing_period": billing_period,
            "label": period.label,
        },
        "terms": [_terms_dict(t) for t in terms],
        "figures": figures.as_dict(),
        "utilization": figures.utilization(),
    }
