"""Webhook deliveries over the vendor API: list and filter, attempts, redeliver."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from licensing import services as licensing_services
from licensing.models import Event
from tests.api.conftest import bearer
from webhooks import delivery as webhook_delivery
from webhooks import outbox, services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

API = "/api/v1/webhook-deliveries"


@pytest.fixture
def endpoint(receiver):
    return services.endpoint_create(customer=None, url=receiver.url)


def _deliveries(entitlement, n):
    """`n` seat activations fanned out to every endpoint; their deliveries, oldest first."""
    Event.objects.update(dispatched_at=timezone.now())  # entitlement.created: not under test
    for _ in range(n):
        licensing_services.seat_activate(entitlement=entitlement, fingerprint=str(uuid.uuid4()))
    seqs = Event.objects.filter(dispatched_at__isnull=True).values_list("seq", flat=True)
    start = timezone.now() - timedelta(minutes=1)
    for i, seq in enumerate(seqs):
        outbox.fan_out([seq], now=start + timedelta(seconds=i))
    return list(WebhookDelivery.objects.order_by("created_at", "pk"))


def _ids(vendor, query=""):
    response = vendor.get(f"{API}{query}")
    assert response.status_code == 200, response.json()
    return [d["id"] for d in response.json()["results"]]


def test_list_is_newest_first_and_filters(vendor, endpoint, receiver, entitlement, customer):
    first, second = _deliveries(entitlement, 2)
    acme = services.endpoint_create(customer=customer, url=receiver.url + "/acme")
    ping = services.endpoint_send_test(endpoint=acme)
    webhook_delivery.attempt(first.pk)  # 200: succeeded

    assert _ids(vendor) == [str(ping.pk), str(second.pk), str(first.pk)]
    assert _ids(vendor, f"?endpoint={acme.pk}") == [str(ping.pk)]
    assert _ids(vendor, "?status=succeeded") == [str(first.pk)]
    assert _ids(vendor, "?status=pending&event_type=seat.activated") == [str(second.pk)]
    assert _ids(vendor, "?event_type=webhook.test") == [str(ping.pk)]
    assert _ids(vendor, f"?event={second.event.public_id}") == [str(second.pk)]
    assert _ids(vendor, "?limit=1&offset=1") == [str(second.pk)]

    body = vendor.get(API).json()["results"][1]
    assert body == {
        **body,
        "endpoint": str(endpoint.pk),
        "event": str(second.event.public_id),
        "event_type": "seat.activated",
        "message_id": str(second.event.public_id),
        "status": "pending",
        "attempt_count": 0,
    }
    assert "attempts" not in body


@pytest.mark.parametrize(
    "query", ["status=lost", "event_type=seat.stolen", "endpoint=42", "event=x", "limit=0"]
)
def test_bad_filters_are_400(vendor, db, query):
    response = vendor.get(f"{API}?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_detail_lists_the_attempts(vendor, endpoint, receiver, entitlement):
    receiver.behaviour = lambda n: (500, 0.0, {}) if n == 0 else (200, 0.0, {})
    (delivery,) = _deliveries(entitlement, 1)
    webhook_delivery.attempt(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhook_delivery.attempt(delivery.pk)

    response = vendor.get(f"{API}/{delivery.pk}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "succeeded" and body["attempt_count"] == 2
    ok, failed = body["attempts"]
    assert (ok["status_code"], ok["succeeded"]) == (200, True)
    assert ok["response_excerpt"] == '{"received": true}'
    assert (failed["status_code"], failed["succeeded"]) == (500, False)
    assert failed["response_excerpt"] == "receiver says no"
    assert set(failed) == {
        "started_at",
        "status_code",
        "succeeded",
        "error",
        "duration_ms",
        "response_excerpt",
    }


def test_redeliver_sends_a_failed_delivery_again(
    vendor, endpoint, receiver, entitlement, django_capture_on_commit_callbacks
):
    receiver.behaviour = lambda n: (410, 0.0, {}) if n == 0 else (200, 0.0, {})
    (delivery,) = _deliveries(entitlement, 1)
    webhook_delivery.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PERMANENT_FAILURE

    with django_capture_on_commit_callbacks(execute=True):
        response = vendor.post(f"{API}/{delivery.pk}/redeliver")
    assert response.status_code == 202, response.json()
    assert response.json()["id"] == str(delivery.pk)
    assert response.json()["status"] == "pending"
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [r.message_id for r in receiver.requests] == [str(delivery.message_id)] * 2
    assert len(vendor.get(f"{API}/{delivery.pk}").json()["attempts"]) == 2


def test_read_only_token_can_read_but_not_redeliver(vendor_ro, endpoint, entitlement):
    (delivery,) = _deliveries(entitlement, 1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None)
    response = vendor_ro.post(f"{API}/{delivery.pk}/redeliver")
    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert vendor_ro.get(f"{API}/{delivery.pk}").status_code == 200
    assert _ids(vendor_ro) == [str(delivery.pk)]


def test_tokens_outside_the_account_team_are_refused(customer_admin_token, endpoint):
    ping = services.endpoint_send_test(endpoint=endpoint)
    client = bearer(customer_admin_token)
    for response in [
        client.get(API),
        client.get(f"{API}/{ping.pk}"),
        client.post(f"{API}/{ping.pk}/redeliver"),
    ]:
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"


def test_unknown_delivery_is_404(vendor, db):
    missing = f"{API}/{uuid.uuid4()}"
    for response in [
        vendor.get(missing),
        vendor.post(f"{missing}/redeliver"),
        vendor.get(f"{API}/1"),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_list_query_count_does_not_grow(
    vendor, endpoint, receiver, entitlement, django_assert_num_queries
):
    services.endpoint_send_test(endpoint=endpoint)
    _deliveries(entitlement, 1)
    assert vendor.get(API).status_code == 200  # the token's last use is recorded once
    with django_assert_num_queries(3):  # token, count, page with the events joined
        assert len(vendor.get(API).json()["results"]) == 2
    for _ in range(3):
        services.endpoint_send_test(endpoint=endpoint)
    _deliveries(entitlement, 3)
    with django_assert_num_queries(3):
        assert len(vendor.get(API).json()["results"]) == 8


def test_detail_query_count_does_not_grow_with_attempts(
    vendor, endpoint, receiver, entitlement, django_assert_num_queries
):
    receiver.behaviour = lambda n: (500, 0.0, {})
    (delivery,) = _deliveries(entitlement, 1)
    assert vendor.get(f"{API}/{delivery.pk}").status_code == 200
    for _ in range(3):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhook_delivery.attempt(delivery.pk)
    with django_assert_num_queries(3):  # token, delivery with its event, attempts
        assert len(vendor.get(f"{API}/{delivery.pk}").json()["attempts"]) == 3
