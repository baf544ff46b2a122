"""POST /api/v1/activations/{id}/heartbeat keeps a floating seat's lease alive."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from licensing.models import Event, Seat, UsageBucket
from tests.conftest import client_for

LEASE = 300


@pytest.fixture
def floating(make_entitlement):
    return make_entitlement(seats=2, hard_limit=3, lease_seconds=LEASE)


@pytest.fixture
def client(floating):
    return client_for(floating)


def _activate(client, fingerprint):
    response = client.post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_heartbeat_extends_a_floating_lease(client, floating, frozen):
    start = timezone.now()
    seat = _activate(client, "m-1")
    assert parse_datetime(seat["lease_expires_at"]) == start + timedelta(seconds=LEASE)

    frozen.shift(LEASE - 10)
    response = client.post(f"/api/v1/activations/{seat['id']}/heartbeat")

    assert response.status_code == 200
    body = response.json()
    new_end = start + timedelta(seconds=2 * LEASE - 10)
    assert body["id"] == seat["id"]
    assert parse_datetime(body["lease_expires_at"]) == new_end
    assert body["seats"]["used"] == 1
    stored = Seat.objects.get(pk=seat["id"])
    assert stored.lease_expires_at == new_end
    assert stored.last_heartbeat_at == start + timedelta(seconds=LEASE - 10)

    frozen.shift(LEASE - 10)  # past the first lease, inside the extended one
    assert client.post(f"/api/v1/activations/{seat['id']}/heartbeat").status_code == 200


def test_heartbeat_after_the_lease_ran_out_is_gone_and_frees_the_seat(client, floating, frozen):
    seat = _activate(client, "m-1")
    _activate(client, "m-2")

    frozen.shift(LEASE + 1)
    response = client.post(f"/api/v1/activations/{seat['id']}/heartbeat")

    assert response.status_code == 410
    body = response.json()
    assert body["code"] == "seat_not_held"
    assert body["reason"] == "expired"
    assert "expired" in body["message"]
    stored = Seat.objects.get(pk=seat["id"])
    assert stored.release_reason == Seat.ReleaseReason.EXPIRED
    assert stored.released_at == timezone.now()
    floating.refresh_from_db()
    assert floating.seats_used == 1  # only the heartbeating seat was expired, not m-2
    expired = Event.objects.get(type=Event.Type.SEAT_EXPIRED)
    assert expired.data["activation_id"] == seat["id"]
    assert expired.data["seats"]["used"] == 1
    assert sum(b.releases for b in UsageBucket.objects.filter(entitlement=floating)) == 1


def test_heartbeat_at_the_exact_end_of_the_lease_is_too_late(client, floating, frozen):
    seat = _activate(client, "m-1")

    frozen.shift(LEASE)

    assert client.post(f"/api/v1/activations/{seat['id']}/heartbeat").status_code == 410


def test_heartbeat_twice_after_expiry_expires_the_seat_once(client, floating, frozen):
    seat = _activate(client, "m-1")
    frozen.shift(LEASE + 1)

    first = client.post(f"/api/v1/activations/{seat['id']}/heartbeat")
    second = client.post(f"/api/v1/activations/{seat['id']}/heartbeat")

    assert first.status_code == second.status_code == 410
    assert Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count() == 1
    floating.refresh_from_db()
    assert floating.seats_used == 0


def test_heartbeat_on_a_released_seat_is_gone(client, floating):
    seat = _activate(client, "m-1")
    client.delete(f"/api/v1/activations/{seat['id']}")
    events_before = Event.objects.count()

    response = client.post(f"/api/v1/activations/{seat['id']}/heartbeat")

    assert response.status_code == 410
    assert response.json()["code"] == "seat_not_held"
    assert response.json()["reason"] == "released"
    assert Event.objects.count() == events_before
    floating.refresh_from_db()
    assert floating.seats_used == 0


def test_heartbeat_on_a_named_seat_is_ok_and_sets_no_lease(license_client, entitlement):
    seat = license_client.post("/api/v1/activations", {"fingerprint": "m-1"}, format="json").json()

    response = license_client.post(f"/api/v1/activations/{seat['id']}/heartbeat")

    assert response.status_code == 200
    assert response.json()["lease_expires_at"] is None
    assert Seat.objects.get(pk=seat["id"]).lease_expires_at is None
