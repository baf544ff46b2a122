"""licensing.zones on its own (no database): the counts an entitlement reads as, and whether it
takes seats at all. The zone boundaries themselves are pinned in tests/licensing/test_zones.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from licensing import errors, zones
from licensing.zones import SeatCounts, check_usable, sql_usable

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_seat_counts_of_an_entitlement() -> None:
    entitlement = SimpleNamespace(seats_used=7, seats=5, hard_limit=9, customer_cap=8)
    assert SeatCounts.of(entitlement) == SeatCounts(
        used=7, entitled=5, hard_limit=9, customer_cap=8
    )


def test_seat_counts_as_json() -> None:
    assert SeatCounts(7, 5, 9).as_dict() == {
        "used": 7,
        "entitled": 5,
        "hard_limit": 9,
        "customer_cap": None,
        "available": 2,
    }
    assert SeatCounts(7, 5, None).as_dict()["available"] is None
    assert SeatCounts(9, 5, 9).as_dict()["available"] == 0


def entitlement(**terms: object) -> SimpleNamespace:
    defaults: dict[str, object] = {
        "status": "active",
        "starts_at": NOW - timedelta(days=1),
        "ends_at": None,
    }
    return SimpleNamespace(**{**defaults, **terms})


def test_an_active_entitlement_within_its_dates_takes_seats() -> None:
    check_usable(entitlement(), NOW)
    check_usable(entitlement(starts_at=NOW), NOW)  # from its first moment
    check_usable(entitlement(ends_at=NOW + timedelta(seconds=1)), NOW)  # to its last


def test_a_suspended_entitlement_takes_none() -> None:
    with pytest.raises(
        errors.EntitlementSuspended,
        match=r"^This entitlement is suspended; contact your vendor to resume it\.$",
    ):
        check_usable(entitlement(status="suspended"), NOW)


def test_an_ended_entitlement_takes_none_from_its_end() -> None:
    with pytest.raises(
        errors.EntitlementExpired, match=r"^This entitlement ended on 2026-03-02 12:00 UTC\.$"
    ):
        check_usable(entitlement(ends_at=NOW), NOW)


def test_an_entitlement_takes_none_before_it_starts() -> None:
    with pytest.raises(
        errors.EntitlementNotStarted, match=r"^This entitlement starts on 2026-03-02 12:01 UTC\.$"
    ):
        check_usable(entitlement(starts_at=NOW + timedelta(minutes=1)), NOW)


def test_sql_usable_reads_like_check_usable() -> None:
    assert sql_usable(status="e.status", starts_at="e.s", ends_at="e.e", now="%(now)s") == (
        "(e.status <> 'suspended' AND e.s <= %(now)s AND (e.e IS NULL OR e.e > %(now)s))"
    )


# --- the customer's cap: 100 seats, hard limit 120, capped by the customer at 110 ----------------


@pytest.mark.parametrize(
    ("used", "zone", "has_room", "available", "code"),
    [
        (100, "within", True, 10, "hard_limit_reached"),
        (101, "overdraft", True, 9, "hard_limit_reached"),
        (109, "overdraft", True, 1, "hard_limit_reached"),
        (110, "at_hard_limit", False, 0, "customer_cap_reached"),
    ],
)
def test_the_cap_is_the_limit_below_the_hard_limit(
    used: int, zone: str, has_room: bool, available: int, code: str
) -> None:
    counts = SeatCounts(used, 100, 120, 110)
    assert (counts.zone, counts.has_room, counts.available, counts.denial_code) == (
        zone,
        has_room,
        available,
        code,
    )
    assert counts.limit == 110
    assert counts.at_customer_cap is (used == 110)
    assert counts.at_hard_limit is False


def test_a_cap_at_the_hard_limit_is_the_vendors_line() -> None:
    counts = SeatCounts(120, 100, 120, 120)
    assert (counts.at_hard_limit, counts.at_customer_cap, counts.denial_code) == (
        True,
        False,
        "hard_limit_reached",
    )
    assert zones.limit_of(120, 120) == 120


def test_a_cap_at_the_seats_allows_no_overdraft() -> None:
    assert SeatCounts(99, 100, 120, 100).has_room is True
    assert SeatCounts(100, 100, 120, 100).denial_code == "customer_cap_reached"
    assert SeatCounts(100, 100, 120, 100).zone == "at_hard_limit"


def test_a_cap_never_raises_the_limit_above_the_hard_limit() -> None:
    """The database keeps a cap at most the hard limit; the rule does not lean on it."""
    assert zones.limit_of(120, 130) == 120
    assert SeatCounts(120, 100, 120, 130).denial_code == "hard_limit_reached"


def test_a_cap_without_a_hard_limit_is_the_only_limit() -> None:
    assert zones.limit_of(None, 130) == 130
    assert zones.limit_of(None, None) is None
    assert zones.limit_of(120, None) == 120
    assert SeatCounts(129, 100, None, 130).available == 1
    assert SeatCounts(130, 100, None, 130).denial_code == "customer_cap_reached"


def test_reaching_the_cap_is_its_own_event_once() -> None:
    before, at_cap = SeatCounts(109, 100, 120, 110), SeatCounts(110, 100, 120, 110)
    assert zones.transitions(before, at_cap) == [zones.CUSTOMER_CAP_REACHED]
    assert zones.transitions(at_cap, at_cap) == []
    assert zones.transitions(at_cap, before) == []
    reached = zones.transitions(SeatCounts(119, 100, 120, 120), SeatCounts(120, 100, 120, 120))
    assert reached == [zones.HARD_LIMIT_REACHED]


def test_seat_counts_as_json_name_the_cap() -> None:
    assert SeatCounts(105, 100, 120, 110).as_dict() == {
        "used": 105,
        "entitled": 100,
        "hard_limit": 120,
        "customer_cap": 110,
        "available": 5,
    }


@pytest.mark.parametrize(
    ("seats", "hard_limit", "cap", "fits"),
    [
        (100, 120, None, True),  # no cap
        (100, 120, 100, True),  # at the seats
        (100, 120, 99, False),  # below the seats
        (100, 120, 120, True),  # at the hard limit
        (100, 120, 121, False),  # above it
        (100, None, 500, True),  # no hard limit
        (100, None, 99, False),
    ],
)
def test_a_cap_fits_from_the_seats_to_the_hard_limit(
    seats: int, hard_limit: int | None, cap: int | None, fits: bool
) -> None:
    assert zones.cap_fits(seats, hard_limit, cap) is fits


@pytest.mark.parametrize(
    ("counts", "held"),
    [
        # Above the hard limit after a raise ended: all of them are held over.
        (SeatCounts(used=130, entitled=100, hard_limit=120), 130),
        (SeatCounts(used=121, entitled=100, hard_limit=120), 121),
        # At the limit or below it: nothing is held over.
        (SeatCounts(used=120, entitled=100, hard_limit=120), None),
        (SeatCounts(used=90, entitled=100, hard_limit=120), None),
        # Above the customer's cap, below the hard limit.
        (SeatCounts(used=115, entitled=100, hard_limit=120, customer_cap=110), 115),
        (SeatCounts(used=110, entitled=100, hard_limit=120, customer_cap=110), None),
        # No limit at all: nothing is ever above it.
        (SeatCounts(used=500, entitled=100, hard_limit=None), None),
    ],
)
def test_seats_above_the_limit_are_held_over(counts: SeatCounts, held: int | None) -> None:
    assert counts.held_over == held


@pytest.mark.parametrize(
    ("seats", "hard_limit", "cap", "moved"),
    [
        (120, 140, 110, 120),  # raised seats above the cap: the cap rises to them
        (100, 120, 130, 120),  # a hard limit back below the cap: the cap comes down to it
        (100, 120, 110, 110),  # a cap that fits stays
        (100, 120, 100, 100),
        (100, 120, 120, 120),
        (120, None, 110, 120),  # no hard limit: only the seats bound it
        (100, None, 150, 150),
        (100, 120, None, None),  # no cap stays none
    ],
)
def test_a_cap_is_moved_to_the_nearest_line(
    seats: int, hard_limit: int | None, cap: int | None, moved: int | None
) -> None:
    assert zones.cap_moved_within(seats, hard_limit, cap) == moved
    assert zones.cap_fits(seats, hard_limit, moved)
