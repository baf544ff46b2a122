"""The library's background heartbeats keep a floating seat, and a killed client's seat goes
back to the pool after its lease: against a real portal, with 2-second leases."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest
from django.utils import timezone
from overdraft_client import Denied, State

from licensing.models import Entitlement, Event, Seat
from tests.sdk.conftest import Portal, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LEASE = 2


def test_heartbeats_keep_a_floating_seat_past_several_lease_lengths(
    portal: Portal, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=1, lease_seconds=LEASE)
    client = portal.client(entitlement.license_key, "kept")
    assert client.start() is State.OK
    seat_id = client.seat_id
    assert seat_id is not None
    renewals = set()

    ends = time.monotonic() + 3 * LEASE
    while time.monotonic() < ends:
        assert client.state is State.OK
        assert client.lease is not None
        renewals.add(client.lease.issued_at)
        time.sleep(0.05)

    assert client.seat_id == seat_id
    assert len(renewals) >= 3  # tokens of several heartbeats, not just the first
    other = portal.client(entitlement.license_key, "other").activate()
    assert isinstance(other, Denied)  # the seat is still taken
    seat = Seat.objects.get(pk=seat_id)
    assert seat.released_at is None
    assert seat.lease_expires_at is not None and seat.lease_expires_at > timezone.now()
    assert not Event.objects.filter(type=Event.Type.SEAT_EXPIRED).exists()


def test_a_killed_clients_seat_is_reclaimed_after_its_lease(
    portal: Portal, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=1, lease_seconds=LEASE)
    doomed = portal.app(entitlement.license_key, "doomed", "hold")
    assert doomed.stdout is not None
    seat_id = doomed.stdout.readline().strip()
    assert Seat.objects.get(pk=seat_id).released_at is None
    time.sleep(0.5)  # a heartbeat or so

    os.kill(doomed.pid, signal.SIGKILL)
    killed_at = time.time()
    doomed.wait(5)
    waiting = portal.client(entitlement.license_key, "waiting")
    first = waiting.activate()
    assert isinstance(first, Denied)
    assert first.code == "hard_limit_reached"
    assert first.retry_after is not None and 1 <= first.retry_after <= LEASE
    waiting.start()  # the keeper asks again after retry_after
    granted_at = wait_until(waiting.licensed, timeout=10)

    seat = Seat.objects.get(pk=seat_id)
    assert seat.release_reason == Seat.ReleaseReason.EXPIRED
    assert seat.released_at is not None
    print(
        f"\nkilled client: SIGKILL at +0.00 s; seat reclaimed, the waiting client licensed at"
        f" +{granted_at - killed_at:.2f} s (lease {LEASE} s, retry_after {first.retry_after} s)"
    )
