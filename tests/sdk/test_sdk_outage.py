"""The portal goes away mid-session: a client written with the library stays licensed until its
last lease's valid-until and no longer, and reconnects on its own when the portal is back.

Real time, a real gunicorn stopped and started again on the same port, a 2-second floating
lease with 2 seconds of offline grace, and no leeway for clock skew (the client and the portal
share this machine's clock), so "no longer" is exact. Run with -s for the timeline (printed,
not asserted: only which state holds before and after valid-until is).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from overdraft_client import Client, Granted, State

from licensing.models import Entitlement, Seat
from tests.sdk.conftest import Portal, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LEASE = 2
GRACE = 2


class Recorder:
    """Samples a client's state every 10 ms in a thread of its own: (clock before, state,
    clock after); the client reads its clock once, in between."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.samples: list[tuple[float, State, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.samples.append((time.time(), self.client.state, time.time()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def first(self, state: State, after: float = 0.0) -> float | None:
        """When `state` was first seen after `after`."""
        return next((t for t, seen, _ in list(self.samples) if seen is state and t > after), None)

    def states(self, start: float, end: float) -> set[State]:
        """The states of the samples taken wholly between `start` and `end`."""
        return {seen for t, seen, read_by in self.samples if t > start and read_by < end}


def test_an_outage_keeps_the_client_licensed_until_valid_until_and_it_reconnects(
    portal: Portal, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(
        seats=1, hard_limit=1, lease_seconds=LEASE, offline_grace_seconds=GRACE
    )
    client = portal.client(entitlement.license_key, "field-laptop", leeway=0)
    started_at = time.time()
    assert client.start() is State.OK
    recorder = Recorder(client)
    first_seat = client.seat_id
    assert first_seat is not None
    time.sleep(1)  # a few heartbeats

    stopping_at = time.time()
    portal.web.stop()
    stopped_at = time.time()
    wait_until(lambda: client.state is not State.OK, timeout=5)
    assert client.state is State.OFFLINE_WITHIN_GRACE
    assert "cannot be reached" in client.message
    lease = client.lease
    assert lease is not None and lease.lease_expires_at is not None
    assert lease.valid_until == lease.lease_expires_at + GRACE
    valid_until = lease.valid_until
    wait_until(lambda: time.time() > valid_until + 0.5, timeout=10)
    assert client.lease == lease  # no new lease came during the outage
    assert not client.licensed()
    assert "offline grace ended" in client.message

    portal.web.start()  # the same port
    restarted_at = time.time()
    wait_until(lambda: recorder.first(State.OK, after=restarted_at) is not None, timeout=10)
    recorder.stop()

    # Licensed (ok, then offline within grace) until valid-until, and no longer.
    assert recorder.states(started_at, stopping_at) == {State.OK}
    during = recorder.states(stopping_at, valid_until)
    assert State.OFFLINE_WITHIN_GRACE in during
    assert during <= {State.OK, State.OFFLINE_WITHIN_GRACE}
    assert recorder.states(valid_until, restarted_at) == {State.OFFLINE_PAST_GRACE}
    assert client.licensed()
    # The old seat's lease ran out during the outage: the portal reclaimed it on the client's
    # first heartbeat (410), and the client took a new one.
    new_seat = client.seat_id
    assert new_seat is not None and new_seat != first_seat
    assert Seat.objects.get(pk=first_seat).release_reason == Seat.ReleaseReason.EXPIRED
    assert Seat.objects.get(pk=new_seat).released_at is None

    noticed_at = recorder.first(State.OFFLINE_WITHIN_GRACE)
    unlicensed_at = recorder.first(State.OFFLINE_PAST_GRACE)
    back_at = recorder.first(State.OK, after=restarted_at)
    assert noticed_at and unlicensed_at and back_at

    def at(moment: float) -> str:
        return f"+{moment - started_at:5.2f} s"

    print(
        "\noutage timeline (seconds since the client started; floating lease"
        f" {LEASE} s, offline grace {GRACE} s, no clock-skew leeway; states sampled every"
        " 10 ms):\n"
        f"  {at(started_at)}  client started: ok\n"
        f"  {at(stopping_at)}  server stopping (gunicorn sent SIGTERM; gone at {at(stopped_at)})\n"
        f"  {at(noticed_at)}  client offline_within_grace (its next heartbeat failed)\n"
        f"  {at(valid_until)}  valid-until of its last lease (lease end + grace)\n"
        f"  {at(unlicensed_at)}  client offline_past_grace: unlicensed\n"
        f"  {at(restarted_at)}  server restarted on the same port\n"
        f"  {at(back_at)}  client reconnected on its own: ok, on a new seat (the old"
        " one was reclaimed when its lease ran out)\n"
        f"  licensed for {unlicensed_at - stopping_at:.2f} s after the server began to stop;"
        f" reconnected {back_at - restarted_at:.2f} s after it returned",
        flush=True,
    )


def test_a_program_started_during_an_outage_is_licensed_by_the_lease_it_kept(
    portal: Portal, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=5, hard_limit=5)  # named seats: 72 hours of grace
    key = entitlement.license_key
    yesterday = portal.client(key, "laptop", release_at_exit=False)  # its seat outlives it
    granted = yesterday.activate()
    assert isinstance(granted, Granted)
    yesterday.close(release=False)
    portal.web.stop()

    today = portal.client(key, "laptop", release_at_exit=False)  # the same cache_dir
    assert today.start() is State.OFFLINE_WITHIN_GRACE
    assert today.licensed()
    assert today.lease == granted.lease
    assert today.seat_id == granted.seat_id

    portal.web.start()
    wait_until(lambda: today.state is State.OK, timeout=10)  # the keeper reconnects
    assert today.seat_id == granted.seat_id  # the same seat, renewed
