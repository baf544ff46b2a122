"""Seats of an entitlement: list (in use by default), revoke by POST or DELETE."""

import uuid

import pytest

from licensing import services
from licensing.models import Event, Seat

pytestmark = pytest.mark.django_db


@pytest.fixture
def seats(entitlement):
    return [
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{i}").seat for i in range(3)
    ]


def test_seats_in_use_are_listed_by_default(vendor, entitlement, seats):
    services.seat_release(entitlement=seats[0].entitlement, seat_id=seats[0].pk)
    body = vendor.get(f"/api/v1/entitlements/{entitlement.pk}/seats").json()
    assert body["count"] == 2
    assert {s["fingerprint"] for s in body["results"]} == {"m-1", "m-2"}
    released = vendor.get(f"/api/v1/entitlements/{entitlement.pk}/seats?in_use=false").json()
    assert [s["release_reason"] for s in released["results"]] == ["released"]


def test_revoke_with_post(vendor, entitlement, seats):
    url = f"/api/v1/entitlements/{entitlement.pk}/seats/{seats[0].pk}/revoke"
    response = vendor.post(url)
    assert response.status_code == 200
    assert response.json()["release_reason"] == "revoked"
    assert response.json()["in_use"] is False
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 2
    assert Event.objects.filter(type="seat.released", data__reason="revoked").count() == 1
    assert vendor.post(url).status_code == 200  # idempotent
    assert Event.objects.filter(type="seat.released", data__reason="revoked").count() == 1


def test_revoke_with_delete_then_client_heartbeat_is_410(
    vendor, entitlement, seats, license_client
):
    response = vendor.delete(f"/api/v1/entitlements/{entitlement.pk}/seats/{seats[1].pk}")
    assert response.status_code == 204
    heartbeat = license_client.post(f"/api/v1/activations/{seats[1].pk}/heartbeat")
    assert heartbeat.status_code == 410
    assert heartbeat.json()["reason"] == "revoked"


def test_seat_of_another_entitlement_is_404(vendor, entitlement, seats, make_entitlement):
    other = make_entitlement()
    for method, suffix in [("get", ""), ("delete", ""), ("post", "/revoke")]:
        url = f"/api/v1/entitlements/{other.pk}/seats/{seats[0].pk}{suffix}"
        assert getattr(vendor, method)(url).status_code == 404
    assert Seat.objects.get(pk=seats[0].pk).in_use
    assert (
        vendor.get(f"/api/v1/entitlements/{entitlement.pk}/seats/{uuid.uuid4()}").status_code == 404
    )


def test_read_only_token_cannot_revoke(vendor_ro, entitlement, seats):
    base = f"/api/v1/entitlements/{entitlement.pk}/seats/{seats[0].pk}"
    assert vendor_ro.get(base).status_code == 200
    assert vendor_ro.post(f"{base}/revoke").status_code == 403
    assert vendor_ro.delete(base).status_code == 403
    assert Seat.objects.get(pk=seats[0].pk).in_use


def test_seat_list_query_count_does_not_grow(
    vendor, entitlement, seats, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):  # one of them: are any leases due to expire?
        assert vendor.get(f"/api/v1/entitlements/{entitlement.pk}/seats").status_code == 200
