"""The zone rule, written once in licensing.zones, and every form of it agreeing.

The boundaries are spelled out by hand here (not with the module's own helpers), so a change
of the rule shows up as a failing line that says which boundary moved.
"""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.db import connection

from licensing import selectors, zones
from licensing.models import Entitlement, Event, UsageBucket
from licensing.zones import (
    HARD_LIMIT_REACHED,
    OVERDRAFT_ENDED,
    OVERDRAFT_STARTED,
    SeatCounts,
    Zone,
    transitions,
    zone_of,
)

# --- the rule in Python: boundaries -------------------------------------------------------------


def test_at_the_entitled_seats_is_within() -> None:
    assert zone_of(100, 100, 120) == Zone.WITHIN
    assert zone_of(0, 100, 120) == Zone.WITHIN


def test_one_seat_above_the_entitled_seats_is_overdraft() -> None:
    assert zone_of(101, 100, 120) == Zone.OVERDRAFT
    assert SeatCounts(101, 100, 120).in_overdraft


def test_one_seat_below_the_hard_limit_is_still_overdraft() -> None:
    assert zone_of(119, 100, 120) == Zone.OVERDRAFT
    assert SeatCounts(119, 100, 120).has_room
    assert SeatCounts(119, 100, 120).available == 1


def test_at_the_hard_limit_the_next_seat_is_denied() -> None:
    counts = SeatCounts(120, 100, 120)
    assert counts.zone == Zone.AT_HARD_LIMIT
    assert counts.at_hard_limit and not counts.has_room
    assert counts.available == 0
    # At the hard limit is still in overdraft of the entitled seats.
    assert counts.in_overdraft


def test_without_a_hard_limit_overdraft_never_ends() -> None:
    assert zone_of(100, 100, None) == Zone.WITHIN
    assert zone_of(101, 100, None) == Zone.OVERDRAFT
    assert zone_of(1_000_000, 100, None) == Zone.OVERDRAFT
    counts = SeatCounts(1_000_000, 100, None)
    assert counts.has_room and not counts.at_hard_limit
    assert counts.available is None


def test_hard_limit_equal_to_the_seats_means_no_overdraft() -> None:
    assert zone_of(99, 100, 100) == Zone.WITHIN
    assert zone_of(100, 100, 100) == Zone.AT_HARD_LIMIT
    assert not SeatCounts(100, 100, 100).in_overdraft
    assert not SeatCounts(100, 100, 100).has_room


def test_zero_seats() -> None:
    assert zone_of(0, 0, 0) == Zone.AT_HARD_LIMIT
    assert zone_of(0, 0, None) == Zone.WITHIN
    assert zone_of(1, 0, None) == Zone.OVERDRAFT


def test_zone_values_and_event_types_are_the_public_strings() -> None:
    assert Zone.values == ["within", "overdraft", "at_hard_limit"]
    assert Event.Type.OVERDRAFT_STARTED == OVERDRAFT_STARTED == "entitlement.overdraft_started"
    assert Event.Type.HARD_LIMIT_REACHED == HARD_LIMIT_REACHED == "entitlement.hard_limit_reached"
    assert Event.Type.OVERDRAFT_ENDED == OVERDRAFT_ENDED == "entitlement.overdraft_ended"
    assert zones.ZONE_RANKS == {0: "within", 1: "overdraft", 2: "at_hard_limit"}


# --- transitions: one event per crossing -------------------------------------------------------


def _counts(used: int, entitled: int = 100, hard_limit: int | None = 120) -> SeatCounts:
    return SeatCounts(used, entitled, hard_limit)


def test_one_more_seat_into_overdraft_starts_it() -> None:
    assert transitions(_counts(100), _counts(101)) == [OVERDRAFT_STARTED]


def test_a_seat_that_crosses_no_line_writes_nothing() -> None:
    assert transitions(_counts(99), _counts(100)) == []
    assert transitions(_counts(101), _counts(102)) == []
    assert transitions(_counts(102), _counts(101)) == []
    assert transitions(SeatCounts(500, 100, None), SeatCounts(501, 100, None)) == []


def test_one_more_seat_to_the_hard_limit_reaches_it() -> None:
    assert transitions(_counts(119), _counts(120)) == [HARD_LIMIT_REACHED]


def test_one_seat_less_out_of_overdraft_ends_it() -> None:
    assert transitions(_counts(101), _counts(100)) == [OVERDRAFT_ENDED]


def test_leaving_the_hard_limit_writes_nothing() -> None:
    assert transitions(_counts(120), _counts(119)) == []


def test_a_vendor_raising_the_lines_ends_the_overdraft() -> None:
    before = SeatCounts(110, entitled=100, hard_limit=120)
    after = SeatCounts(110, entitled=120, hard_limit=150)
    assert transitions(before, after) == [OVERDRAFT_ENDED]
    # From the hard limit too: leaving it has no event of its own.
    assert transitions(SeatCounts(120, 100, 120), SeatCounts(120, 130, None)) == [OVERDRAFT_ENDED]


def test_a_vendor_lowering_the_lines_starts_the_overdraft_or_reaches_the_limit() -> None:
    assert transitions(SeatCounts(90, 100, 120), SeatCounts(90, 80, 120)) == [OVERDRAFT_STARTED]
    assert transitions(SeatCounts(110, 100, 120), SeatCounts(110, 100, 110)) == [HARD_LIMIT_REACHED]


def test_a_jump_over_both_lines_writes_both_events_in_order() -> None:
    assert transitions(_counts(99), _counts(120)) == [OVERDRAFT_STARTED, HARD_LIMIT_REACHED]
    # One seat crosses both lines when the hard limit is one above the entitled seats.
    assert transitions(SeatCounts(100, 100, 101), SeatCounts(101, 100, 101)) == [
        OVERDRAFT_STARTED,
        HARD_LIMIT_REACHED,
    ]


def test_hard_limit_equal_to_the_seats_only_reaches_the_limit() -> None:
    assert transitions(SeatCounts(99, 100, 100), SeatCounts(100, 100, 100)) == [HARD_LIMIT_REACHED]
    assert transitions(SeatCounts(100, 100, 100), SeatCounts(99, 100, 100)) == []


def test_a_fall_from_the_hard_limit_below_the_seats_ends_the_overdraft_once() -> None:
    assert transitions(_counts(120), _counts(90)) == [OVERDRAFT_ENDED]


def test_up_to_the_limit_and_back_one_seat_at_a_time_writes_each_event_once() -> None:
    levels = [*range(0, 121), *range(119, -1, -1)]
    events = [
        event
        for before, after in pairwise(levels)
        for event in transitions(_counts(before), _counts(after))
    ]
    assert events == [OVERDRAFT_STARTED, HARD_LIMIT_REACHED, OVERDRAFT_ENDED]


# --- the rule in the ORM: real rows -------------------------------------------------------------

Row = tuple[int, int | None, int, int | None]

# (entitled, hard limit, seats in use, customer's cap) around every boundary.
ROWS: list[Row] = [
    (100, 120, 0, None),
    (100, 120, 100, None),
    (100, 120, 101, None),
    (100, 120, 119, None),
    (100, 120, 120, None),
    (100, None, 100, None),
    (100, None, 101, None),
    (100, None, 100_000, None),
    (100, 100, 99, None),
    (100, 100, 100, None),
    (0, 0, 0, None),
    (0, None, 0, None),
    (0, None, 1, None),
    (0, 2, 1, None),
    (100, 120, 109, 110),  # capped by the customer at 110: one below it
    (100, 120, 110, 110),  # at the cap
    (100, 120, 100, 100),  # a cap at the seats: no overdraft
    (100, 120, 120, 120),  # a cap at the hard limit
    (100, None, 130, 130),  # a cap with no hard limit
]


@pytest.fixture
def rows(make_entitlement: Callable[..., Entitlement]) -> dict[Any, Row]:
    made = {}
    for seats, hard_limit, used, cap in ROWS:
        entitlement = make_entitlement(seats=seats, hard_limit=hard_limit)
        Entitlement.objects.filter(pk=entitlement.pk).update(seats_used=used, customer_cap=cap)
        made[entitlement.pk] = (seats, hard_limit, used, cap)
    return made


@pytest.mark.parametrize("zone", Zone.values)
def test_in_zone_finds_the_rows_zone_of_puts_there(rows: dict[Any, Row], zone: str) -> None:
    expected = {pk for pk, (e, h, used, cap) in rows.items() if zone_of(used, e, h, cap) == zone}
    assert expected  # every zone has rows
    assert set(Entitlement.objects.in_zone(zone).values_list("pk", flat=True)) == expected


def test_the_zones_partition_the_rows(rows: dict[Any, Row]) -> None:
    found = [
        pk
        for zone in Zone.values
        for pk in Entitlement.objects.in_zone(zone).values_list("pk", flat=True)
    ]
    assert sorted(map(str, found)) == sorted(map(str, rows))  # each row in exactly one zone


def test_zone_rank_names_the_zone_of_each_row(rows: dict[Any, Row]) -> None:
    annotated = Entitlement.objects.with_zone_rank()
    # django-stubs cannot see the annotation a custom QuerySet method adds.
    ranked = dict(annotated.values_list("pk", "zone_rank"))  # type: ignore[misc]
    assert ranked.keys() == rows.keys()
    for pk, (seats, hard_limit, used, cap) in rows.items():
        assert zones.ZONE_RANKS[ranked[pk]] == zone_of(used, seats, hard_limit, cap), rows[pk]


def test_an_unknown_zone_is_an_error(db: Any) -> None:
    with pytest.raises(ValueError, match="unknown zone"):
        Entitlement.objects.in_zone("red")


# --- the rule in SQL: the database agrees with Python -------------------------------------------


def _grid() -> Iterator[tuple[int, int | None, int | None, list[tuple[int, int]]]]:
    """(entitled, hard limit, customer cap, [(before, after), ...]): every pair of counter
    readings the database allows (at most the limit), with NULL hard limits and caps among
    them, and caps from the entitled seats to the hard limit."""
    for entitled in (0, 2, 3):
        for hard_limit in (None, entitled, entitled + 1, entitled + 2):
            room = [entitled, entitled + 1, hard_limit]
            caps = {c for c in room if c is not None and (hard_limit is None or c <= hard_limit)}
            for cap in [*sorted(caps), None]:
                limit = zones.limit_of(hard_limit, cap)
                top = limit if limit is not None else entitled + 2
                levels = range(top + 1)
                yield entitled, hard_limit, cap, [(b, a) for b in levels for a in levels]


def _sql(value: int | None) -> str:
    """An integer column's value as SQL (a typed NULL, as a column's would be)."""
    return "CAST(NULL AS INTEGER)" if value is None else str(value)


def _on_database(sql: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def _on_sqlite(sql: str) -> tuple[Any, ...]:
    with closing(sqlite3.connect(":memory:")) as db:
        return tuple(db.execute(sql).fetchone())


@pytest.fixture(params=["database", "sqlite"])
def select(request: pytest.FixtureRequest) -> Callable[[str], tuple[Any, ...]]:
    """Runs `SELECT <sql>` on the test database (PostgreSQL under scripts/test, else SQLite)
    and, whatever that is, on SQLite too."""
    if request.param == "database":
        request.getfixturevalue("db")
        return _on_database
    return _on_sqlite


def test_sql_has_room_agrees_with_python(select: Callable[[str], tuple[Any, ...]]) -> None:
    for entitled, hard_limit, cap, pairs in _grid():
        levels = sorted({after for _, after in pairs})
        columns = [zones.sql_has_room(str(used), _sql(hard_limit), _sql(cap)) for used in levels]
        got = select("SELECT " + ", ".join(columns))
        for used, value in zip(levels, got, strict=True):
            case = (used, entitled, hard_limit, cap)
            assert value is not None, case
            assert bool(value) == SeatCounts(used, entitled, hard_limit, cap).has_room, case


def test_sql_in_overdraft_agrees_with_python(select: Callable[[str], tuple[Any, ...]]) -> None:
    cases = [(used, entitled) for used in range(6) for entitled in range(4)]
    got = select("SELECT " + ", ".join(zones.sql_in_overdraft(str(u), str(e)) for u, e in cases))
    for (used, entitled), value in zip(cases, got, strict=True):
        assert bool(value) == zones.in_overdraft(used, entitled), (used, entitled)


@pytest.mark.parametrize("event", zones.TRANSITION_EVENTS)
def test_sql_transition_agrees_with_python(
    select: Callable[[str], tuple[Any, ...]], event: str
) -> None:
    for entitled, hard_limit, cap, pairs in _grid():
        columns = [
            zones.sql_transition(
                event,
                before=str(before),
                after=str(after),
                entitled=str(entitled),
                hard_limit=_sql(hard_limit),
                customer_cap=_sql(cap),
            )
            for before, after in pairs
        ]
        got = select("SELECT " + ", ".join(columns))
        for (before, after), value in zip(pairs, got, strict=True):
            case = (event, before, after, entitled, hard_limit, cap)
            assert value is not None, case
            wanted = event in transitions(
                SeatCounts(before, entitled, hard_limit, cap),
                SeatCounts(after, entitled, hard_limit, cap),
            )
            assert bool(value) == wanted, case


# --- pages ask the rule -------------------------------------------------------------------------


def test_chart_points_carry_the_zone_of_their_peak(entitlement: Entitlement) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n, peak in enumerate([100, 101, 119, 120]):
        UsageBucket.objects.create(
            entitlement=entitlement,
            hour=start + timedelta(days=n),
            peak_used=peak,
            closing_used=0,
        )
    usage = selectors.usage_history(
        entitlement, start=start, end=start + timedelta(days=4), bucket="day"
    )

    chart = selectors.usage_chart(usage)

    assert [p["zone"] for p in chart["points"]] == [
        "within",
        "overdraft",
        "overdraft",
        "at_hard_limit",
    ]
