"""Every read of the licensing domain that is more than a `get`.

Pages and APIs call these; chart data for the portal and the vendor API comes from one
usage-series selector, so both answer the same numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, Final

from django.db import connection, connections, router
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from licensing import forecast, history, keys, statements, zones
from licensing.capacity import Capacity, capacity_of
from licensing.forecast import Forecast
from licensing.history import Terms
from licensing.models import (
    AuditEntry,
    Customer,
    Entitlement,
    EntitlementTerms,
    Event,
    ExpansionRequest,
    Seat,
    Statement,
    TemporaryRaise,
    UsageBucket,
    UsageDay,
)

# --- usage history, capacity and seats (customer pages) ----------------------------------------

Bucket = history.Bucket
UsagePoint = history.Point


def terms_history(entitlement: Entitlement) -> list[Terms]:
    """The entitlement's terms over time, oldest first (its current terms throughout if none
    were recorded)."""
    records = EntitlementTerms.objects.filter(entitlement_id=entitlement.pk).order_by(
        "effective_from", "id"
    )
    return [Terms.of(record) for record in records] or _current_terms(entitlement)


@dataclasses.dataclass(frozen=True)
class TermsEntry:
    terms: Terms
    summary: str  # "Expanded to 130/150 by am@vendor.example"


def terms_log(entitlement: Entitlement) -> list[TermsEntry]:
    """The entitlement's terms history, newest first, each change described."""
    terms = terms_history(entitlement)
    by = f" by {terms[0].changed_by}" if terms[0].changed_by else ""
    entries = [TermsEntry(terms[0], f"Started at {terms[0].lines}{by}")]
    for before, after in itertools.pairwise(terms):
        summary = history.describe(before, after)
        if not summary:
            by = f" by {after.changed_by}" if after.changed_by else ""
            summary = f"Lease or dates changed{by}"
        entries.append(TermsEntry(after, summary))
    return entries[::-1]


# The fields of an EntitlementTerms record that its Terms read (`history.Terms.of`): the
# same names.
_TERMS_RECORD_FIELDS: Final = tuple(field.name for field in dataclasses.fields(Terms))


# The fields of an Entitlement that its current terms read (`_current_terms`).
_TERMS_FIELDS: Final = (
    "created_at",
    "seats",
    "hard_limit",
    "status",
    "lease_seconds",
    "customer_cap",
)


def _current_terms(entitlement: Entitlement) -> list[Terms]:
    return [Terms.of(entitlement, effective_from=entitlement.created_at)]


def terms_histories(entitlements: Iterable[Entitlement]) -> dict[Any, list[Terms]]:
    """`terms_history` of several entitlements, by id: one query."""
    by_id = {entitlement.pk: entitlement for entitlement in entitlements}
    terms: dict[Any, list[Terms]] = {pk: [] for pk in by_id}
    records = EntitlementTerms.objects.filter(entitlement_id__in=list(by_id)).order_by(
        "entitlement_id", "effective_from", "id"
    )
    # As values (a thousand model instances cost more than the query).
    for record in records.values("entitlement_id", *_TERMS_RECORD_FIELDS):
        terms[record["entitlement_id"]].append(Terms.of(SimpleNamespace(**record)))
    return {pk: found or _current_terms(by_id[pk]) for pk, found in terms.items()}


@dataclasses.dataclass(frozen=True)
class UsageHistory:
    """Seat use of an entitlement from `start` to `end`, judged by the terms of each hour
    (licensing.history), up to `as_of`; `capacity` is what it says (licensing.capacity)."""

    entitlement: Entitlement
    bucket: Bucket
    start: datetime
    end: datetime
    as_of: datetime
    points: list[UsagePoint]
    terms: list[Terms]
    changes: list[history.Change]

    @functools.cached_property
    def capacity(self) -> Capacity:
        """What the points say of capacity (licensing.capacity), when asked for: a statement
        reads the points only."""
        return capacity_of(
            self.points, entitled=self.entitlement.seats, hard_limit=self.entitlement.hard_limit
        )

    def terms_in_range(self) -> list[Terms]:
        """The terms in force at `start` and those that began before `end`."""
        first = 0
        for n, terms in enumerate(self.terms):
            if terms.effective_from <= self.start:
                first = n
        return [t for n, t in enumerate(self.terms) if n >= first and t.effective_from < self.end]


# Hours since the Unix epoch of UsageBucket.hour, per database. Rows are read with their hour
# as this integer (licensing.history.Row), not a datetime: converting 8,760 timestamps with
# time zones cost 45 of a year's 56 ms of reading (bench/RUNS.md, run 8). On PostgreSQL
# date_part() (a float) is cheaper than EXTRACT() (a numeric).
_EPOCH_HOUR_SQL: Final = {
    "postgresql": "CAST(CAST(date_part('epoch', {hour}) AS bigint) / 3600 AS integer)",
    "sqlite": "CAST(strftime('%%s', {hour}) AS integer) / 3600",
}


def _any_of(column: str, ids: list[Any], db: Any) -> tuple[str, list[Any]]:
    """SQL: `column` is one of the entitlement ids, and its parameters. On PostgreSQL one array
    parameter: a thousand ids as a thousand placeholders cost milliseconds to send."""
    pk = Entitlement._meta.pk
    values = [pk.get_db_prep_value(value, db) for value in ids]
    if db.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def bucket_rows(
    entitlement_ids: list[Any], start: datetime, stop: datetime
) -> dict[Any, list[history.Row]]:
    """The UsageBucket rows (licensing.history.Row) of each entitlement from `start` to
    `stop`, in order: one query. With one entitlement the rows do not repeat its id (a year
    is 8,760 rows: parsing the UUIDs would cost more than the walk)."""
    rows: dict[Any, list[history.Row]] = {pk: [] for pk in entitlement_ids}
    if not entitlement_ids:
        return rows
    # Raw SQL bypasses the database routers: ask them, so a chart may read the replica.
    db = connections[router.db_for_read(UsageBucket)]
    meta = UsageBucket._meta
    column = {field.name: str(field.column) for field in meta.concrete_fields}
    entitlement, hour = column["entitlement"], column["hour"]
    several = len(entitlement_ids) > 1
    any_of, params = _any_of(entitlement, entitlement_ids, db)
    sql = (
        f"SELECT {entitlement + ', ' if several else ''}"
        + _EPOCH_HOUR_SQL[db.vendor].format(hour=hour)
        + f", {column['peak_used']}, {column['closing_used']}, {column['activations']},"
        f" {column['overdraft_activations']}, {column['denials']}, {column['releases']}"
        f" FROM {meta.db_table}"
        f" WHERE {any_of} AND {hour} >= %s AND {hour} < %s ORDER BY {entitlement}, {hour}"
    )
    pk = Entitlement._meta.pk
    hour_field = meta.get_field("hour")
    params += [
        hour_field.get_db_prep_value(start, db),
        hour_field.get_db_prep_value(stop, db),
    ]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        if not several:
            rows[entitlement_ids[0]] = cursor.fetchall()
            return rows
        for entitlement_id, found in itertools.groupby(cursor.fetchall(), key=itemgetter(0)):
            rows[pk.to_python(entitlement_id)] = [row[1:] for row in found]
    return rows


def usage_history(
    entitlement: Entitlement,
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket = "hour",
    now: datetime | None = None,
) -> UsageHistory:
    """Hourly or daily (UTC) points from `start` to `end` (exclusive), floored to the bucket;
    nothing after `now` exists (the bucket that holds it is partial).

    Hourly: three queries, the terms, the level before `start` and the UsageBucket rows of the
    range. Daily: the days the UsageDay rollups cover are read from them (one row a day), and
    only the hours before and after those days from the UsageBucket rows (`_day_points`), so
    a year is about 365 rows, not 8,760: four or five queries. The rollups are the same walk's
    days, stored, so both give the same points.
    """
    now = now or timezone.now()
    start, end = _floor_range(start, end, bucket)
    stop = _stop(end, now)
    terms = terms_history(entitlement)
    if bucket == "day":
        points = _day_points({entitlement.pk: terms}, start=start, stop=stop, now=now)[
            entitlement.pk
        ]
    else:
        points = _points(
            terms,
            bucket_rows([entitlement.pk], start, stop)[entitlement.pk],
            closing_before=_level_before(entitlement, start),
            start=start,
            stop=stop,
            bucket=bucket,
            now=now,
        )
    return _history(entitlement, terms, points, start=start, end=end, bucket=bucket, now=now)


def _level_before(entitlement: Entitlement, moment: datetime) -> int:
    """`_levels_before` of one entitlement."""
    return _levels_before([entitlement.pk], moment).get(entitlement.pk, 0)


# A day is rolled up (UsageDay, services.usage_rollups_refresh) once it has ended and settled
# this long: any transaction that wrote its last hour has committed by then.
ROLLUP_SETTLE: Final = timedelta(hours=1)


def rolled_up_until(now: datetime) -> datetime:
    """The midnight (UTC) before which every day is due to be rolled up at `now`."""
    return history.floor_day(now - ROLLUP_SETTLE)


def _levels_before(ids: list[Any], moment: datetime) -> dict[Any, int]:
    """The seats in use at `moment` of each entitlement: the closing level of its last bucket
    before it (0 if none), in one query."""
    if not ids:
        return {}
    last = UsageBucket.objects.filter(entitlement_id=OuterRef("pk"), hour__lt=moment)
    return dict(
        Entitlement.objects.filter(pk__in=ids)
        .annotate(level=Coalesce(Subquery(last.order_by("-hour").values("closing_used")[:1]), 0))
        .values_list("pk", "level")
    )


# The figures of a day Point that a UsageDay row stores, under the same names.
_ROLLED_UP: Final = tuple(
    field.name
    for field in UsageDay._meta.concrete_fields
    if field.name not in {"id", "entitlement", "day"}
)


# Above any closing level (a PositiveIntegerField, below 2**31): day * span + closing orders by
# day and keeps the closing level, in a 64-bit integer.
_CLOSING_SPAN: Final = 2**32


# What a run of rolled-up days sums to (`_rolled_up_days(summed=True)`): the figures that add
# up, and the highest peak.
_SUMMED: Final = (
    "hours",
    "peak",
    "activations",
    "overdraft_activations",
    "denials",
    "releases",
    "overdraft_hours",
    "overdraft_seat_hours",
)


def rolled_up(point: UsagePoint) -> dict[str, Any]:
    """A whole day's Point as the fields of its UsageDay row."""
    return {"day": point.start} | {name: getattr(point, name) for name in _ROLLED_UP}


@dataclasses.dataclass(frozen=True)
class _Run:
    """An entitlement's rolled-up days, consecutive, from `first` to `last` (their starts):
    a Point a day, or (summed) one Point of their sums that starts at `first`."""

    first: datetime
    last: datetime
    closing: int  # the last day's closing level
    points: list[UsagePoint]


def _rolled_up_days(
    ids: list[Any], start: datetime, stop: datetime, *, summed: bool = False
) -> dict[Any, _Run]:
    """The run of rolled-up days that end by `stop`, from `start`, of each entitlement that
    has one (rows leaving a gap: none; the hourly rows then serve). One query, read as tuples
    (summed: a row per entitlement)."""
    if not ids:
        return {}
    db = connections[router.db_for_read(UsageDay)]
    meta = UsageDay._meta
    column = {field.name: str(field.column) for field in meta.concrete_fields}
    entitlement, day = column["entitlement"], column["day"]
    epoch = _EPOCH_HOUR_SQL[db.vendor].format(hour=day)
    any_of, params = _any_of(entitlement, ids, db)
    if summed:
        figures = ", ".join(
            f"{'max' if name == 'peak' else 'sum'}({column[name]})" for name in _SUMMED
        )
        # The last day's closing level: the highest of (day, closing) as one integer.
        last_closing = f"max({epoch} * {_CLOSING_SPAN} + {column['closing']}) %% {_CLOSING_SPAN}"
        select = f"{entitlement}, min({epoch}), max({epoch}), count(*), {last_closing}, {figures}"
        group = f" GROUP BY {entitlement}"
    else:
        figures = ", ".join(column[name] for name in _ROLLED_UP)
        select, group = f"{entitlement}, {epoch}, {figures}", f" ORDER BY {entitlement}, {day}"
    sql = (
        f"SELECT {select} FROM {meta.db_table}"
        f" WHERE {any_of} AND {day} >= %s AND {day} <= %s{group}"
    )
    pk, day_field = Entitlement._meta.pk, meta.get_field("day")
    params += [
        day_field.get_db_prep_value(start, db),
        day_field.get_db_prep_value(stop - timedelta(days=1), db),
    ]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    runs: dict[Any, _Run] = {}
    if summed:
        for entitlement_id, first, last, count, closing, *sums in rows:
            if last - first == (count - 1) * 24:
                runs[pk.to_python(entitlement_id)] = _Run(
                    first=_from_epoch_hour(first),
                    last=_from_epoch_hour(last),
                    closing=closing,
                    points=[
                        UsagePoint(
                            start=_from_epoch_hour(first), **dict(zip(_SUMMED, sums, strict=True))
                        )
                    ],
                )
        return runs
    days = {
        pk.to_python(entitlement_id): [
            UsagePoint(start=_from_epoch_hour(hour), **dict(zip(_ROLLED_UP, values, strict=True)))
            for _, hour, *values in found
        ]
        for entitlement_id, found in itertools.groupby(rows, key=itemgetter(0))
    }
    return {
        pk: _Run(first=run[0].start, last=run[-1].start, closing=run[-1].closing, points=run)
        for pk, run in days.items()
        if run[-1].start - run[0].start == timedelta(days=len(run) - 1)
    }


def _from_epoch_hour(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def _day_points(
    terms: dict[Any, list[Terms]],
    *,
    start: datetime,
    stop: datetime,
    now: datetime,
    summed: bool = False,
) -> dict[Any, list[UsagePoint]]:
    """The day Points from `start` to `stop` of each entitlement (`terms` by id): its
    rolled-up days where they serve, the walk over its hourly rows before and after them.
    At most four queries, whatever the number of entitlements and days: the rollups, the level
    before `start` and the hours before them (for entitlements whose rollups start later, or
    that have none), and the hours after them (today's).

    `summed`: the rolled-up days are one Point of their sums (overdraft seat-hours, denials,
    ...; the peak is their highest) instead of a Point a day, so whatever the range, the sums
    of an entitlement's Points are its range's, from a row per entitlement."""
    ids = list(terms)
    runs = _rolled_up_days(ids, start, stop, summed=summed)
    first = {pk: runs[pk].first if pk in runs else stop for pk in ids}
    after = {pk: run.last + timedelta(days=1) for pk, run in runs.items()}
    before_days = [pk for pk in ids if first[pk] > start]
    after_days = [pk for pk in after if after[pk] < stop]
    levels = _levels_before(before_days, start)
    head = (
        bucket_rows(before_days, start, max(first[pk] for pk in before_days)) if before_days else {}
    )
    tail = bucket_rows(after_days, min(after[pk] for pk in after_days), stop) if after_days else {}
    points: dict[Any, list[UsagePoint]] = {}
    for pk in ids:
        points[pk] = _points(
            terms[pk],
            head.get(pk, []),
            closing_before=levels.get(pk, 0),
            start=start,
            stop=first[pk],
            bucket="day",
            now=now,
        )
        if pk in runs:
            points[pk] += runs[pk].points
            points[pk] += _points(
                terms[pk],
                tail.get(pk, []),
                closing_before=runs[pk].closing,
                start=after[pk],
                stop=stop,
                bucket="day",
                now=now,
            )
    return points


def day_points(
    terms: list[Terms],
    rows: Iterable[history.Row],
    *,
    closing_before: int,
    start: datetime,
    stop: datetime,
    now: datetime,
) -> list[UsagePoint]:
    """The day Points of the UsageBucket rows from `start` to `stop` (whole days)."""
    return _points(
        terms, rows, closing_before=closing_before, start=start, stop=stop, bucket="day", now=now
    )


def _floor_range(start: datetime, end: datetime, bucket: Bucket) -> tuple[datetime, datetime]:
    floor = history.floor_day if bucket == "day" else history.floor_hour
    return floor(start), floor(end)


def _stop(end: datetime, now: datetime) -> datetime:
    """Where the rows of a history end: `end`, or the end of the current hour."""
    return min(end, history.floor_hour(now) + history.HOUR)


def _points(
    terms: list[Terms],
    rows: Iterable[history.Row],
    *,
    closing_before: int,
    start: datetime,
    stop: datetime,
    bucket: Bucket,
    now: datetime,
) -> list[UsagePoint]:
    if stop <= start:
        return []
    return history.walk(
        rows,
        closing_before=closing_before,
        spans=history.spans(terms, start, stop),
        now=now,
        bucket=bucket,
    )


def _history(
    entitlement: Entitlement,
    terms: list[Terms],
    points: list[UsagePoint],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    now: datetime,
) -> UsageHistory:
    return UsageHistory(
        entitlement=entitlement,
        bucket=bucket,
        start=start,
        end=end,
        as_of=now,
        points=points,
        terms=terms,
        changes=history.changes(terms, start, end),
    )


def usage_series(
    entitlement: Entitlement,
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket = "hour",
    now: datetime | None = None,
) -> list[UsagePoint]:
    """The points of `usage_history`."""
    return usage_history(entitlement, start=start, end=end, bucket=bucket, now=now).points


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
            end = history.floor_day(now) + timedelta(days=1)
        else:
            end = history.floor_hour(now) + history.HOUR
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


def usage_chart(usage: UsageHistory, projection: Forecast | None = None) -> dict[str, Any]:
    """The entitlement page's chart data (its json_script): per point the peak, the denials,
    the lines it was judged by and its zone, which the script only turns into colours; the
    changes of the lines inside the range, for markers; the temporary raises over the range,
    for bands (`raise_bands`: one query); and, for daily ranges, the days of the forecast
    (`usage_forecast`) to draw after the last point (`chart_projection`)."""
    return {
        "bucket": usage.bucket,
        "entitled": usage.entitlement.seats,
        "hard_limit": usage.entitlement.hard_limit,
        "customer_cap": usage.entitlement.customer_cap,
        "as_of": usage.as_of.isoformat(),
        "points": [
            {
                "t": p.start.isoformat(),
                "peak": p.peak,
                "denials": p.denials,
                "entitled": p.entitled,
                "hard_limit": p.hard_limit,
                "customer_cap": p.customer_cap,
                "zone": p.zone.value,
                "partial": p.partial,
            }
            for p in usage.points
        ],
        "changes": [
            {
                "t": change.at.isoformat(),
                "entitled": change.terms.seats,
                "hard_limit": change.terms.hard_limit,
                "summary": change.summary,
            }
            for change in usage.changes
        ],
        "raises": [
            {
                "from": band.start.isoformat(),
                "until": band.until.isoformat(),
                "status": band.status,
                "summary": band.summary,
            }
            for band in raise_bands(usage.entitlement, start=usage.start, end=usage.end)
        ],
        "forecast": chart_projection(usage, projection),
    }


# Days drawn past the furthest expected crossing, so the crossing does not sit on the edge.
PROJECTION_MARGIN_DAYS: Final = 3


def chart_projection(usage: UsageHistory, projection: Forecast | None) -> dict[str, Any] | None:
    """The forecast's days for a daily chart, from the day after the last point: up to a few
    days past the furthest line it is expected to reach, or to its horizon when it reaches
    none; never more days than the range shows. None for hourly charts and without a
    forecast."""
    if projection is None or not projection.available or usage.bucket != "day":
        return None
    expected = [c.expected for c in projection.crossings if c.expected is not None]
    ahead = (
        (max(expected) - projection.today).days + PROJECTION_MARGIN_DAYS
        if expected
        else projection.horizon_days
    )
    shown = (usage.end - usage.start).days
    return {
        "as_of": projection.today.isoformat(),
        "days": [
            {
                "t": _midnight(day.day).isoformat(),
                "expected": round(day.expected, 1),
                "low": round(day.low, 1),
                "high": round(day.high, 1),
            }
            for day in projection.days[: min(ahead, shown)]
        ],
        "crossings": [
            {
                "name": c.name,
                "seats": c.line,
                "reached": c.reached,
                "t": None if c.expected is None else _midnight(c.expected).isoformat(),
                "label": projection.on(c.expected),
            }
            for c in projection.crossings
        ],
    }


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# --- the forecast ------------------------------------------------------------------------------


def usage_forecast(
    entitlement: Entitlement, *, now: datetime | None = None, terms: list[Terms] | None = None
) -> Forecast:
    """When use reaches the lines in force at `now` (licensing.forecast), from the daily peaks
    of the weeks before (`_forecast_of`), whatever range a chart shows. One to four queries
    (its rolled-up days, and the level and hours around them: `_day_points`) given `terms`
    (`terms_history`), one more without."""
    now = now or timezone.now()
    terms = terms if terms is not None else terms_history(entitlement)
    start, end = _forecast_window(now)
    points = _day_points({entitlement.pk: terms}, start=start, stop=_stop(end, now), now=now)[
        entitlement.pk
    ]
    return _forecast_of(terms, points, now=now)


def _forecast_window(now: datetime) -> tuple[datetime, datetime]:
    """The days the forecast reads: `forecast.WINDOW_DAYS` whole days and today."""
    today = history.floor_day(now)
    return today - timedelta(days=forecast.WINDOW_DAYS), today + timedelta(days=1)


def _forecast_of(terms: list[Terms], points: list[UsagePoint], *, now: datetime) -> Forecast:
    """The forecast of the day Points of `_forecast_window(now)`: their peaks from the first
    whole day of the entitlement's first terms (the days before it existed are not days of no
    use), against the lines of the terms in force at `now`, the limit being `zones.limit_of`
    them."""
    existed = terms[0].effective_from
    first = history.floor_day(existed)
    if first < existed:
        first += timedelta(days=1)
    in_force = [t for t in terms if t.effective_from <= now] or terms[:1]
    lines = in_force[-1]
    limit = zones.limit_of(lines.hard_limit, lines.customer_cap)
    return forecast.forecast(
        {point.start.date(): point.peak for point in points if point.start >= first},
        today=history.floor_day(now).date(),
        entitled=lines.seats,
        limit=limit,
        limit_name="hard limit" if limit == lines.hard_limit else "cap",
    )


def customer_entitlements(
    customer: Customer, *, now: datetime | None = None
) -> QuerySet[Entitlement]:
    """A customer's entitlements for its dashboard, with denials in the last 30 days."""
    since = history.floor_hour(now or timezone.now()) - timedelta(days=30)
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
    since = history.floor_hour(now or timezone.now()) - timedelta(days=30)
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
    customer_cap: int | None
    seats_used: int
    capacity: Capacity
    # The seats of the customer's open request for more, if any (licensing.services.expansions).
    requested_seats: int | None = None
    # A running temporary raise (licensing.services.raises): its extra seats and end. The
    # lines above include it; when it ends they come down by as much.
    raise_seats: int | None = None
    raise_until: datetime | None = None
    # When use reaches the lines in force now (`usage_forecast`).
    forecast: Forecast | None = None
    # The billable overdraft seat-hours of the entitlement's latest statement (None: none yet).
    last_statement_billable: int | None = None

    @property
    def overdraft_seat_hours(self) -> int:
        return self.capacity.overdraft_seat_hours

    @property
    def overdraft_hours(self) -> int:
        return self.capacity.overdraft_hours

    @property
    def denials(self) -> int:
        return self.capacity.denials

    @property
    def peak(self) -> int:
        return self.capacity.peak

    @property
    def p95_peak(self) -> int:
        return self.capacity.p95_daily_peak

    @property
    def recommended(self) -> int | None:
        return self.capacity.recommended

    @property
    def extra_seats(self) -> int | None:
        return self.capacity.extra_seats


LEADS_RANGE: Final = "30d"


def expansion_leads(*, now: datetime | None = None, limit: int = 100) -> list[ExpansionLead]:
    """The first `limit` leads of `ranked_leads`, whole."""
    return ranked_leads(now=now)[:limit]


class RankedLeads:
    """The leads in order (`ranked_leads`). Reading a slice makes its leads whole (capacity,
    forecast, last statement): four queries and a forecast per lead, for that slice only, so a
    page of them (django.core.paginator.Paginator) costs its own leads, not all of them."""

    def __init__(
        self,
        ranked: list[_Ranked],
        terms: dict[Any, list[Terms]],
        *,
        start: datetime,
        now: datetime,
    ) -> None:
        self._ranked, self._terms, self._start, self._now = ranked, terms, start, now

    def __len__(self) -> int:
        return len(self._ranked)

    def __getitem__(self, index: slice) -> list[ExpansionLead]:
        return _whole_leads(self._ranked[index], self._terms, start=self._start, now=self._now)


@dataclasses.dataclass(frozen=True)
class _Ranked:
    """A lead before it is made whole: its entitlement (`_lead_candidates`) and its overdraft
    seat-hours and denials over the leads' range, which rank it (the sums of the range's day
    Points, as its `Capacity` sums them)."""

    entitlement: Any  # an Entitlement with `_lead_candidates`' annotations
    overdraft_seat_hours: int
    denials: int

    @property
    def rank(self) -> tuple[int, int, str, str]:
        return (
            -self.overdraft_seat_hours,
            -self.denials,
            self.entitlement.customer_name,
            str(self.entitlement.pk),
        )


def ranked_leads(*, now: datetime | None = None) -> RankedLeads:
    """Entitlements ranked by overdraft seat-hours, then denials, over the 30-day chart's range,
    and those whose customer asked for more seats (an open request), even without overdraft.

    Each lead's figures are its `usage_history(...).capacity` over exactly the range and
    buckets of the entitlement page's 30-day chart, so a lead and the chart's note agree; its
    `forecast` is its `usage_forecast`. Five queries, whatever the number of entitlements: the
    candidates (`_lead_candidates`), their terms, and the range's days (`_day_points`: mostly
    rolled-up days); then four more for each slice read (`RankedLeads`).
    """
    now = now or timezone.now()
    leads_range = USAGE_RANGES[LEADS_RANGE]
    start, end = _floor_range(*leads_range.bounds(now), leads_range.bucket)
    candidates = _lead_candidates(start=start, end=end, now=now)
    terms = terms_histories(candidates)
    points = _day_points(terms, start=start, stop=_stop(end, now), now=now, summed=True)
    ranked = []
    for entitlement in candidates:
        lead = _Ranked(
            entitlement,
            overdraft_seat_hours=sum(
                point.overdraft_seat_hours for point in points[entitlement.pk]
            ),
            denials=sum(point.denials for point in points[entitlement.pk]),
        )
        if lead.overdraft_seat_hours or lead.denials or entitlement.requested:
            ranked.append(lead)
    ranked.sort(key=lambda lead: lead.rank)
    return RankedLeads(ranked, terms, start=start, now=now)


def _lead_candidates(*, start: datetime, end: datetime, now: datetime) -> list[Any]:
    """A superset of the entitlements with overdraft or denials from `start` to `end` (whole
    days), and those with an open request, in one query that reads only rows that say so.

    The days before `rolled_up_until(now)` are rolled up (UsageDay), each judged by the terms
    in force hour by hour: a day with overdraft hours or denials says so exactly. An
    entitlement with no row for the last of those days is not rolled up yet (new, or the job
    is behind): it is a candidate if it has any bucket. The hours after, still hourly, are
    judged by the terms in force now unless the terms changed since (a candidate). Under
    them, the level is above the seats entitled from the start (the last rolled-up day's
    closing level above them: a candidate), or it went above them with an activation into
    overdraft, counted in its hour's bucket as are denials (a candidate); the level above the
    seats now makes one too. Annotated with its customer's name and whether it has an open
    request.
    """
    rolled = min(max(rolled_up_until(now), start), end)
    busy_days = UsageDay.objects.filter(day__gte=start, day__lt=rolled).filter(
        Q(denials__gt=0) | Q(overdraft_hours__gt=0)
    )
    busy_hours = UsageBucket.objects.filter(hour__gte=rolled, hour__lt=end).filter(
        Q(denials__gt=0) | Q(overdraft_activations__gt=0)
    )
    changed = EntitlementTerms.objects.filter(effective_from__gte=rolled)
    requests = ExpansionRequest.objects.filter(status=ExpansionRequest.Status.OPEN)
    buckets = UsageBucket.objects.filter(entitlement_id=OuterRef("pk"))
    return list(
        Entitlement.objects.only(*_TERMS_FIELDS)
        .annotate(
            last_rolled_up=FilteredRelation(
                "usage_days", condition=Q(usage_days__day=rolled - timedelta(days=1))
            ),
        )
        .filter(
            Q(pk__in=busy_days.values("entitlement_id"))
            | Q(pk__in=requests.values("entitlement_id"))
            | Q(pk__in=changed.values("entitlement_id"))
            | zones.q_in_overdraft("last_rolled_up__closing", "seats")
            | Q(pk__in=busy_hours.values("entitlement_id"))
            | zones.q_in_overdraft("seats_used", "seats")
            | Q(last_rolled_up__isnull=True) & Exists(buckets.filter(hour__lt=end))
        )
        .annotate(
            customer_name=F("customer__name"),
            requested=Exists(requests.filter(entitlement_id=OuterRef("pk"))),
        )
        .order_by()
    )


def _whole_leads(
    ranked: list[_Ranked], terms: dict[Any, list[Terms]], *, start: datetime, now: datetime
) -> list[ExpansionLead]:
    """The leads of `ranked`, with their capacity (the range's day Points), forecast (the
    forecast window's, which hold the range's) and last statement."""
    running = TemporaryRaise.objects.filter(
        entitlement_id=OuterRef("pk"), status=TemporaryRaise.Status.RUNNING
    )
    found = Entitlement.objects.select_related("customer", "product").annotate(
        requested_seats=Subquery(
            ExpansionRequest.objects.filter(
                entitlement_id=OuterRef("pk"), status=ExpansionRequest.Status.OPEN
            ).values("seats")[:1]
        ),
        raise_seats=Subquery(running.values("extra_seats")[:1]),
        raise_until=Subquery(running.values("ends_at")[:1]),
    )
    by_id = found.in_bulk([lead.entitlement.pk for lead in ranked])
    # In rank order; one deleted since it was ranked is left out.
    entitlements = {
        lead.entitlement.pk: by_id[lead.entitlement.pk]
        for lead in ranked
        if lead.entitlement.pk in by_id
    }
    leads_range = USAGE_RANGES[LEADS_RANGE]
    _, end = _floor_range(*leads_range.bounds(now), leads_range.bucket)
    window_start, _ = _forecast_window(now)
    points = _day_points(
        {pk: terms[pk] for pk in entitlements}, start=window_start, stop=_stop(end, now), now=now
    )
    billable = _last_statement_billable(list(entitlements))
    return [
        ExpansionLead(
            entitlement_id=pk,
            customer_name=entitlement.customer.name,
            customer_slug=entitlement.customer.slug,
            product_name=entitlement.product.name,
            seats=entitlement.seats,
            hard_limit=entitlement.hard_limit,
            customer_cap=entitlement.customer_cap,
            seats_used=entitlement.seats_used,
            capacity=_history(
                entitlement,
                terms[pk],
                [point for point in points[pk] if point.start >= start],
                start=start,
                end=end,
                bucket=leads_range.bucket,
                now=now,
            ).capacity,
            requested_seats=entitlement.requested_seats,
            raise_seats=entitlement.raise_seats,
            raise_until=entitlement.raise_until,
            forecast=_forecast_of(terms[pk], points[pk], now=now),
            last_statement_billable=billable.get(pk),
        )
        for pk, entitlement in entitlements.items()
    ]


def _last_statement_billable(ids: list[Any]) -> dict[Any, int]:
    """Entitlement id -> the billable overdraft seat-hours of its latest statement, in one
    query (the unique (entitlement, period_start) index finds each latest row)."""
    latest = Statement.objects.filter(entitlement_id=OuterRef("entitlement_id")).order_by(
        "-period_start"
    )
    return dict(
        Statement.objects.filter(
            entitlement_id__in=ids, pk=Subquery(latest.values("pk")[:1])
        ).values_list("entitlement_id", "billable_overdraft_seat_hours")
    )


# --- temporary raises --------------------------------------------------------------------------

_RAISE: Final = TemporaryRaise.Status


@dataclasses.dataclass(frozen=True)
class RaiseBand:
    """The time a temporary raise lifts (or lifted, or will lift) the lines: a band on the
    chart."""

    start: datetime
    until: datetime
    status: str
    summary: str  # "+20 seats and +20 hard limit"


def raise_bands(entitlement: Entitlement, *, start: datetime, end: datetime) -> list[RaiseBand]:
    """The raises of the entitlement over `start`..`end`, earliest first: a running one from
    when it started until its planned end, an ended one from when it started to when it ended,
    a scheduled one over its planned time. Cancelled raises, and those that ended without ever
    starting (their time passed while the job was not running), lifted nothing. One query."""
    # A superset: a raise starts at or after its `starts_at` and ends by its `ended_at` (or,
    # still open, its `ends_at`); the exact times are checked below.
    candidates = (
        TemporaryRaise.objects.filter(entitlement_id=entitlement.pk, starts_at__lt=end)
        .exclude(status=_RAISE.CANCELLED)
        .filter(Q(ended_at__gt=start) | Q(ended_at__isnull=True, ends_at__gt=start))
        .order_by("starts_at", "created_at")
    )
    bands = []
    for raise_ in candidates:
        if raise_.status == _RAISE.SCHEDULED:
            begins, until = raise_.starts_at, raise_.ends_at
        elif raise_.started_at is None:
            continue
        elif raise_.status == _RAISE.RUNNING:
            begins, until = raise_.started_at, raise_.ends_at
        else:
            begins, until = raise_.started_at, raise_.ended_at or raise_.ends_at
        if begins < end and until > start:
            bands.append(RaiseBand(begins, until, raise_.status, raise_.summary))
    return bands


def entitlement_raises(entitlement: Entitlement) -> QuerySet[TemporaryRaise]:
    """The entitlement's temporary raises, the latest start first, with who granted each (the
    account team's edit page)."""
    return (
        TemporaryRaise.objects.filter(entitlement_id=entitlement.pk)
        .select_related("granted_by")
        .order_by("-starts_at", "-created_at")
    )


@dataclasses.dataclass(frozen=True)
class RaisesNow:
    """What the customer's entitlement page says about temporary raises: the running one, those
    scheduled, and the seats in use held over above the limit since one ended (None when use is
    back under it) with that limit."""

    running: TemporaryRaise | None
    coming: list[TemporaryRaise]
    held_over: int | None
    limit: int | None


def raises_now(entitlement: Entitlement) -> RaisesNow:
    """The entitlement's running and scheduled raises (one query) and its seats held over."""
    open_raises = list(
        TemporaryRaise.objects.filter(
            entitlement_id=entitlement.pk, status__in=[_RAISE.SCHEDULED, _RAISE.RUNNING]
        ).order_by("starts_at")
    )
    counts = zones.SeatCounts.of(entitlement)
    held = counts.held_over if entitlement.seats_held_over is not None else None
    return RaisesNow(
        running=next((r for r in open_raises if r.status == _RAISE.RUNNING), None),
        coming=[r for r in open_raises if r.status == _RAISE.SCHEDULED],
        held_over=held,
        limit=counts.limit if held is not None else None,
    )


# --- requests for more seats -------------------------------------------------------------------


def open_expansion_request(entitlement: Entitlement) -> ExpansionRequest | None:
    """The entitlement's open request for more seats (at most one), with who made it."""
    return (
        ExpansionRequest.objects.select_related("requested_by")
        .filter(entitlement_id=entitlement.pk, status=ExpansionRequest.Status.OPEN)
        .first()
    )


def expansion_requests(*, status: str = "") -> QuerySet[ExpansionRequest]:
    """Requests for more seats, newest first, optionally of one status; paginate it."""
    requests = ExpansionRequest.objects.select_related(
        "entitlement__customer", "entitlement__product", "requested_by", "resolved_by"
    )
    if status:
        requests = requests.filter(status=status)
    return requests.order_by("-created_at", "-pk")


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
    f" WHERE {keys.sql_named_by('%(key)s', '%(now)s')} LIMIT 1"
)


def entitlement_by_license_key(key: str, *, now: datetime | None = None) -> Entitlement | None:
    """The entitlement this key names (licensing.keys: its key, or its previous key within the
    grace period): one indexed query, no join, no ORDER BY.

    Client API calls make this lookup, so on PostgreSQL it is a prepared statement
    (`licensing.statements.run`); compiling the equivalent queryset cost about as much CPU as
    running it (bench/RUNS.md).
    """
    now = now or timezone.now()
    if not statements.available():
        return Entitlement.objects.filter(keys.q_named_by(key, now)).order_by("pk").first()
    rows = statements.run(_BY_LICENSE_KEY, {"key": key, "now": now})
    return Entitlement.from_db(connection.alias, _ENTITLEMENT_FIELDS, rows[0]) if rows else None


# --- statements of billing periods ---------------------------------------------------------------


def entitlement_statements(entitlement: Entitlement) -> QuerySet[Statement]:
    """The entitlement's issued statements, newest period first."""
    return Statement.objects.filter(entitlement_id=entitlement.pk).order_by("-period_start")
