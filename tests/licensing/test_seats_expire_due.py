"""Before a read: seats whose lease ran out are released, at one query when none is due."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from licensing import services
from licensing.models import Entitlement, Event, Seat, UsageBucket


@pytest.fixture
def lapsed(make_entitlement: Callable[..., Entitlement], frozen: Any) -> Entitlement:
    """A floating 2/3 entitlement at its hard limit whose seats stopped heartbeating, but one
    (`f-0`, renewed 30 s later): two leases ran out a second ago."""
    entitlement = make_entitlement(seats=2, hard_limit=3, lease_seconds=60)
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"f-{n}")
    frozen.shift(30)
    services.seat_activate(entitlement=entitlement, fingerprint="f-0")  # renews its lease
    frozen.shift(31)
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 3  # the counter still holds the lapsed seats
    return entitlement


def test_due_seats_are_expired_with_their_events(lapsed: Entitlement) -> None:
    expired = services.seats_expire_due(entitlements=[lapsed])

    assert expired == 2
    assert lapsed.seats_used == 1  # the instance passed in shows the new count
    lapsed.refresh_from_db()
    assert lapsed.seats_used == 1
    held = Seat.objects.filter(entitlement=lapsed, released_at=None)
    assert [seat.fingerprint for seat in held] == ["f-0"]
    gone = Seat.objects.filter(entitlement=lapsed, release_reason=Seat.ReleaseReason.EXPIRED)
    assert sorted(seat.fingerprint for seat in gone) == ["f-1", "f-2"]
    events = Event.objects.filter(entitlement=lapsed, type=Event.Type.SEAT_EXPIRED)
    assert sorted(event.data["fingerprint"] for event in events) == ["f-1", "f-2"]
    assert Event.objects.filter(entitlement=lapsed, type=Event.Type.OVERDRAFT_ENDED).count() == 1
    bucket = UsageBucket.objects.filter(entitlement=lapsed).latest("hour")
    assert (bucket.closing_used, bucket.releases) == (1, 2)

    assert services.seats_expire_due(entitlements=[lapsed]) == 0  # nothing left to do
    assert Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count() == 2


@pytest.mark.parametrize("scope", ["instances", "queryset", "all"])
def test_due_seats_are_expired_for_instances_a_queryset_or_all(
    lapsed: Entitlement, scope: str
) -> None:
    entitlements: Any = {
        "instances": [lapsed],
        "queryset": Entitlement.objects.filter(customer_id=lapsed.customer_id),
        "all": None,
    }[scope]

    assert services.seats_expire_due(entitlements=entitlements) == 2
    lapsed.refresh_from_db()
    assert lapsed.seats_used == 1


def test_only_the_given_entitlements_are_swept(
    lapsed: Entitlement, make_entitlement: Callable[..., Entitlement], frozen: Any
) -> None:
    other = make_entitlement(seats=1, hard_limit=1, lease_seconds=1)
    services.seat_activate(entitlement=other, fingerprint="o")
    frozen.shift(2)

    assert services.seats_expire_due(entitlements=[other]) == 1
    lapsed.refresh_from_db()
    assert lapsed.seats_used == 3  # not asked about: left to its own reads and the sweep


@pytest.mark.parametrize("scope", ["instances", "queryset", "all"])
def test_nothing_due_costs_one_query(
    make_entitlement: Callable[..., Entitlement],
    frozen: Any,
    django_assert_num_queries: Any,
    scope: str,
) -> None:
    floating = make_entitlement(seats=2, hard_limit=3, lease_seconds=60)
    named = make_entitlement(seats=2, hard_limit=3)
    for n in range(3):
        services.seat_activate(entitlement=floating, fingerprint=f"f-{n}")
        services.seat_activate(entitlement=named, fingerprint=f"n-{n}")
    frozen.shift(59)  # every lease still runs; named seats have none
    entitlements: Any = {
        "instances": [floating, named],
        "queryset": Entitlement.objects.filter(customer_id=floating.customer_id),
        "all": None,
    }[scope]

    with django_assert_num_queries(1):
        assert services.seats_expire_due(entitlements=entitlements) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_read_does_not_wait_for_a_locked_entitlement(
    make_entitlement: Callable[..., Entitlement], time_machine: Any
) -> None:
    """An activation holding the entitlement's row: the read's sweep gives up after
    READ_LOCK_WAIT_MS, without an error, and the next read releases the seat."""
    time_machine.move_to(timezone.now(), tick=True)
    entitlement = make_entitlement(seats=1, hard_limit=1, lease_seconds=1)
    services.seat_activate(entitlement=entitlement, fingerprint="gone")
    time_machine.shift(2)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    "SELECT 1 FROM licensing_entitlement WHERE id = %s FOR UPDATE",
                    [entitlement.pk],
                )
                locked.set()
                release.wait(10)
                cursor.execute("ROLLBACK")
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        # Had the sweep waited for the lock, it would wait until the holder gives up (10 s)
        # and then expire the seat: 1, not 0.
        assert services.seats_expire_due(entitlements=[entitlement]) == 0
        assert Seat.objects.get(fingerprint="gone").released_at is None  # rolled back
        with connection.cursor() as cursor:  # the bound did not outlive the sweep
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "0"
    finally:
        release.set()
        holder.join(10)

    assert services.seats_expire_due(entitlements=[entitlement]) == 1
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 0


@pytest.mark.postgres
def test_the_lock_bound_does_not_outlive_a_sweep_inside_a_transaction(
    lapsed: Entitlement,
) -> None:
    """Inside an enclosing transaction (as here, the test's), the sweep puts lock_timeout back."""
    assert services.seats_expire_due(entitlements=[lapsed]) == 2
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"
