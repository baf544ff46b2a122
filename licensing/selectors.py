"""Every read of the licensing domain that is more than a `get`.

Pages and APIs call these; chart data for the portal and the vendor API comes from one
usage-series selector, so both answer the same numbers.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, NamedTuple

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
    Window,
)
from django.db.models.functions import Coalesce, CumeDist
from django.utils import timezone

from licensing import statements, zones
from licensing.models import AuditEntry, Customer, Entitlement, Event, Seat, UsageBucket

# --- usage series, figures and seats (customer pages) -----------------------------------------

Bucket = Literal["hour", "day"]


@dataclasses.dataclass(frozen=True)
class UsagePoint:
    """Seat use in one bucket (an hour or a UTC day) of an entitlement's history."""

    start: datetime
    peak: int
    closing: int
    activations: int
    overdraft_activations: int
    denials: int
    releases: int
    overdraft_hours: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "peak": self.peak,
            "closing": self.closing,
            "activations": self.activations,
            "overdraft_activations": self.overdraft_activations,
            "denials": self.denials,
            "releases": self.releases,
            "overdraft_hours": self.overdraft_hours,
        }


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _floor_day(moment: datetime) -> datetime:
    return _floor_hour(moment).replace(hour=0)


def usage_series(
    entitlement: Entitlement, *, start: datetime, end: datetime, bucket: Bucket = "hour"
) -> list[UsagePoint]:
    """Seat use from `start` to `end` (exclusive) in hourly or daily (UTC) buckets.

    Reads UsageBucket rows only: hours without a row carry the previous hour's `closing_used`
    forward as their peak and closing. A day's peak is the highest hourly peak, its closing
    the last hour's, its counts the sums; `overdraft_hours` counts hours whose peak was above
    the entitled seats (today's entitled count: limits are not versioned). Two queries,
    whatever the range (see _carried_peaks for the one exception); daily buckets are
    aggregated in the database, so a year reads 365 rows, not 8,760.
    """
    floor = _floor_day if bucket == "day" else _floor_hour
    start, end = floor(start), floor(end)
    if end <= start:
        return []
    rows = UsageBucket.objects.filter(entitlement_id=entitlement.pk)
    before = rows.filter(hour__lt=start).order_by("-hour").values_list("closing_used").first()
    closing = before[0] if before else 0
    if bucket == "day":
        return _daily_series(entitlement, start, end, closing)
    by_hour = {
        row[0]: row[1:]
        for row in rows.filter(hour__gte=start, hour__lt=end)
        .order_by("hour")
        .values_list(
            "hour",
            "peak_used",
            "closing_used",
            "activations",
            "overdraft_activations",
            "denials",
            "releases",
        )
    }
    entitled = entitlement.seats
    points: list[UsagePoint] = []
    hour = start
    while hour < end:
        row = by_hour.get(hour)
        if row is None:
            peak = closing
            activations = overdraft_activations = denials = releases = 0
        else:
            peak, closing, activations, overdraft_activations, denials, releases = row
        points.append(
            UsagePoint(
                start=hour,
                peak=max(peak, 0),
                closing=closing,
                activations=activations,
                overdraft_activations=overdraft_activations,
                denials=denials,
                releases=releases,
                overdraft_hours=int(zones.in_overdraft(peak, entitled)),
            )
        )
        hour += timedelta(hours=1)
    return points


# Hours since the Unix epoch of UsageBucket.hour, per database: integer arithmetic on these
# finds UTC days (h / 24) and hours of the day (h % 24) without backend-specific date
# functions. On PostgreSQL date_part() (a float) is cheaper than EXTRACT() (a numeric), and an
# integer rather than a bigint h keeps the sums below bigints rather than numerics.
_EPOCH_HOUR_SQL: Final = {
    "postgresql": "CAST(CAST(date_part('epoch', hour) AS bigint) / 3600 AS integer)",
    "sqlite": "CAST(strftime('%%s', hour) AS integer) / 3600",
}

# One row per UTC day that has bucket rows, in a single pass over the rows (no window
# function): see _Day. `hours` and `closed_over` are bit sets (bit n = hour n of the day;
# an hour has at most one row, so SUM is a bitwise OR); `last` packs the hour of the day
# above the closing, so its maximum is the last row's.
_DAILY_SQL: Final = """
SELECT h / 24,
       MAX(peak_used), SUM(activations), SUM(overdraft_activations), SUM(denials),
       SUM(releases),
       SUM(CASE WHEN {peak_over} THEN 1 ELSE 0 END),
       SUM(1 << (h %% 24)),
       SUM(CASE WHEN {closing_over} THEN 1 << (h %% 24) ELSE 0 END),
       MAX(closing_used),
       MAX((h %% 24) * 4294967296 + closing_used)
FROM (
    SELECT {epoch_hour} AS h,
           peak_used, closing_used, activations, overdraft_activations, denials, releases
    FROM {table}
    WHERE entitlement_id = %s AND hour >= %s AND hour < %s
) AS hourly
GROUP BY h / 24
"""

_WHOLE_DAY: Final = (1 << 24) - 1


class _Day(NamedTuple):
    """A UTC day's bucket rows, aggregated by _DAILY_SQL."""

    peak: int  # the highest peak_used
    activations: int
    overdraft_activations: int
    denials: int
    releases: int
    rows_over: int  # rows whose peak_used is above the entitled seats
    hours: int  # bit set of the hours that have a row
    closed_over: int  # bit set of the rows whose closing_used is above the entitled seats
    top_closing: int  # the highest closing_used
    last: int  # (hour of the day << 32) + closing_used of the last row

    @property
    def first_hour(self) -> int:
        return (self.hours & -self.hours).bit_length() - 1

    @property
    def closing(self) -> int:
        return self.last & 0xFFFFFFFF

    def carried_over(self) -> int:
        """Hours without a row that carry forward a closing above the entitled seats.

        An hour without a row carries the closing of the latest row before it that day
        (hours before the first row carry the previous day's: not counted here).
        """
        if self.hours == _WHOLE_DAY:
            return 0
        count = carrying = 0
        for n in range(self.first_hour, 24):
            if self.hours >> n & 1:
                carrying = self.closed_over >> n & 1
            else:
                count += carrying
        return count

    def carrying_rows(self) -> int:
        """Bit set of the rows followed by an hour without a row the same day."""
        return self.hours & ~(self.hours >> 1) & (_WHOLE_DAY >> 1)


def _daily_series(
    entitlement: Entitlement, start: datetime, end: datetime, closing: int
) -> list[UsagePoint]:
    """Daily points from `start` to `end` (whole UTC days); `closing` is the level before."""
    hour_field = UsageBucket._meta.get_field("hour")
    sql = _DAILY_SQL.format(
        epoch_hour=_EPOCH_HOUR_SQL[connection.vendor],
        table=UsageBucket._meta.db_table,
        peak_over=zones.sql_in_overdraft("peak_used", "%s"),
        closing_over=zones.sql_in_overdraft("closing_used", "%s"),
    )
    entitled = entitlement.seats
    params = [
        entitled,
        entitled,
        Entitlement._meta.pk.get_db_prep_value(entitlement.pk, connection),
        hour_field.get_db_prep_value(start, connection),
        hour_field.get_db_prep_value(end, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        by_day = {row[0]: _Day(*row[1:]) for row in cursor.fetchall()}
    carried_peaks = _carried_peaks(entitlement, start, end, by_day)
    first_day = int(start.timestamp()) // 86400
    points: list[UsagePoint] = []
    for n in range(int((end - start).total_seconds()) // 86400):
        day = by_day.get(first_day + n)
        if day is None:
            peak, overdraft_hours = max(closing, 0), 24 * zones.in_overdraft(closing, entitled)
            activations = overdraft_activations = denials = releases = 0
        else:
            leading = day.first_hour  # hours before the first row carry `closing` forward
            peak = max(day.peak, carried_peaks.get(first_day + n, 0), closing if leading else 0, 0)
            carried = leading * zones.in_overdraft(closing, entitled)
            overdraft_hours = day.rows_over + day.carried_over() + carried
            activations, overdraft_activations = day.activations, day.overdraft_activations
            denials, releases = day.denials, day.releases
            closing = day.closing
        points.append(
            UsagePoint(
                start=start + timedelta(days=n),
                peak=peak,
                closing=closing,
                activations=activations,
                overdraft_activations=overdraft_activations,
                denials=denials,
                releases=releases,
                overdraft_hours=overdraft_hours,
            )
        )
    return points


def _carried_peaks(
    entitlement: Entitlement, start: datetime, end: datetime, by_day: dict[int, _Day]
) -> dict[int, int]:
    """The highest closing carried into an hour without a row, per day where it matters.

    A carried closing is that hour's peak. It can only top a day's highest row peak if some
    row closed above its own peak, which seat changes never write (the peak is the highest
    level in the hour, the closing its last); only then are those rows read, in a third query.
    """
    suspect = {
        number
        for number, day in by_day.items()
        if day.top_closing > day.peak and day.carrying_rows()
    }
    if not suspect:
        return {}
    rows = UsageBucket.objects.filter(
        entitlement_id=entitlement.pk,
        hour__gte=start,
        hour__lt=end,
        closing_used__gt=F("peak_used"),
    ).values_list("hour", "closing_used")
    peaks: dict[int, int] = {}
    for hour, closing in rows:
        number, n = divmod(int(hour.timestamp()) // 3600, 24)
        if number in suspect and by_day[number].carrying_rows() >> n & 1:
            peaks[number] = max(peaks.get(number, 0), closing)
    return peaks


@dataclasses.dataclass(frozen=True)
class UsageRange:
    """A chart range the portal offers: `?range=<key>`."""

    key: str
    label: str
    span: timedelta
    bucket: Bucket

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The buckets ending with the current one (whole hours or whole UTC days)."""
        if self.bucket == "day":
            end = _floor_day(now) + timedelta(days=1)
        else:
            end = _floor_hour(now) + timedelta(hours=1)
        return end - self.span, end


USAGE_RANGES: Final = {
    r.key: r
    for r in (
        UsageRange("24h", "last 24 hours", timedelta(hours=24), "hour"),
        UsageRange("7d", "last 7 days", timedelta(days=7), "hour"),
        UsageRange("30d", "last 30 days", timedelta(days=30), "day"),
        UsageRange("90d", "last 90 days", timedelta(days=90), "day"),
        UsageRange("1y", "last year", timedelta(days=365), "day"),
    )
}
DEFAULT_USAGE_RANGE: Final = "30d"


def usage_range(key: str | None) -> UsageRange:
    """The named range, or the default for anything unknown."""
    return USAGE_RANGES.get(key or "", USAGE_RANGES[DEFAULT_USAGE_RANGE])


def recommended_seats(
    *, entitled: int, hard_limit: int | None, peak: int, denials: int, overdraft_hours: int
) -> int | None:
    """Seats to suggest buying, or None when the entitled count covers the demand.

    Demand is the peak; with denials it is at least the hard limit, since people were turned
    away there. Add 5% headroom and round up to a tidy step (10 from 50 seats, 5 from 10,
    else 1). Suggest it only when the range saw overdraft or denials.
    """
    if not denials and not overdraft_hours:
        return None
    demand = max(peak, hard_limit or 0) if denials else peak
    wanted = math.ceil(demand * 1.05)
    step = 10 if wanted >= 50 else 5 if wanted >= 10 else 1
    recommended = math.ceil(wanted / step) * step
    return recommended if recommended > entitled else None


@dataclasses.dataclass(frozen=True)
class UsageFigures:
    peak: int
    overdraft_hours: int
    denials: int
    activations: int
    recommended: int | None
    note: str


def usage_figures(
    entitlement: Entitlement, points: list[UsagePoint], *, period: str
) -> UsageFigures:
    """Totals of a series and a plain-language capacity note for `period` ("last 30 days")."""
    peak = max((p.peak for p in points), default=0)
    overdraft_hours = sum(p.overdraft_hours for p in points)
    denials = sum(p.denials for p in points)
    activations = sum(p.activations for p in points)
    entitled, hard_limit = entitlement.seats, entitlement.hard_limit
    recommended = recommended_seats(
        entitled=entitled,
        hard_limit=hard_limit,
        peak=peak,
        denials=denials,
        overdraft_hours=overdraft_hours,
    )
    of = f"{hard_limit} ({entitled} entitled)" if hard_limit is not None else f"{entitled} entitled"
    if denials:
        note = f"Peak {peak} of {of}; {denials} denials in the {period}"
    elif overdraft_hours:
        hours = "hour" if overdraft_hours == 1 else "hours"
        note = f"Peak {peak} of {of}; {overdraft_hours} {hours} in overdraft in the {period}"
    else:
        note = f"Peak {peak} of {entitled} entitled seats in the {period}"
    if recommended is not None:
        note += f": consider {recommended} seats."
    elif denials or overdraft_hours:
        note += "."
    else:
        note += ": your entitled seats cover your use."
    return UsageFigures(
        peak=peak,
        overdraft_hours=overdraft_hours,
        denials=denials,
        activations=activations,
        recommended=recommended,
        note=note,
    )


def usage_chart(
    entitlement: Entitlement, points: list[UsagePoint], *, bucket: Bucket
) -> dict[str, Any]:
    """The entitlement page's chart data (its json_script): the two lines, and per point the
    peak, the denials and the zone of the peak, which the script only turns into colours."""
    entitled, hard_limit = entitlement.seats, entitlement.hard_limit
    return {
        "bucket": bucket,
        "entitled": entitled,
        "hard_limit": hard_limit,
        "points": [
            {
                "t": p.start.isoformat(),
                "peak": p.peak,
                "denials": p.denials,
                "zone": zones.zone_of(p.peak, entitled, hard_limit).value,
            }
            for p in points
        ],
    }


def customer_entitlements(
    customer: Customer, *, now: datetime | None = None
) -> QuerySet[Entitlement]:
    """A customer's entitlements for its dashboard, with denials in the last 30 days."""
    since = _floor_hour(now or timezone.now()) - timedelta(days=30)
    denials = (
        UsageBucket.objects.filter(entitlement_id=OuterRef("pk"), hour__gte=since)
        .values("entitlement_id")
        .annotate(total=Sum("denials"))
        .values("total")
    )
    return (
        Entitlement.objects.filter(customer_id=customer.pk)
        .select_related("product")
        .annotate(denials_30d=Coalesce(Subquery(denials), 0))
        .order_by("product__name", "created_at")
    )


def seats_in_use(entitlement: Entitlement) -> QuerySet[Seat]:
    """Seats held now, newest first (paginate it)."""
    return Seat.objects.filter(entitlement_id=entitlement.pk, released_at__isnull=True).order_by(
        "-activated_at", "pk"
    )


@dataclasses.dataclass(frozen=True)
class Denial:
    occurred_at: datetime
    fingerprint: str
    label: str


def recent_denials(entitlement: Entitlement, *, limit: int = 10) -> list[Denial]:
    """The latest `seat.denied` events of an entitlement."""
    events = Event.objects.filter(
        entitlement_id=entitlement.pk, type=Event.Type.SEAT_DENIED
    ).order_by("-occurred_at", "-seq")[:limit]
    return [
        Denial(
            occurred_at=event.occurred_at,
            fingerprint=str(event.data.get("fingerprint", "")),
            label=str(event.data.get("label", "")),
        )
        for event in events
    ]


# --- customers overview, expansion leads, event log (account team) ----------------------------

CUSTOMER_SORTS: Final = {
    "name": ("name",),
    "-name": ("-name",),
    "zone": ("zone_rank", "name"),
    "-zone": ("-zone_rank", "name"),
    "denials": ("denials_30d", "name"),
    "-denials": ("-denials_30d", "name"),
}


def customers_overview(
    *, query: str = "", sort: str = "name", now: datetime | None = None
) -> QuerySet[Customer]:
    """Customers with their worst zone now, seats in use / entitled and denials in 30 days.

    Zone and seats count active entitlements only: a suspended one grants nothing, so
    `suspended_count` says how many of `entitlement_count` are suspended (all of them: the
    zone and seats describe nothing).
    `zone_rank` is the worst entitlement's `zones.zone_rank` (zones.ZONE_RANKS names it).
    One query per page, whatever the number of customers or entitlements.
    """
    since = _floor_hour(now or timezone.now()) - timedelta(days=30)
    active = Q(entitlements__status=Entitlement.Status.ACTIVE)
    denials = (
        UsageBucket.objects.filter(entitlement__customer_id=OuterRef("pk"), hour__gte=since)
        .order_by()
        .values("entitlement__customer_id")
        .annotate(total=Sum("denials"))
        .values("total")
    )
    customers = Customer.objects.select_related("account_manager").annotate(
        zone_rank=Coalesce(Max(zones.zone_rank("entitlements__"), filter=active), 0),
        seats_used_total=Coalesce(Sum("entitlements__seats_used", filter=active), 0),
        seats_total=Coalesce(Sum("entitlements__seats", filter=active), 0),
        entitlement_count=Count("entitlements"),
        suspended_count=Count(
            "entitlements", filter=Q(entitlements__status=Entitlement.Status.SUSPENDED)
        ),
        denials_30d=Coalesce(Subquery(denials), 0),
    )
    query = query.strip()
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    return customers.order_by(*CUSTOMER_SORTS.get(sort, CUSTOMER_SORTS["name"]), "pk")


@dataclasses.dataclass(frozen=True)
class ExpansionLead:
    """An entitlement whose use in the last 30 days says the customer needs more seats."""

    entitlement_id: Any
    customer_name: str
    customer_slug: str
    product_name: str
    seats: int
    hard_limit: int | None
    seats_used: int
    overdraft_seat_hours: int
    overdraft_hours: int
    denials: int
    peak: int
    p95_peak: int
    recommended: int | None

    @property
    def extra_seats(self) -> int | None:
        return None if self.recommended is None else self.recommended - self.seats


LEADS_WINDOW: Final = timedelta(days=30)


def expansion_leads(*, now: datetime | None = None, limit: int = 100) -> list[ExpansionLead]:
    """Entitlements ranked by overdraft seat-hours, then denials, over the last 30 days.

    Overdraft seat-hours sum max(peak_used - seats, 0) over the hourly buckets; hours with no
    bucket row (nothing changed) are not counted, which under-counts a long, quiet overdraft.
    Two queries: the aggregates per entitlement, then the 95th-percentile hourly peak of the
    ranked ones with a window function (portable to SQLite, unlike percentile_cont).
    The recommendation is `recommended_seats` (the same rule as the entitlement page's
    capacity note) fed with the 95th-percentile peak, so one spike does not sell seats.
    """
    since = _floor_hour(now or timezone.now()) - LEADS_WINDOW
    buckets = UsageBucket.objects.filter(hour__gte=since)
    in_overdraft = zones.q_in_overdraft("peak_used", "entitlement__seats")
    over = F("peak_used") - F("entitlement__seats")
    rows = list(
        buckets.order_by()
        .values(
            "entitlement_id",
            "entitlement__customer__name",
            "entitlement__customer__slug",
            "entitlement__product__name",
            "entitlement__seats",
            "entitlement__hard_limit",
            "entitlement__seats_used",
        )
        .annotate(
            seat_hours=Sum(Case(When(in_overdraft, then=over), default=0)),
            overdraft_hours=Count("pk", filter=in_overdraft),
            denials_total=Sum("denials"),
            peak=Max("peak_used"),
        )
        .filter(Q(seat_hours__gt=0) | Q(denials_total__gt=0))
        .order_by("-seat_hours", "-denials_total", "entitlement__customer__name", "entitlement_id")[
            :limit
        ]
    )
    if not rows:
        return []
    # The smallest peak whose cumulative distribution reaches 95% is the 95th percentile.
    ranked = (
        buckets.filter(entitlement_id__in=[row["entitlement_id"] for row in rows])
        .annotate(cume=Window(CumeDist(), partition_by=[F("entitlement_id")], order_by="peak_used"))
        .filter(cume__gte=0.95)
        .values_list("entitlement_id", "peak_used")
    )
    p95: dict[Any, int] = {}
    for entitlement_id, peak in ranked:
        p95[entitlement_id] = min(peak, p95.get(entitlement_id, peak))
    leads = []
    for row in rows:
        p95_peak = p95.get(row["entitlement_id"], row["peak"])
        leads.append(
            ExpansionLead(
                entitlement_id=row["entitlement_id"],
                customer_name=row["entitlement__customer__name"],
                customer_slug=row["entitlement__customer__slug"],
                product_name=row["entitlement__product__name"],
                seats=row["entitlement__seats"],
                hard_limit=row["entitlement__hard_limit"],
                seats_used=row["entitlement__seats_used"],
                overdraft_seat_hours=row["seat_hours"],
                overdraft_hours=row["overdraft_hours"],
                denials=row["denials_total"],
                peak=row["peak"],
                p95_peak=p95_peak,
                recommended=recommended_seats(
                    entitled=row["entitlement__seats"],
                    hard_limit=row["entitlement__hard_limit"],
                    peak=p95_peak,
                    denials=row["denials_total"],
                    overdraft_hours=row["overdraft_hours"],
                ),
            )
        )
    return leads


def events_log(
    *,
    type: str = "",
    customer: Customer | None = None,
    entitlement_id: Any = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Event]:
    """Events newest first, filtered; paginate it (one query per page plus the count)."""
    events = Event.objects.select_related("customer", "entitlement__product")
    if type:
        events = events.filter(type=type)
    if customer is not None:
        events = events.filter(customer_id=customer.pk)
    if entitlement_id is not None:
        events = events.filter(entitlement_id=entitlement_id)
    if start is not None:
        events = events.filter(occurred_at__gte=start)
    if end is not None:
        events = events.filter(occurred_at__lt=end)
    return events.order_by("-occurred_at", "-seq")


# --- audit ------------------------------------------------------------------------------------


def audit_entries(
    *, actor: str = "", action: str = "", customer: Customer | None = None
) -> QuerySet[AuditEntry]:
    """Audit entries newest first; `actor` matches part of the actor's label (email, token).

    Paginate it: one query per page plus the count.
    """
    entries = AuditEntry.objects.select_related("customer")
    actor = actor.strip()
    if actor:
        entries = entries.filter(actor_label__icontains=actor)
    if action:
        entries = entries.filter(action=action)
    if customer is not None:
        entries = entries.filter(customer_id=customer.pk)
    return entries.order_by("-occurred_at", "-pk")


_ENTITLEMENT_FIELDS = [field.attname for field in Entitlement._meta.concrete_fields]
_BY_LICENSE_KEY = (
    f"SELECT {', '.join(_ENTITLEMENT_FIELDS)} FROM {Entitlement._meta.db_table}"
    " WHERE license_key = %(key)s"
)


def entitlement_by_license_key(key: str) -> Entitlement | None:
    """The entitlement with this (unique) key: one indexed query, no join, no ORDER BY.

    Client API calls make this lookup, so on PostgreSQL it is a prepared statement
    (`licensing.statements.run`); compiling the equivalent queryset cost about as much CPU as
    running it (bench/RUNS.md).
    """
    if not statements.available():
        return Entitlement.objects.filter(license_key=key).order_by("pk").first()
    rows = statements.run(_BY_LICENSE_KEY, {"key": key})
    return Entitlement.from_db(connection.alias, _ENTITLEMENT_FIELDS, rows[0]) if rows else None
