"""An entitlement's usage history, hour by hour, judged by the terms in force at the time.

Every figure about the past (charts, CSV, the usage API, the capacity note, leads, and what is
built on them) comes from `walk`, so these rules live here and nowhere else:

- **Which terms judge an hour** (`spans`): the terms in force during that hour; when they
  changed inside it, the most generous of them (most entitled seats, highest hard limit), so no
  hour counts as overdraft against seats the customer held at some moment of it. Hours before
  the first record are judged by the first record.
- **What an hour holds**: an hour with a UsageBucket row has that row's figures; an hour without
  one carries the previous hour's closing level forward (nothing changed in it).
- **Only elapsed time counts**: the walk ends with the hour that holds `now`, which is partial
  (its figures so far); no later hour exists, in any bucket.
- **How hours add up** (`Point`): a day's peak is its highest hour, its closing its last hour's,
  its counts and overdraft hours the sums; the lines drawn for it (and its zone) are those of
  the hour of its peak, so a point is never drawn above a line it was not judged against.

The module is pure: licensing.selectors reads the rows and the terms and calls it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from licensing import zones

Bucket = Literal["hour", "day"]

HOUR: Final = timedelta(hours=1)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    return floor_hour(moment).replace(hour=0)


@dataclasses.dataclass(frozen=True, slots=True)
class Terms:
    """The lines of an entitlement from `effective_from` until the next terms."""

    effective_from: datetime
    seats: int
    hard_limit: int | None
    status: str = "active"
    changed_by: str = ""
    lease_seconds: int | None = None
    customer_cap: int | None = None

    @classmethod
    def of(cls, record: Any, *, effective_from: datetime | None = None) -> Terms:
        """An EntitlementTerms record, or an Entitlement's current terms."""
        return cls(
            effective_from=effective_from or record.effective_from,
            seats=record.seats,
            hard_limit=record.hard_limit,
            status=record.status,
            changed_by=getattr(record, "changed_by", ""),
            lease_seconds=record.lease_seconds,
            customer_cap=record.customer_cap,
        )

    @property
    def lines(self) -> str:
        """`100/120`; `100/∞` without a hard limit."""
        return f"{self.seats}/{'∞' if self.hard_limit is None else self.hard_limit}"


def _most_generous(limits: list[int | None]) -> int | None:
    """The highest of some limits; None (no limit) if any is None."""
    return None if None in limits else max(x for x in limits if x is not None)


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """Whole hours from `start` to `end` (exclusive) judged by the same lines."""

    start: datetime
    end: datetime
    entitled: int
    hard_limit: int | None
    customer_cap: int | None = None


def spans(history: Sequence[Terms], start: datetime, end: datetime) -> list[Span]:
    """The hour-aligned stretches of [start, end) and the lines that judge each (see the
    module docstring). `history` is in order of `effective_from`, at least one record."""
    start, end = floor_hour(start), floor_hour(end)
    if end <= start:
        return []
    bounds = [t.effective_from for t in history[1:]]
    cuts = {start, end}
    for moment in bounds:
        for cut in (floor_hour(moment), floor_hour(moment) + HOUR):
            if start < cut < end:
                cuts.add(cut)
    result: list[Span] = []
    ordered = sorted(cuts)
    for a, b in itertools.pairwise(ordered):
        # The terms in force at some moment of the hour starting at `a` (and of every hour up
        # to `b`: no terms start or end strictly between the cuts).
        overlapping = [
            t
            for n, t in enumerate(history)
            if (n == 0 or t.effective_from < a + HOUR) and (n == len(bounds) or bounds[n] > a)
        ]
        entitled = max(t.seats for t in overlapping)
        hard_limit = _most_generous([t.hard_limit for t in overlapping])
        cap = _most_generous([t.customer_cap for t in overlapping])
        if result and (result[-1].entitled, result[-1].hard_limit, result[-1].customer_cap) == (
            entitled,
            hard_limit,
            cap,
        ):
            result[-1] = dataclasses.replace(result[-1], end=b)
        else:
            result.append(Span(a, b, entitled, hard_limit, cap))
    return result


# zones.zone_of, remembered: a history's points repeat a few peaks under a few lines (a month's
# statement asks for 744).
_zone_of: Final = functools.lru_cache(maxsize=4096)(zones.zone_of)


@dataclasses.dataclass(slots=True)
class Point:
    """Seat use in one bucket (an hour or a UTC day), judged hour by hour."""

    start: datetime
    hours: int = 0  # elapsed hours in the bucket (fewer than 24 in today's, or 1 hour's)
    peak: int = 0
    closing: int = 0
    activations: int = 0
    overdraft_activations: int = 0
    denials: int = 0
    releases: int = 0
    overdraft_hours: int = 0  # hours whose peak was above the seats entitled then
    overdraft_seat_hours: int = 0  # the sum of those hours' peak above the seats entitled then
    entitled: int = 0  # the lines of the hour of the peak (module docstring)
    hard_limit: int | None = None
    customer_cap: int | None = None
    partial: bool = False  # holds the current hour: figures so far
    denied_at: int | None = None  # the highest limit (zones.limit_of) when a denial happened

    @property
    def zone(self) -> zones.Zone:
        return _zone_of(self.peak, self.entitled, self.hard_limit, self.customer_cap)

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
            "overdraft_seat_hours": self.overdraft_seat_hours,
            "entitled": self.entitled,
            "hard_limit": self.hard_limit,
            "customer_cap": self.customer_cap,
            "zone": self.zone.value,
            "partial": self.partial,
        }


Row = tuple[int, int, int, int, int, int, int]
"""A UsageBucket row: its hour in hours since the Unix epoch, peak, closing, activations,
overdraft activations, denials, releases."""


def epoch_hour(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


def walk(
    rows: Iterable[Row],
    *,
    closing_before: int,
    spans: Sequence[Span],
    now: datetime,
    bucket: Bucket,
) -> list[Point]:
    """The points of the hours the spans cover, up to the hour that holds `now`.

    `rows` are the UsageBucket rows of those hours, in order; `closing_before` the closing
    level of the last row before them (0 if none). A year of hours is 8,760 turns of the loop
    below, so it keeps its sums in local integers and makes a Point per bucket.
    """
    current = epoch_hour(floor_hour(now))
    per = 24 if bucket == "day" else 1
    points: list[Point] = []
    rows = iter(rows)
    row = next(rows, None)
    closing = closing_before
    key: int | None = None  # the bucket being summed (hours since the epoch // per)

    def point(closing: int) -> Point:
        return Point(
            start=datetime.fromtimestamp(key * per * 3600, UTC),  # type: ignore[operator]
            hours=hours,
            peak=top,
            closing=closing,
            activations=activations_sum,
            overdraft_activations=overdraft_activations_sum,
            denials=denials_sum,
            releases=releases_sum,
            overdraft_hours=overdraft_hours,
            overdraft_seat_hours=seat_hours,
            entitled=top_entitled,
            hard_limit=top_limit,
            customer_cap=top_cap,
            partial=key == current // per,
            denied_at=denied_at,
        )

    for span in spans:
        hour, end = epoch_hour(span.start), min(epoch_hour(span.end), current + 1)
        entitled, hard_limit, cap = span.entitled, span.hard_limit, span.customer_cap
        limit = zones.limit_of(hard_limit, cap)
        while hour < end:
            closed = closing  # the level at the end of the hour before
            while row is not None and row[0] < hour:
                row = next(rows, None)  # a row outside the spans: not part of this history
            if row is not None and row[0] == hour:
                _, peak, closing, activations, overdraft_activations, denials, releases = row
                row = next(rows, None)
            else:
                peak, activations, overdraft_activations, denials, releases = closing, 0, 0, 0, 0
            if hour // per != key:  # a new bucket: the last one is complete
                if key is not None:
                    points.append(point(closed))
                key = hour // per
                hours = activations_sum = overdraft_activations_sum = denials_sum = 0
                releases_sum = overdraft_hours = seat_hours = 0
                top, top_entitled, top_limit, top_cap = peak, entitled, hard_limit, cap
                denied_at, denied = None, False
            elif peak > top:
                top, top_entitled, top_limit, top_cap = peak, entitled, hard_limit, cap
            hours += 1
            activations_sum += activations
            overdraft_activations_sum += overdraft_activations
            releases_sum += releases
            if denials:
                denials_sum += denials
                denied_at = _most_generous([denied_at, limit]) if denied else limit
                denied = True
            if zones.in_overdraft(peak, entitled):
                overdraft_hours += 1
                seat_hours += peak - entitled
            hour += 1
    if key is not None:
        points.append(point(closing))
    return points


def daily_peaks(points: Iterable[Point]) -> list[int]:
    """The highest peak of each UTC day the points cover (hourly or daily points)."""
    peaks: dict[int, int] = {}
    for point in points:
        day = int(point.start.timestamp()) // 86400  # the UTC day (floor_day), as a number
        peaks[day] = max(peaks.get(day, 0), point.peak)
    return list(peaks.values())


@dataclasses.dataclass(frozen=True)
class Change:
    """A change of the lines inside a chart's range, for its marker."""

    at: datetime
    terms: Terms
    summary: str  # "Expanded to 130/150 by am@vendor.example"


def changes(history: Sequence[Terms], start: datetime, end: datetime) -> list[Change]:
    """The changes of seats, hard limit, the customer's cap or status from `start` to `end`,
    described."""
    found = []
    for before, after in itertools.pairwise(history):
        if not start <= after.effective_from < end:
            continue
        summary = describe(before, after)
        if summary:
            found.append(Change(after.effective_from, after, summary))
    return found


def describe(before: Terms, after: Terms) -> str:
    """ "Expanded to 130/150 by …", "Lowered to …", "Suspended by …", "Resumed by …"; empty
    when neither the lines nor the status changed (a new lease or end date)."""
    by = f" by {after.changed_by}" if after.changed_by else ""
    if before.status != after.status:
        verb = "Suspended" if after.status == zones.SUSPENDED else "Resumed"
        return f"{verb}{by}"
    if (before.seats, before.hard_limit) == (after.seats, after.hard_limit):
        if before.customer_cap == after.customer_cap:
            return ""
        if after.customer_cap is None:
            return f"Customer's cap removed{by}"
        return f"Customer capped at {after.customer_cap}{by}"
    old = (before.seats, math.inf if before.hard_limit is None else before.hard_limit)
    new = (after.seats, math.inf if after.hard_limit is None else after.hard_limit)
    if new[0] >= old[0] and new[1] >= old[1]:
        verb = "Expanded"
    elif new[0] <= old[0] and new[1] <= old[1]:
        verb = "Lowered"
    else:
        verb = "Changed"
    return f"{verb} to {after.lines}{by}"
