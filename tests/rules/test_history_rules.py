"""licensing.history on its own (no database): which terms judge an hour, the walk over the
hours, its day sums, and the changes a chart marks. Every expected figure is written out by
hand; each boundary a figure turns on has a case (at the seats and one above, the hour of a
change, the first and last hour of a range, the current partial hour)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from licensing import zones
from licensing.history import (
    Point,
    Row,
    Span,
    Terms,
    changes,
    daily_peaks,
    describe,
    epoch_hour,
    floor_day,
    floor_hour,
    spans,
    walk,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # midnight
H = timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def terms(
    hours: float, seats: int, hard_limit: int | None, status: str = "active", changed_by: str = ""
) -> Terms:
    return Terms(at(hours), seats, hard_limit, status=status, changed_by=changed_by)


def row(hours: int, peak: int, closing: int, **counts: int) -> Row:
    return (
        epoch_hour(at(hours)),
        peak,
        closing,
        counts.get("activations", 0),
        counts.get("overdraft_activations", 0),
        counts.get("denials", 0),
        counts.get("releases", 0),
    )


# --- floors ------------------------------------------------------------------------------


def test_floors_cut_to_the_utc_hour_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    # In a process whose local time is not UTC (the floors must not depend on it).
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        kolkata = timezone(timedelta(hours=5, minutes=30))
        moment = datetime(2026, 3, 2, 19, 17, 59, 999, tzinfo=kolkata)  # 13:47:59 UTC
        assert floor_hour(moment) == datetime(2026, 3, 2, 13, tzinfo=UTC)
        assert floor_hour(moment).utcoffset() == timedelta(0)
        assert floor_day(moment) == T0
    finally:
        monkeypatch.undo()
        time.tzset()
    assert epoch_hour(T0) == int(T0.timestamp()) // 3600
    assert epoch_hour(at(1)) == epoch_hour(T0) + 1
    assert epoch_hour(at(1.75)) == epoch_hour(at(1))
    assert isinstance(epoch_hour(at(1.75)), int)


# --- spans: which terms judge an hour -------------------------------------------------------


def test_one_set_of_terms_is_one_span() -> None:
    assert spans([terms(-100, 100, 120)], at(0), at(5)) == [Span(at(0), at(5), 100, 120)]


def test_an_empty_or_backwards_range_has_no_span() -> None:
    assert spans([terms(0, 100, 120)], at(5), at(5)) == []
    assert spans([terms(0, 100, 120)], at(5), at(4)) == []


def test_hours_before_the_first_record_are_judged_by_it() -> None:
    assert spans([terms(3, 100, 120)], at(0), at(5)) == [Span(at(0), at(5), 100, 120)]


def test_a_change_on_the_hour_starts_with_that_hour() -> None:
    history = [terms(-10, 100, 120), terms(12, 130, 150)]
    assert spans(history, at(0), at(24)) == [
        Span(at(0), at(12), 100, 120),
        Span(at(12), at(24), 130, 150),
    ]


def test_the_hour_of_an_expansion_is_judged_by_the_new_terms() -> None:
    history = [terms(-10, 100, 120), terms(12.5, 130, 150)]
    assert spans(history, at(0), at(24)) == [
        Span(at(0), at(12), 100, 120),
        Span(at(12), at(24), 130, 150),
    ]


def test_the_hour_of_a_lowering_is_judged_by_the_old_terms() -> None:
    history = [terms(-10, 130, 150), terms(12.5, 90, 110)]
    assert spans(history, at(0), at(24)) == [
        Span(at(0), at(13), 130, 150),
        Span(at(13), at(24), 90, 110),
    ]


def test_a_change_of_seats_up_and_limit_down_takes_the_larger_of_each() -> None:
    history = [terms(-10, 100, 150), terms(12.5, 110, 120)]
    assert spans(history, at(12), at(14)) == [
        Span(at(12), at(13), 110, 150),
        Span(at(13), at(14), 110, 120),
    ]


def test_no_hard_limit_is_the_most_generous_limit() -> None:
    history = [terms(-10, 100, None), terms(12.5, 130, 150)]
    assert spans(history, at(12), at(14)) == [
        Span(at(12), at(13), 130, None),
        Span(at(13), at(14), 130, 150),
    ]
    back = [terms(-10, 130, 150), terms(12.5, 100, None)]
    assert spans(back, at(12), at(13)) == [Span(at(12), at(13), 130, None)]


def test_changes_outside_the_range_only_choose_the_terms_in_force() -> None:
    history = [terms(-10, 100, 120), terms(-2, 130, 150), terms(30, 90, 110)]
    assert spans(history, at(0), at(24)) == [Span(at(0), at(24), 130, 150)]


def test_two_changes_in_one_hour_take_the_most_generous_of_the_three() -> None:
    history = [terms(-10, 100, 120), terms(5.2, 140, 160), terms(5.7, 90, 110)]
    assert spans(history, at(4), at(7)) == [
        Span(at(4), at(5), 100, 120),
        Span(at(5), at(6), 140, 160),
        Span(at(6), at(7), 90, 110),
    ]


def test_a_range_that_starts_mid_hour_is_floored() -> None:
    assert spans([terms(-1, 5, 6)], at(0.5), at(2.5)) == [Span(at(0), at(2), 5, 6)]


# --- walk: the hours, carried forward, judged, up to now --------------------------------------


def hourly(
    rows: list[Row], *, closing_before: int = 0, hours: int = 5, now_hours: float = 100
) -> list[Point]:
    return walk(
        rows,
        closing_before=closing_before,
        spans=[Span(at(0), at(hours), 100, 120)],
        now=at(now_hours),
        bucket="hour",
    )


def test_terms_of_a_record_or_of_an_entitlement() -> None:
    record = SimpleNamespace(
        effective_from=at(3),
        seats=10,
        hard_limit=12,
        status="suspended",
        changed_by="a@b",
        lease_seconds=900,
        customer_cap=11,
    )
    assert Terms.of(record) == Terms(at(3), 10, 12, "suspended", "a@b", 900, 11)
    entitlement = SimpleNamespace(
        seats=5, hard_limit=None, status="active", lease_seconds=None, customer_cap=None
    )
    assert Terms.of(entitlement, effective_from=at(1)) == Terms(at(1), 5, None, "active", "", None)
    assert Terms.of(record, effective_from=at(9)).effective_from == at(9)
    assert Terms(at(0), 5, None).lines == "5/∞"
    assert Terms(at(0), 5, 6).lines == "5/6"


def test_hours_without_a_row_carry_the_previous_closing() -> None:
    points = hourly([row(2, 110, 105, activations=30)], closing_before=80)
    assert [p.start for p in points] == [at(h) for h in range(5)]
    assert [p.peak for p in points] == [80, 80, 110, 105, 105]
    assert [p.closing for p in points] == [80, 80, 105, 105, 105]
    assert [p.activations for p in points] == [0, 0, 30, 0, 0]
    assert [(p.overdraft_activations, p.denials, p.releases) for p in points] == [(0, 0, 0)] * 5
    assert [p.overdraft_hours for p in points] == [0, 0, 1, 1, 1]
    assert [p.overdraft_seat_hours for p in points] == [0, 0, 10, 5, 5]
    assert [p.hours for p in points] == [1] * 5
    assert [(p.entitled, p.hard_limit) for p in points] == [(100, 120)] * 5


def test_at_the_entitled_seats_is_no_overdraft_and_one_more_is() -> None:
    points = hourly([row(0, 100, 100), row(1, 101, 101), row(2, 120, 120)], hours=3)
    assert [p.overdraft_hours for p in points] == [0, 1, 1]
    assert [p.overdraft_seat_hours for p in points] == [0, 1, 20]
    assert [p.zone.value for p in points] == ["within", "overdraft", "at_hard_limit"]


def test_the_counts_of_a_row_are_its_own() -> None:
    (point,) = hourly(
        [row(0, 7, 6, activations=3, overdraft_activations=2, denials=4, releases=1)], hours=1
    )
    assert (point.activations, point.overdraft_activations, point.denials, point.releases) == (
        3,
        2,
        4,
        1,
    )
    assert point.denied_at == 120


def test_the_current_hour_is_the_last_and_partial() -> None:
    points = hourly([], closing_before=110, hours=5, now_hours=2.33)
    assert [p.start for p in points] == [at(0), at(1), at(2)]
    assert [p.partial for p in points] == [False, False, True]
    assert [p.overdraft_hours for p in points] == [1, 1, 1]


def test_now_on_the_hour_starts_a_partial_hour() -> None:
    points = hourly([], hours=5, now_hours=2)
    assert [p.partial for p in points] == [False, False, True]


def test_nothing_exists_after_now() -> None:
    assert hourly([row(0, 5, 5)], hours=5, now_hours=-1) == []


def test_rows_before_the_range_are_not_part_of_it() -> None:
    points = hourly([row(-1, 119, 119), row(0, 90, 90)], closing_before=50, hours=2)
    assert [p.peak for p in points] == [90, 90]
    points = hourly([row(-2, 119, 119)], closing_before=50, hours=2)  # and nothing after
    assert [p.peak for p in points] == [50, 50]


def test_a_day_counts_every_hour_of_its_rows() -> None:
    rows = [
        row(1, 10, 9, activations=2, overdraft_activations=1, denials=1, releases=3),
        row(5, 12, 12, activations=4, overdraft_activations=2, denials=2, releases=1),
    ]
    (day,) = walk(
        rows, closing_before=0, spans=[Span(at(0), at(24), 10, 12)], now=at(99), bucket="day"
    )
    assert (day.activations, day.overdraft_activations, day.denials, day.releases) == (6, 3, 3, 4)


def test_a_day_is_the_utc_day_even_when_the_range_starts_within_it() -> None:
    days = walk(
        [], closing_before=3, spans=[Span(at(13), at(30), 10, 12)], now=at(99), bucket="day"
    )
    assert [(d.start, d.hours) for d in days] == [(at(0), 11), (at(24), 6)]


def test_an_empty_day_is_zero_in_use() -> None:
    (day,) = walk(
        [], closing_before=0, spans=[Span(at(0), at(24), 10, 12)], now=at(99), bucket="day"
    )
    assert (day.peak, day.closing, day.entitled, day.hard_limit) == (0, 0, 10, 12)
    assert daily_peaks([day]) == [0]


def test_first_and_last_hour_of_a_range() -> None:
    points = hourly([row(0, 111, 101), row(4, 102, 99)], hours=5)
    assert (points[0].peak, points[0].overdraft_seat_hours) == (111, 11)
    assert (points[-1].peak, points[-1].closing, points[-1].overdraft_seat_hours) == (102, 99, 2)


def test_a_day_sums_its_hours_and_draws_the_lines_of_its_busiest_hour() -> None:
    history_spans = [Span(at(0), at(12), 100, 120), Span(at(12), at(48), 130, 150)]
    rows = [row(0, 110, 110), row(12, 125, 125, denials=2), row(23, 125, 60, releases=65)]
    days = walk(rows, closing_before=0, spans=history_spans, now=at(30.5), bucket="day")
    first, second = days
    assert (first.start, first.hours, first.partial) == (at(0), 24, False)
    assert (first.peak, first.closing) == (125, 60)
    assert (first.entitled, first.hard_limit, first.zone.value) == (130, 150, "within")
    assert (first.overdraft_hours, first.overdraft_seat_hours) == (12, 120)
    assert (first.denials, first.denied_at, first.releases) == (2, 150, 65)
    assert (second.start, second.hours, second.partial) == (at(24), 7, True)
    assert (second.peak, second.closing, second.overdraft_hours) == (60, 60, 0)


def test_a_day_of_equal_peaks_draws_the_lines_of_the_first() -> None:
    history_spans = [Span(at(0), at(12), 100, 120), Span(at(12), at(24), 130, 150)]
    (day,) = walk(
        [row(0, 110, 110)],
        closing_before=0,
        spans=history_spans,
        now=at(100),
        bucket="day",
    )
    assert (day.peak, day.entitled, day.zone.value) == (110, 100, "overdraft")
    assert day.overdraft_hours == 12


def test_denials_under_two_limits_remember_the_higher() -> None:
    history_spans = [Span(at(0), at(1), 100, 150), Span(at(1), at(2), 100, 120)]
    rows = [row(0, 150, 150, denials=1), row(1, 120, 120, denials=1)]
    (day,) = walk(rows, closing_before=0, spans=history_spans, now=at(100), bucket="day")
    assert day.denied_at == 150
    (day,) = walk(rows[1:], closing_before=0, spans=history_spans, now=at(100), bucket="day")
    assert day.denied_at == 120


def test_denials_without_a_limit_remember_no_limit() -> None:
    history_spans = [Span(at(0), at(1), 100, None), Span(at(1), at(2), 100, 120)]
    rows = [row(0, 150, 150, denials=1), row(1, 120, 120, denials=1)]
    (day,) = walk(rows, closing_before=0, spans=history_spans, now=at(100), bucket="day")
    assert (day.denials, day.denied_at) == (2, None)
    (day,) = walk(
        rows[::-1], closing_before=0, spans=history_spans[::-1], now=at(100), bucket="day"
    )
    assert day.denied_at is None


def test_as_dict_names_every_figure() -> None:
    (point,) = hourly([row(0, 101, 100, denials=1)], hours=1)
    assert point.as_dict() == {
        "start": at(0).isoformat(),
        "peak": 101,
        "closing": 100,
        "activations": 0,
        "overdraft_activations": 0,
        "denials": 1,
        "releases": 0,
        "overdraft_hours": 1,
        "overdraft_seat_hours": 1,
        "entitled": 100,
        "hard_limit": 120,
        "customer_cap": None,
        "zone": "overdraft",
        "partial": False,
    }


def test_daily_peaks_of_hourly_points() -> None:
    points = hourly([row(0, 5, 1), row(30, 9, 2)], hours=48)
    assert daily_peaks(points) == [5, 9]


# --- the changes a chart marks ---------------------------------------------------------------


def test_describe_names_the_change_and_who_made_it() -> None:
    old = terms(0, 100, 120)
    assert describe(old, terms(1, 130, 150, changed_by="am@v")) == "Expanded to 130/150 by am@v"
    assert describe(old, terms(1, 100, 150)) == "Expanded to 100/150"
    assert describe(old, terms(1, 90, 110)) == "Lowered to 90/110"
    assert describe(old, terms(1, 100, 110)) == "Lowered to 100/110"
    assert describe(old, terms(1, 110, 110)) == "Changed to 110/110"
    assert describe(old, terms(1, 90, 130)) == "Changed to 90/130"
    assert describe(old, terms(1, 110, 120)) == "Expanded to 110/120"
    assert describe(old, terms(1, 90, 120)) == "Lowered to 90/120"
    assert describe(old, terms(1, 100, None)) == "Expanded to 100/∞"
    assert describe(terms(0, 100, None), terms(1, 100, 500)) == "Lowered to 100/500"
    assert describe(old, terms(1, 100, 120)) == ""
    assert describe(old, terms(1, 100, 120, status="suspended", changed_by="x")) == "Suspended by x"
    assert describe(terms(0, 1, 2, status="suspended"), terms(1, 1, 2)) == "Resumed"


def test_changes_before_the_range_are_skipped_not_the_end() -> None:
    history = [terms(-10, 100, 120), terms(-5, 110, 120), terms(2, 90, 110)]
    assert [c.summary for c in changes(history, at(0), at(5))] == ["Lowered to 90/110"]


def test_changes_inside_the_range_only() -> None:
    history = [terms(-5, 100, 120), terms(0, 130, 150), terms(3, 130, 150), terms(5, 90, 110)]
    found = changes(history, at(0), at(5))
    assert [(c.at, c.summary) for c in found] == [(at(0), "Expanded to 130/150")]
    assert found[0].terms == history[1]


# --- the customer's cap ----------------------------------------------------------------------


def test_a_cap_is_a_line_of_its_own_and_judges_the_zone_of_the_hour() -> None:
    """100 seats, hard limit 120, capped by the customer at 110: a peak of 110 is at the
    limit, 109 in overdraft."""
    history_spans = [Span(at(0), at(2), 100, 120, 110)]
    first, second = walk(
        [row(0, 110, 110, denials=1), row(1, 109, 109)],
        closing_before=0,
        spans=history_spans,
        now=at(100),
        bucket="hour",
    )
    assert (first.customer_cap, first.zone, first.denied_at) == (110, zones.Zone.AT_HARD_LIMIT, 110)
    assert (second.customer_cap, second.zone, second.denied_at) == (
        110,
        zones.Zone.OVERDRAFT,
        None,
    )
    assert first.as_dict()["customer_cap"] == 110


def test_a_cap_set_inside_an_hour_leaves_the_hour_the_more_generous_line() -> None:
    """Capped at 110 from 00:30: the hour of 00:00 is judged by no cap (the most generous),
    the next by the cap."""
    history = [
        Terms(at(0), 100, 120),
        Terms(at(0) + timedelta(minutes=30), 100, 120, customer_cap=110),
    ]
    assert spans(history, at(0), at(3)) == [
        Span(at(0), at(1), 100, 120, None),
        Span(at(1), at(3), 100, 120, 110),
    ]
    two_caps = [
        Terms(at(0), 100, 120, customer_cap=105),
        Terms(at(0) + timedelta(minutes=30), 100, 120, customer_cap=110),
    ]
    # 105 until 00:30, then 110: both hours are judged by 110, one stretch.
    assert spans(two_caps, at(0), at(2)) == [Span(at(0), at(2), 100, 120, 110)]


def test_a_change_of_the_cap_alone_is_described() -> None:
    before = Terms(at(0), 100, 120)
    capped = Terms(at(1), 100, 120, changed_by="admin@acme.example", customer_cap=110)
    assert describe(before, capped) == "Customer capped at 110 by admin@acme.example"
    assert describe(capped, Terms(at(2), 100, 120)) == "Customer's cap removed"
    assert describe(capped, Terms(at(2), 100, 120, customer_cap=110)) == ""
