"""The usage-series selector and the capacity note built on it."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from licensing import selectors
from licensing.capacity import capacity_of
from licensing.history import Point
from licensing.models import Entitlement, UsageBucket

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, midnight UTC


def bucket(entitlement: Entitlement, hour: datetime, peak: int, closing: int, **kw: int) -> None:
    UsageBucket.objects.create(
        entitlement=entitlement, hour=hour, peak_used=peak, closing_used=closing, **kw
    )


@pytest.mark.django_db
def test_hours_without_a_row_carry_the_previous_closing_forward(entitlement: Entitlement) -> None:
    bucket(entitlement, T0 - timedelta(hours=5), peak=90, closing=80)
    bucket(entitlement, T0 + timedelta(hours=2), peak=110, closing=105, activations=30)

    points = selectors.usage_series(entitlement, start=T0, end=T0 + timedelta(hours=5))

    assert [p.start for p in points] == [T0 + timedelta(hours=h) for h in range(5)]
    assert [p.peak for p in points] == [80, 80, 110, 105, 105]
    assert [p.closing for p in points] == [80, 80, 105, 105, 105]
    assert [p.activations for p in points] == [0, 0, 30, 0, 0]
    assert [p.overdraft_hours for p in points] == [0, 0, 1, 1, 1]


@pytest.mark.django_db
def test_series_starts_at_zero_without_earlier_history(entitlement: Entitlement) -> None:
    points = selectors.usage_series(entitlement, start=T0, end=T0 + timedelta(hours=3))

    assert [(p.peak, p.closing, p.denials) for p in points] == [(0, 0, 0)] * 3


@pytest.mark.django_db
def test_daily_buckets_take_the_highest_hourly_peak_and_sum_the_counts(
    entitlement: Entitlement,
) -> None:
    bucket(entitlement, T0 + timedelta(hours=9), peak=104, closing=101, denials=0)
    bucket(entitlement, T0 + timedelta(hours=14), peak=120, closing=118, denials=7)
    bucket(entitlement, T0 + timedelta(hours=15), peak=120, closing=60, denials=5, releases=58)

    day1, day2 = selectors.usage_series(
        entitlement, start=T0, end=T0 + timedelta(days=2), bucket="day"
    )

    assert (day1.start, day1.peak, day1.closing, day1.denials, day1.releases) == (
        T0,
        120,
        60,
        12,
        58,
    )
    # 09:00..13:00 carry 101 forward (over 100), 14:00 and 15:00 peak at 120: 7 hours over.
    assert day1.overdraft_hours == 7
    assert (day2.start, day2.peak, day2.closing, day2.denials) == (
        T0 + timedelta(days=1),
        60,
        60,
        0,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(12))
def test_daily_buckets_are_the_hourly_series_summed_by_day(
    entitlement: Entitlement, seed: int
) -> None:
    # Sparse and dense histories; every third one with rows that close above their own peak
    # (no service writes those) followed by hours without a row, whose carried-forward
    # closing is then the day's peak.
    rng = random.Random(seed)
    density = [0.03, 0.3, 0.8, 1.0][seed % 4]
    for hour in range(-30, 24 * 8):
        if rng.random() < density:
            peak = rng.randint(0, 125)
            closing = rng.randint(0, 130) if seed % 3 == 0 else rng.randint(0, peak)
            bucket(
                entitlement,
                T0 + timedelta(hours=hour),
                peak=peak,
                closing=closing,
                activations=rng.randint(0, 9),
                overdraft_activations=rng.randint(0, 3),
                denials=rng.randint(0, 5),
                releases=rng.randint(0, 9),
            )
    end = T0 + timedelta(days=7)

    days = selectors.usage_series(entitlement, start=T0, end=end, bucket="day")
    hours = selectors.usage_series(entitlement, start=T0, end=end)

    assert len(days) == 7
    for n, day in enumerate(days):
        in_day = hours[24 * n : 24 * n + 24]
        assert day.start == in_day[0].start
        assert day.peak == max(p.peak for p in in_day)
        assert day.closing == in_day[-1].closing
        assert day.overdraft_hours == sum(p.overdraft_hours for p in in_day)
        for count in ("activations", "overdraft_activations", "denials", "releases"):
            assert getattr(day, count) == sum(getattr(p, count) for p in in_day)


@pytest.mark.django_db
def test_series_bounds_are_floored_to_whole_buckets(entitlement: Entitlement) -> None:
    points = selectors.usage_series(
        entitlement,
        start=T0 + timedelta(hours=5, minutes=30),
        end=T0 + timedelta(days=3, hours=2),
        bucket="day",
    )

    assert [p.start for p in points] == [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]


@pytest.mark.django_db
def test_other_entitlements_buckets_are_not_counted(
    entitlement: Entitlement, make_entitlement: object
) -> None:
    other = make_entitlement()  # type: ignore[operator]
    bucket(other, T0, peak=50, closing=50, denials=9)

    points = selectors.usage_series(entitlement, start=T0, end=T0 + timedelta(hours=1))

    assert (points[0].peak, points[0].denials) == (0, 0)


@pytest.mark.parametrize(
    ("key", "bucket_kind", "count"),
    [
        ("24h", "hour", 24),
        ("7d", "hour", 168),
        ("30d", "day", 30),
        ("90d", "day", 90),
        ("1y", "day", 365),
    ],
)
def test_ranges_cover_whole_buckets_up_to_the_current_one(
    key: str, bucket_kind: str, count: int
) -> None:
    now = T0 + timedelta(days=10, hours=13, minutes=7)
    usage_range = selectors.usage_range(key)

    start, end = usage_range.bounds(now)

    assert usage_range.bucket == bucket_kind
    step = timedelta(hours=1) if bucket_kind == "hour" else timedelta(days=1)
    assert start < now < end <= now + step
    assert (end - start) / step == count


def test_unknown_range_falls_back_to_30_days() -> None:
    assert selectors.usage_range("<script>").key == "30d"
    assert selectors.usage_range(None).key == "30d"


def _day(
    peak: int, denials: int, overdraft_hours: int, entitled: int, hard_limit: int, n: int = 0
) -> Point:
    return Point(
        start=T0 + timedelta(days=n),
        hours=24,
        peak=peak,
        denials=denials,
        overdraft_hours=overdraft_hours,
        entitled=entitled,
        hard_limit=hard_limit,
        denied_at=hard_limit if denials else None,
    )


@pytest.mark.parametrize(
    ("peak", "denials", "overdraft_hours", "expected"),
    [
        (118, 37, 40, 130),  # denials at 100/120: demand is at least 120, +5% -> 126 -> 130
        (112, 0, 12, 120),  # overdraft only: 112 +5% -> 118 -> 120
        (101, 0, 1, 110),
        (95, 0, 0, None),  # within: nothing to suggest
        (120, 0, 300, 130),
    ],
)
def test_recommended_seats(peak: int, denials: int, overdraft_hours: int, expected: int) -> None:
    day = _day(peak, denials, overdraft_hours, 100, 120)
    assert capacity_of([day], entitled=100, hard_limit=120).recommended == expected


def test_recommended_seats_rounds_small_entitlements_in_small_steps() -> None:
    assert capacity_of([_day(25, 4, 9, 20, 25)], entitled=20, hard_limit=25).recommended == 30
    assert capacity_of([_day(5, 1, 2, 3, 5)], entitled=3, hard_limit=5).recommended == 6


def test_demand_is_the_95th_percentile_daily_peak() -> None:
    # 19 days at 110 and one at 190 (nearest rank: the 19th of 20 values).
    days = [_day(110, 0, 24, 100, 200, n) for n in range(19)] + [_day(190, 0, 24, 100, 200, 19)]
    capacity = capacity_of(days, entitled=100, hard_limit=200)
    assert (capacity.peak, capacity.p95_daily_peak, capacity.demand) == (190, 110, 110)
    assert capacity.recommended == 120  # 110 + 5% = 115.5 -> 116 -> 120


def test_capacity_note_after_an_expansion_past_the_demand() -> None:
    # Judged by 100/120 then: denials at 120; entitled now: 130.
    days = [_day(120, 5, 10, 100, 120, n) for n in range(3)]
    capacity = capacity_of(days, entitled=130, hard_limit=150)
    assert capacity.recommended is None
    assert capacity.note("last 30 days") == (
        "Peak 120; 15 denials in the last 30 days: the 130 seats entitled now cover the usual"
        " demand (120 seats, 126 with 5% headroom)."
    )


@pytest.mark.django_db
def test_capacity_note_reads_like_the_story(entitlement: Entitlement) -> None:
    bucket(entitlement, T0 + timedelta(hours=10), peak=118, closing=90, denials=37)

    figures = selectors.usage_history(
        entitlement, start=T0, end=T0 + timedelta(days=30), bucket="day"
    ).capacity

    assert figures.peak == 118
    assert figures.denials == 37
    assert figures.recommended == 130
    assert figures.note("last 30 days") == (
        "Peak 118; 37 denials in the last 30 days: consider 130 seats."
    )


@pytest.mark.django_db
def test_capacity_note_within_entitlement(entitlement: Entitlement) -> None:
    bucket(entitlement, T0, peak=80, closing=70)

    figures = selectors.usage_history(entitlement, start=T0, end=T0 + timedelta(hours=24)).capacity

    assert figures.recommended is None
    assert figures.overdraft_hours == 0
    assert figures.note("last 24 hours") == (
        "Peak 80 of 100 entitled seats in the last 24 hours: your entitled seats cover your use."
    )
