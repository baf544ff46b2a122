"""Threshold alerts without a database: the level of each kind, the hysteresis, the daily
limit (licensing.alerts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from licensing import alerts
from licensing.zones import SeatCounts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FRESH = alerts.State(armed=True, last_fired_at=None)


def _run(readings: list[tuple[timedelta, int]], level: int | None) -> list[timedelta]:
    """Step a fresh threshold through (time after T0, seats in use); when it fired."""
    state, fired = FRESH, []
    for after, used in readings:
        state, fires = alerts.step(state, level=level, used=used, now=T0 + after)
        if fires:
            fired.append(after)
    return fired


@pytest.mark.parametrize(
    ("kind", "percent", "counts", "level"),
    [
        ("percent", 80, SeatCounts(0, 100, 120), 80),
        ("percent", 80, SeatCounts(0, 101, 120), 81),  # 80.8 seats: crossed at the 81st
        ("percent", 100, SeatCounts(0, 100, 120), 100),
        ("percent", 1, SeatCounts(0, 10, 12), 1),
        ("percent", 50, SeatCounts(0, 0, 0), 1),  # no seats: the first seat
        ("overdraft", None, SeatCounts(0, 100, 120), 101),
        ("limit", None, SeatCounts(0, 100, 120), 120),
        ("limit", None, SeatCounts(0, 100, 120, 110), 110),  # the customer's cap
        ("limit", None, SeatCounts(0, 100, None), None),  # no limit: never
    ],
)
def test_the_level_of_each_kind(
    kind: str, percent: int | None, counts: SeatCounts, level: int | None
) -> None:
    assert alerts.level_of(kind, percent, counts) == level


def test_an_unknown_kind_or_a_share_without_its_percent_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"^unknown threshold kind 'red'$"):
        alerts.level_of("red", None, SeatCounts(0, 1, 1))
    with pytest.raises(ValueError, match=r"^a share threshold needs its percent$"):
        alerts.level_of("percent", None, SeatCounts(0, 1, 1))


def test_use_hovering_at_the_line_alerts_once() -> None:
    """80% of 100: 79 → 81 → 79 → 81 within an hour is one alert."""
    minutes = [timedelta(minutes=m) for m in (0, 10, 20, 30)]
    assert _run(list(zip(minutes, [79, 81, 79, 81], strict=True)), level=80) == [minutes[1]]


def test_reaching_the_level_exactly_fires() -> None:
    assert _run([(timedelta(0), 79), (timedelta(minutes=1), 80)], level=80) == [
        timedelta(minutes=1)
    ]


def test_it_rearms_only_after_falling_back_by_the_margin() -> None:
    """Level 80: the margin is 4 seats (5%), so 76 re-arms and 77 does not."""
    assert alerts.rearm_below(80) == 76
    assert alerts.rearm_below(10) == 9  # at least one seat
    day = timedelta(days=1)
    not_rearmed = [(timedelta(0), 80), (day, 77), (2 * day, 80)]
    rearmed = [(timedelta(0), 80), (day, 76), (2 * day, 80)]
    assert _run(not_rearmed, level=80) == [timedelta(0)]
    assert _run(rearmed, level=80) == [timedelta(0), 2 * day]


def test_at_most_once_a_day_and_again_the_next_day() -> None:
    """Fired at 09:00; back to 70 and up to 81 at 15:00: no alert (within the day), and the
    crossing is spent; back to 70 and up to 81 the next day at 10:00: an alert."""
    readings = [
        (timedelta(0), 81),
        (timedelta(hours=5), 70),
        (timedelta(hours=6), 81),
        (timedelta(hours=20), 70),
        (timedelta(hours=25), 81),
    ]
    assert _run(readings, level=80) == [timedelta(0), timedelta(hours=25)]


def test_exactly_a_day_after_it_may_fire_again() -> None:
    readings = [(timedelta(0), 81), (timedelta(hours=1), 70), (timedelta(days=1), 81)]
    assert _run(readings, level=80) == [timedelta(0), timedelta(days=1)]
    just_before = [
        (timedelta(0), 81),
        (timedelta(hours=1), 70),
        (timedelta(hours=23, minutes=59), 81),
    ]
    assert _run(just_before, level=80) == [timedelta(0)]


def test_a_threshold_without_a_level_never_fires() -> None:
    assert _run([(timedelta(0), 10_000)], level=None) == []


def test_a_reading_below_the_level_changes_nothing_while_armed() -> None:
    state, fires = alerts.step(FRESH, level=80, used=3, now=T0)
    assert (state, fires) == (FRESH, False)


def test_each_kind_is_described() -> None:
    assert alerts.describe("percent", 80) == "80% of the entitled seats"
    assert alerts.describe("overdraft", None) == "overdraft"
    assert alerts.describe("limit", None) == "the limit"
