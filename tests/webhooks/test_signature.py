"""Deliveries are Standard Webhooks messages that the `standardwebhooks` library verifies."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import WebhookVerificationError

from licensing import services
from licensing.models import Event
from webhooks import outbox
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery


def test_activation_reaches_receiver_with_a_verifiable_signature(
    vendor_endpoint, receiver, entitlement, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.seat_activate(entitlement=entitlement, fingerprint="laptop-1", label="Ada")

    event = Event.objects.get(type=Event.Type.SEAT_ACTIVATED)
    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    payload = received.verify(vendor_endpoint.secret)
    assert received.message_id == str(event.public_id)
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "seat.activated"
    assert payload["data"]["fingerprint"] == "laptop-1"
    assert payload["data"]["event_id"] == str(event.public_id)
    assert payload["data"]["seats"]["used"] == 1
    assert received.headers["webhook-signature"].startswith("v1,")
    event.refresh_from_db()
    assert event.dispatched_at is not None
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_log.get().status_code == 200


def test_a_wrong_secret_does_not_verify(vendor_endpoint, receiver, entitlement, make_endpoint):
    other = make_endpoint("http://127.0.0.1:1/unused", enabled=False)
    events = [services.seat_activate(entitlement=entitlement, fingerprint="m")]
    assert events
    outbox.fan_out(Event.objects.values_list("seq", flat=True))
    outbox.deliver_due()
    received = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        received.verify(other.secret)


def test_both_secrets_sign_during_a_rotation_then_only_the_new_one(
    vendor_endpoint, receiver, entitlement
):
    old = vendor_endpoint.secret
    new = webhook_services.endpoint_rotate_secret(endpoint=vendor_endpoint)
    assert new != old and new.startswith("whsec_")

    webhook_services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    during = receiver.requests[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verify(old)["type"] == "webhook.test"
    assert during.verify(new)["type"] == "webhook.test"

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        webhook_services.endpoint_send_test(endpoint=vendor_endpoint)
        outbox.deliver_due()
        after = receiver.requests[-1]
        after.verify(new)
        with pytest.raises(WebhookVerificationError):
            after.verify(old)
