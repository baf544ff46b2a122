"""licensing.zones on its own (no database): the counts an entitlement reads as, and whether it
takes seats at all. The zone boundaries themselves are pinned in tests/licensing/test_zones.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from licensing import errors
from licensing.zones import SeatCounts, check_usable, sql_usable

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_seat_counts_of_an_entitlement() -> None:
    entitlement = SimpleNamespace(seats_used=7, seats=5, hard_limit=9)
    assert SeatCounts.of(entitlement) == SeatCounts(used=7, entitled=5, hard_limit=9)


def test_seat_counts_as_json() -> None:
    assert SeatCounts(7, 5, 9).as_dict() == {
        "used": 7,
        "entitled": 5,
        "hard_limit": 9,
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
