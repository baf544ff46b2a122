"""A full floating entitlement reclaims expired leases; a denial says when to retry."""

from datetime import timedelta

import pytest

from licensing.models import Event, Seat
from tests.conftest import client_for

LEASE = 300


@pytest.fixture
def full_pool(make_entitlement):
    """Two floating seats, no overdraft."""
    return make_entitlement(seats=2, hard_limit=2, lease_seconds=LEASE)


@pytest.fixture
def client(full_pool):
    return client_for(full_pool)


def _activate(client, fingerprint):
    return client.post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")


def _types(entitlement, after_seq):
    return list(
        Event.objects.filter(entitlement=entitlement, seq__gt=after_seq).values_list(
            "type", flat=True
        )
    )


def test_activation_on_a_full_pool_reclaims_an_expired_lease_instead_of_denying(
    client, full_pool, frozen
):
    stale = _activate(client, "gone-home").json()["id"]
    frozen.shift(100)
    alive = _activate(client, "still-here").json()["id"]
    frozen.shift(LEASE - 50)  # the first lease ran out 50 s ago, the second has 50 s left
    last_seq = Event.objects.latest("seq").seq

    response = _activate(client, "newcomer")

    assert response.status_code == 201
    assert response.json()["seats"]["used"] == 2
    # Expiry and activation are two seat changes, 2 -> 1 -> 2, so the limit is reached anew.
    assert _types(full_pool, last_seq) == [
        Event.Type.SEAT_EXPIRED,
        Event.Type.SEAT_ACTIVATED,
        Event.Type.HARD_LIMIT_REACHED,
    ]
    assert Seat.objects.get(pk=stale).release_reason == Seat.ReleaseReason.EXPIRED
    assert Seat.objects.get(pk=alive).released_at is None
    full_pool.refresh_from_db()
    assert full_pool.seats_used == 2
    assert not Event.objects.filter(type=Event.Type.SEAT_DENIED).exists()


def test_denial_on_a_floating_pool_says_when_the_earliest_lease_runs_out(client, full_pool, frozen):
    _activate(client, "first")  # lease ends at +300
    frozen.shift(100)
    _activate(client, "second")  # lease ends at +400
    frozen.shift(80)

    response = _activate(client, "third")

    assert response.status_code == 409
    assert response.json()["code"] == "hard_limit_reached"
    assert response.json()["retry_after"] == 120
    assert response.headers["Retry-After"] == "120"


def test_retry_after_follows_heartbeats(client, full_pool, frozen):
    first = _activate(client, "first").json()["id"]
    frozen.shift(100)
    _activate(client, "second")  # lease ends at +400
    frozen.shift(150)
    client.post(f"/api/v1/activations/{first}/heartbeat")  # lease now ends at +550

    response = _activate(client, "third")

    assert response.json()["retry_after"] == 150  # the second seat's lease is now first out


def test_retrying_when_told_gets_a_seat(client, full_pool, frozen):
    _activate(client, "first")
    frozen.shift(10)
    _activate(client, "second")
    denied = _activate(client, "third")

    frozen.shift(denied.json()["retry_after"])

    assert _activate(client, "third").status_code == 201


def test_a_reactivating_client_with_an_expired_lease_gets_a_fresh_seat(client, full_pool, frozen):
    old = _activate(client, "laptop").json()["id"]
    frozen.shift(LEASE + 1)

    response = _activate(client, "laptop")

    assert response.status_code == 201
    assert response.json()["id"] != old
    assert Seat.objects.get(pk=old).release_reason == Seat.ReleaseReason.EXPIRED
    full_pool.refresh_from_db()
    assert full_pool.seats_used == 1


def test_named_seats_are_never_reclaimed(make_entitlement, api_client, frozen):
    named = make_entitlement(seats=1, hard_limit=1)
    api_client.credentials(HTTP_AUTHORIZATION=f"License {named.license_key}")
    _activate(api_client, "desk")
    frozen.shift(timedelta(days=365))

    response = _activate(api_client, "intruder")

    assert response.status_code == 409
    assert response.json()["retry_after"] is None
    assert "Retry-After" not in response.headers
    assert not Event.objects.filter(type=Event.Type.SEAT_EXPIRED).exists()
