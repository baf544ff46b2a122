"""licensing.capacity on its own (no database): the percentile, the headroom and steps of a
recommendation, the demand, and the note. Expected figures written out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from licensing.capacity import Capacity, capacity_of, percentile, recommended_seats, with_headroom
from licensing.history import Point

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def day(
    n: int, peak: int, *, entitled: int = 100, hard_limit: int | None = 120, **kw: int
) -> Point:
    over = max(peak - entitled, 0)
    return Point(
        start=T0 + timedelta(days=n),
        hours=24,
        peak=peak,
        entitled=entitled,
        hard_limit=hard_limit,
        overdraft_hours=kw.get("overdraft_hours", 24 if over else 0),
        overdraft_seat_hours=kw.get("overdraft_seat_hours", 24 * over),
        denials=kw.get("denials", 0),
        activations=kw.get("activations", 0),
        denied_at=hard_limit if kw.get("denials") else None,
    )


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 0.95) == 0
    assert percentile([7], 0.95) == 7
    assert percentile(list(range(1, 21)), 0.95) == 19  # the 19th of 20
    assert percentile(list(range(1, 31)), 0.95) == 29  # the 29th of 30 (28.5 rounded up)
    assert percentile([3, 1, 2], 0.5) == 2
    assert percentile([3, 1, 2], 0.0) == 1


def test_headroom_is_five_percent_rounded_up() -> None:
    assert with_headroom(0) == 0
    assert with_headroom(100) == 105
    assert with_headroom(101) == 107  # 106.05
    assert with_headroom(120) == 126


@pytest.mark.parametrize(
    ("entitled", "demand", "expected"),
    [
        (1, 2, 3),  # 2.1 -> 3, a step of 1
        (5, 9, 10),  # 9.45 -> 10: from 10 the step is 5
        (5, 8, 9),  # 8.4 -> 9, a step of 1
        (10, 45, 50),  # 47.25 -> 48 -> 50 (a step of 5)
        (40, 47, 50),  # 49.35 -> 50: from 50 the step is 10
        (100, 112, 120),  # 117.6 -> 118 -> 120
        (100, 120, 130),  # 126 -> 130
        (130, 120, None),  # 126 -> 130: not more than the 130 entitled
        (129, 120, 130),
        (100, 0, None),
    ],
)
def test_recommended_seats(entitled: int, demand: int, expected: int | None) -> None:
    assert recommended_seats(entitled=entitled, demand=demand) == expected


def test_no_overdraft_and_no_denials_recommend_nothing_whatever_the_peak() -> None:
    capacity = capacity_of(
        [day(0, 150, entitled=200, hard_limit=None)], entitled=100, hard_limit=120
    )
    assert (capacity.peak, capacity.demand, capacity.recommended) == (150, 150, None)
    assert capacity.note("last 30 days") == (
        "Peak 150 of 100 entitled seats in the last 30 days: your entitled seats cover your use."
    )


def test_demand_is_the_95th_percentile_day_and_denials_raise_it_to_their_limit() -> None:
    days = [day(n, 90) for n in range(19)] + [day(19, 119)]
    capacity = capacity_of(days, entitled=100, hard_limit=120)
    assert (capacity.peak, capacity.p95_daily_peak, capacity.demand) == (119, 90, 90)
    assert (capacity.overdraft_hours, capacity.overdraft_seat_hours) == (24, 456)
    assert capacity.recommended is None  # 90 -> 94.5 -> 95 seats: within the 100
    denied = [*days[:-1], day(19, 120, denials=3)]
    capacity = capacity_of(denied, entitled=100, hard_limit=120)
    assert (capacity.denials, capacity.demand, capacity.recommended) == (3, 120, 130)


def test_denials_without_a_limit_leave_the_demand_alone() -> None:
    days = [day(0, 105, hard_limit=None, denials=2)]
    capacity = capacity_of(days, entitled=100, hard_limit=None)
    assert (capacity.demand, capacity.recommended) == (105, 120)  # 110.25 -> 111 -> 120


def test_the_sums() -> None:
    days = [day(0, 101, activations=5, denials=1), day(1, 99, activations=7)]
    capacity = capacity_of(days, entitled=100, hard_limit=120)
    assert capacity.as_dict() == {
        "peak": 101,
        "p95_daily_peak": 101,
        "overdraft_hours": 24,
        "overdraft_seat_hours": 24,
        "denials": 1,
        "activations": 12,
        "demand": 120,
        "recommended_seats": 130,
    }
    assert capacity.extra_seats == 30
    assert (capacity.entitled, capacity.hard_limit) == (100, 120)
    assert capacity.note("last 30 days") == (
        "Peak 101; 1 denial in the last 30 days: consider 130 seats."
    )


def test_no_points_are_an_empty_history() -> None:
    capacity = capacity_of([], entitled=10, hard_limit=None)
    assert (capacity.peak, capacity.p95_daily_peak, capacity.recommended) == (0, 0, None)
    assert capacity.extra_seats is None


def test_notes() -> None:
    denied = capacity_of([day(0, 120, denials=3)], entitled=100, hard_limit=120)
    assert denied.note("last 30 days") == (
        "Peak 120; 3 denials in the last 30 days: consider 130 seats."
    )
    one_hour = capacity_of(
        [day(0, 105, overdraft_hours=1, overdraft_seat_hours=5)], entitled=100, hard_limit=120
    )
    assert one_hour.note("last 24 hours") == (
        "Peak 105; 1 hour in overdraft (5 seat-hours) in the last 24 hours: consider 120 seats."
    )
    hours = capacity_of([day(0, 102)], entitled=100, hard_limit=120)
    assert hours.note("last 7 days") == (
        "Peak 102; 24 hours in overdraft (48 seat-hours) in the last 7 days: consider 110 seats."
    )
    covered = Capacity(
        entitled=130,
        hard_limit=150,
        peak=120,
        p95_daily_peak=120,
        overdraft_hours=3,
        overdraft_seat_hours=30,
        denials=0,
        activations=0,
        demand=120,
        recommended=None,
    )
    assert covered.note("last year") == (
        "Peak 120; 3 hours in overdraft (30 seat-hours) in the last year: the 130 seats"
        " entitled now cover the usual demand (120 seats, 126 with 5% headroom)."
    )
