"""Issue 16: an endpoint failing for an hour is paused and probed; a failing endpoint's retries
trickle; claims never hand one delivery to two dispatchers; fan-out is a fixed number of
statements per batch."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing import services as licensing_services
from licensing.models import AuditEntry, Event
from webhooks import delivery, outbox, services
from webhooks.models import WebhookDelivery, WebhookEndpoint

FAIL: tuple[int, float, dict[str, str]] = (500, 0.0, {})
OK: tuple[int, float, dict[str, str]] = (200, 0.0, {})


def _refresh(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.refresh_from_db()
    return endpoint


def _pause(endpoint: WebhookEndpoint, receiver: Any, clock: Any) -> None:
    """Fail for an hour and a minute: two attempts, an hour apart."""
    receiver.behaviour = lambda n: FAIL
    services.endpoint_send_test(endpoint=endpoint)
    outbox.deliver_due()
    clock.shift(timedelta(hours=1, minutes=1))
    services.endpoint_send_test(endpoint=endpoint)
    outbox.deliver_due()


def test_an_endpoint_failing_for_an_hour_is_paused_probed_and_resumed_by_a_probe(
    vendor_endpoint, receiver, account_manager, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _pause(vendor_endpoint, receiver, clock)
        endpoint = _refresh(vendor_endpoint)
        assert endpoint.paused_at is not None and endpoint.enabled
        assert [m.to for m in mail.outbox] == [[account_manager.email]]
        assert "paused" in mail.outbox[0].subject
        assert "one delivery is tried every 5 minutes" in mail.outbox[0].body
        tries = len(receiver.requests)

        # Paused: new events wait; nothing goes until the probe is due.
        for _ in range(3):
            services.endpoint_send_test(endpoint=endpoint)
        outbox.deliver_due()
        assert len(receiver.requests) == tries
        clock.shift(timedelta(minutes=5, seconds=1))
        outbox.deliver_due()
        assert len(receiver.requests) == tries + 1  # one probe, failed
        assert _refresh(endpoint).paused_at is not None

        # The next probe succeeds: resumed, and everything waiting goes at once.
        receiver.behaviour = lambda n: OK
        clock.shift(timedelta(minutes=5, seconds=1))
        outbox.deliver_due()
        endpoint = _refresh(endpoint)
        assert endpoint.paused_at is None and endpoint.failing_since is None
        outbox.deliver_due()
        assert not WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").exists()


def test_a_paused_endpoint_resumed_by_hand_sends_what_waited(
    vendor_endpoint, receiver, account_manager
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _pause(vendor_endpoint, receiver, clock)
        waiting = WebhookDelivery.objects.filter(endpoint=vendor_endpoint, status="pending")
        assert waiting.count() == 2
        receiver.behaviour = lambda n: OK
        resumed = services.endpoint_resume(
            endpoint=vendor_endpoint, actor=licensing_services.Actor.of(account_manager)
        )
        assert resumed.paused_at is None and resumed.consecutive_failures == 0
        outbox.deliver_due()
    assert not waiting.exists()
    entry = AuditEntry.objects.get(
        target_id=str(vendor_endpoint.pk), changes={"paused": [True, False]}
    )
    assert entry.actor_label == account_manager.email


def test_a_failing_endpoints_retries_trickle_instead_of_a_burst(vendor_endpoint, receiver):
    receiver.behaviour = lambda n: FAIL
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=vendor_endpoint.pk).update(
        consecutive_failures=3, failing_since=now
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=vendor_endpoint, event_type="webhook.test", next_attempt_at=now)
        for _ in range(50)
    )
    outbox.deliver_due()
    # One attempt in flight and one a second: a drain that finds the rest held stops.
    assert len(receiver.requests) == 1


def test_a_healthy_endpoint_gets_several_attempts_in_flight(vendor_endpoint, receiver, settings):
    receiver.behaviour = lambda n: (200, 0.3, {})
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=vendor_endpoint, event_type="webhook.test", next_attempt_at=now)
        for _ in range(16)
    )
    outbox.deliver_due()
    assert len(receiver.requests) == 16
    # Each answer takes 0.3 s after its request arrives: one at a time, no two arrivals would
    # fall within 0.3 s of each other. The dispatcher sends them together.
    arrivals = sorted(received.arrived_at for received in receiver.requests)
    overlapping = max(sum(1 for b in arrivals if a <= b < a + 0.3) for a in arrivals)
    assert overlapping >= 8, arrivals


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_claim_the_same_delivery(vendor_endpoint, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL's row locks")
    now = timezone.now()
    other = WebhookEndpoint.objects.create(url=vendor_endpoint.url)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, event_type="webhook.test", next_attempt_at=now)
        for endpoint in (vendor_endpoint, other)
        for _ in range(60)
    )
    claimed: list[list[Any]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        try:
            barrier.wait()
            mine: list[Any] = []
            while batch := delivery.claim_due(timezone.now(), limit=7, per_endpoint=60):
                mine.extend(d.pk for d in batch)
            claimed.append(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    everything = [pk for mine in claimed for pk in mine]
    assert len(claimed) == 4
    assert len(everything) == len(set(everything)) == 120
    assert not WebhookDelivery.objects.filter(next_attempt_at__lte=timezone.now()).exists()


def test_fan_out_is_a_fixed_number_of_statements_per_batch(
    vendor_endpoint, make_endpoint, entitlement, receiver
):
    make_endpoint(receiver.url, event_types=["seat.activated"])

    def events(count: int) -> list[int]:
        before = Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        for n in range(count):
            licensing_services.seat_activate(entitlement=entitlement, fingerprint=f"f-{before}-{n}")
        seqs = list(Event.objects.filter(seq__gt=before).values_list("seq", flat=True))
        Event.objects.filter(seq__in=seqs).update(dispatched_at=None)
        return seqs

    few, many = events(2), events(40)
    with CaptureQueriesContext(connection) as small:
        outbox.fan_out(few)
    with CaptureQueriesContext(connection) as large:
        created = outbox.fan_out(many)
    assert created == 2 * len(many)  # the vendor-wide endpoint and the seat.activated one
    assert len(large) == len(small)


def test_the_endpoint_page_says_paused_and_resumes_it(
    vendor_endpoint, receiver, account_manager, client
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _pause(vendor_endpoint, receiver, clock)
        client.force_login(account_manager)
        page = client.get(f"/team/webhooks/{vendor_endpoint.pk}/").content.decode()
        assert "Paused since" in page and "Resume now" in page
        receiver.behaviour = lambda n: OK
        response = client.post(f"/team/webhooks/{vendor_endpoint.pk}/resume/")
        assert response.status_code == 302
        assert _refresh(vendor_endpoint).paused_at is None
        page = client.get(f"/team/webhooks/{vendor_endpoint.pk}/").content.decode()
        assert "Paused since" not in page and "Endpoint resumed" in page


def test_the_vendor_api_shows_the_pause_and_resumes(vendor_endpoint, receiver, account_manager):
    from licensing.services.tokens import api_token_create
    from tests.api.conftest import bearer

    api = bearer(api_token_create(user=account_manager, name="ops")[1])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _pause(vendor_endpoint, receiver, clock)
        body = api.get(f"/api/v1/webhook-endpoints/{vendor_endpoint.pk}").json()
        assert body["paused_at"] is not None and body["next_probe_at"] is not None
        response = api.post(f"/api/v1/webhook-endpoints/{vendor_endpoint.pk}/resume")
        assert response.status_code == 200, response.json()
        assert response.json()["paused_at"] is None
        assert response.json()["consecutive_failures"] == 0
