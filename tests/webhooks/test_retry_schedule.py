"""Failed deliveries are retried on an exponential schedule; 4xx (but 408/429) stops them.

Time is controlled with time-machine; the receiver is a real HTTP server, so every attempt
goes through the real transport.
"""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from webhooks import delivery as delivery_module
from webhooks import outbox, services
from webhooks.models import WebhookDelivery


def _next(delivery: WebhookDelivery) -> datetime:
    assert delivery.next_attempt_at is not None
    return delivery.next_attempt_at


def _tick(traveller, seconds: float) -> None:
    traveller.shift(timedelta(seconds=seconds))
    outbox.deliver_due()


def test_failing_receiver_is_retried_on_schedule_then_recovers(
    vendor_endpoint, receiver, settings, capsys
):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    # 500, timeout, 503, then fine.
    script = [(500, 0.0), (200, 1.5), (503, 0.0)]
    receiver.behaviour = lambda n: (*script[n], {}) if n < len(script) else (200, 0.0, {})
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as traveller:
        delivery = services.endpoint_send_test(endpoint=vendor_endpoint)
        outbox.deliver_due()
        delivery.refresh_from_db()
        assert delivery.status == WebhookDelivery.Status.PENDING
        assert delivery.attempts == 1
        first_wait = (_next(delivery) - start).total_seconds()
        assert 60 * 0.85 <= first_wait <= 60 * 1.15

        _tick(traveller, 30)  # not due yet: nothing is sent
        assert len(receiver.requests) == 1
        _tick(traveller, first_wait - 30)
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.attempt_log.order_by("started_at")[1].error.startswith("Timed out")
        second_wait = (_next(delivery) - timezone.now()).total_seconds()
        assert 300 * 0.85 <= second_wait <= 300 * 1.15

        _tick(traveller, second_wait)
        delivery.refresh_from_db()
        assert delivery.attempts == 3
        third_wait = (_next(delivery) - timezone.now()).total_seconds()
        assert 1800 * 0.85 <= third_wait <= 1800 * 1.15

        _tick(traveller, third_wait)
        delivery.refresh_from_db()

    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    attempts = list(delivery.attempt_log.order_by("started_at"))
    assert [a.status_code for a in attempts] == [500, None, 503, 200]
    assert [a.succeeded for a in attempts] == [False, False, False, True]
    assert attempts[0].response_excerpt == "receiver says no"
    assert all(a.duration_ms >= 0 for a in attempts)
    vendor_endpoint.refresh_from_db()
    assert vendor_endpoint.failing_since is None and vendor_endpoint.consecutive_failures == 0
    with capsys.disabled():
        print(
            f"\n[fault d] receiver 500/timeout/503 then up: 1 message pushed,"
            f" {len(receiver.requests)} requests, {len(receiver.ids())} distinct arrived"
        )


def test_delivery_gives_up_after_about_a_day(vendor_endpoint, receiver):
    receiver.behaviour = lambda n: (500, 0.0, {})
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        delivery = services.endpoint_send_test(endpoint=vendor_endpoint)
        outbox.deliver_due()
        delivery.refresh_from_db()
        while delivery.status == WebhookDelivery.Status.PENDING:
            traveller.move_to(delivery.next_attempt_at)
            outbox.deliver_due()
            delivery.refresh_from_db()
        gave_up_after = timezone.now() - start
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == delivery_module.MAX_ATTEMPTS == 7
    assert delivery.attempt_log.count() == 7
    assert timedelta(hours=17) < gave_up_after < timedelta(hours=24)


def test_retry_waits_grow_over_about_a_day():
    total = sum(delay.total_seconds() for delay in delivery_module.RETRY_DELAYS)
    assert 18 * 3600 <= total <= 30 * 3600
    waits = [delivery_module.retry_delay(n).total_seconds() for n in range(1, 7)]
    assert waits == sorted(waits)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_client_error_is_permanent(vendor_endpoint, receiver, status):
    receiver.behaviour = lambda n: (status, 0.0, {})
    delivery = services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PERMANENT_FAILURE
    assert delivery.next_attempt_at is None
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        outbox.deliver_due()
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 302])
def test_timeouts_throttles_server_errors_and_redirects_are_retried(
    vendor_endpoint, receiver, status
):
    receiver.behaviour = lambda n: (status, 0.0, {"Location": "http://169.254.169.254/"})
    delivery = services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at is not None
    assert len(receiver.requests) == 1  # a redirect is never followed


def test_redeliver_one_and_all_failed(
    vendor_endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.behaviour = lambda n: (410, 0.0, {}) if n < 2 else (200, 0.0, {})
    first = services.endpoint_send_test(endpoint=vendor_endpoint)
    second = services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"permanent_failure"}

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_redeliver(delivery=first)
    first.refresh_from_db()
    assert first.status == WebhookDelivery.Status.SUCCEEDED
    assert first.attempt_log.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert services.endpoint_redeliver_failed(endpoint=vendor_endpoint) == 1
    second.refresh_from_db()
    assert second.status == WebhookDelivery.Status.SUCCEEDED
    assert len(receiver.requests) == 4
