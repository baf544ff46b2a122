"""The event feed: oldest first after a cursor, filters, and the settle window."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from licensing import services
from licensing.models import Event

pytestmark = pytest.mark.django_db


def _poll(vendor, **params):
    response = vendor.get("/api/v1/events", params)
    assert response.status_code == 200, response.json()
    return response.json()


def test_polling_with_the_cursor_hands_out_each_event_once(vendor, entitlement, settings):
    settings.API_EVENTS_SETTLE_SECONDS = 0
    for i in range(5):
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{i}")
    seen, cursor = [], None
    while True:
        page = _poll(vendor, limit=2, **({"after": cursor} if cursor else {}))
        seen += [event["id"] for event in page["results"]]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    expected = [str(e.public_id) for e in Event.objects.order_by("seq")]
    assert seen == expected
    assert _poll(vendor, after=cursor) == {"results": [], "cursor": cursor, "has_more": False}


def test_filters_by_type_customer_entitlement_and_time(
    vendor, entitlement, make_entitlement, other_customer, settings
):
    settings.API_EVENTS_SETTLE_SECONDS = 0
    other = make_entitlement(customer=other_customer)
    services.seat_activate(entitlement=entitlement, fingerprint="a")
    services.seat_activate(entitlement=other, fingerprint="b")

    def types(**params):
        return [(e["type"], e["entitlement"]) for e in _poll(vendor, **params)["results"]]

    assert types(type="seat.activated") == [
        ("seat.activated", str(entitlement.pk)),
        ("seat.activated", str(other.pk)),
    ]
    assert types(customer=str(other_customer.pk)) == [
        ("entitlement.created", str(other.pk)),
        ("seat.activated", str(other.pk)),
    ]
    assert types(entitlement=str(entitlement.pk), type="seat.activated") == [
        ("seat.activated", str(entitlement.pk))
    ]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert types(occurred_after=later) == []
    assert types(customer=str(uuid.uuid4())) == []


def test_event_body(vendor, entitlement, settings):
    settings.API_EVENTS_SETTLE_SECONDS = 0
    services.seat_activate(entitlement=entitlement, fingerprint="m-1", label="Ada's laptop")
    event = _poll(vendor, type="seat.activated")["results"][0]
    assert event["customer"] == str(entitlement.customer_id)
    assert event["data"]["fingerprint"] == "m-1"
    assert event["data"]["seats"]["used"] == 1
    assert set(event) == {"id", "type", "occurred_at", "customer", "entitlement", "data"}


def test_unknown_cursor_is_400(vendor, db):
    response = vendor.get("/api/v1/events", {"after": str(uuid.uuid4())})
    assert response.status_code == 400
    assert response.json()["errors"] == {"after": ["No event has this id."]}


@pytest.mark.postgres
def test_events_younger_than_the_settle_window_wait(vendor, entitlement, settings):
    settings.API_EVENTS_SETTLE_SECONDS = 60
    Event.objects.update(occurred_at=timezone.now() - timedelta(minutes=5))
    services.seat_activate(entitlement=entitlement, fingerprint="fresh")
    page = _poll(vendor)
    assert [e["type"] for e in page["results"]] == ["entitlement.created"]
    assert page["has_more"] is False
