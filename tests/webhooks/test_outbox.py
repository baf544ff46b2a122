"""Fan-out: which endpoints get which events; a broker that is down loses nothing."""

from datetime import timedelta

from django.utils import timezone
from kombu.exceptions import OperationalError

from licensing import services
from licensing.models import Event
from webhooks import outbox, tasks
from webhooks.models import WebhookDelivery


def test_customer_endpoint_gets_only_its_customers_events_vendor_endpoint_gets_all(
    make_endpoint, receiver, customer, other_customer, product, django_capture_on_commit_callbacks
):
    vendor = make_endpoint(receiver.url)
    acme = make_endpoint(receiver.url + "/acme", customer=customer)
    only_denials = make_endpoint(receiver.url + "/denials", event_types=["seat.denied"])
    with django_capture_on_commit_callbacks(execute=True):
        mine = services.entitlement_create(
            customer=customer, product=product, seats=1, hard_limit=1
        )
        theirs = services.entitlement_create(
            customer=other_customer, product=product, seats=1, hard_limit=1
        )
        services.seat_activate(entitlement=mine, fingerprint="a")
        services.seat_activate(entitlement=theirs, fingerprint="b")
        services.seat_activate(entitlement=theirs, fingerprint="c")  # denied

    def types(endpoint):
        return sorted(
            WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_type", flat=True)
        )

    assert len(types(vendor)) == Event.objects.count()
    assert set(
        WebhookDelivery.objects.filter(endpoint=acme).values_list("event__customer", flat=True)
    ) == {customer.pk}
    assert types(only_denials) == ["seat.denied"]
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    assert not WebhookDelivery.objects.exclude(status="succeeded").exists()
    assert len(receiver.requests) == WebhookDelivery.objects.count()


def test_broker_down_leaves_events_for_the_sweep(
    vendor_endpoint, receiver, entitlement, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    Event.objects.update(dispatched_at=timezone.now())  # entitlement.created: not under test
    with monkeypatch.context() as patch:
        patch.setattr(tasks.fan_out, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            result = services.seat_activate(entitlement=entitlement, fingerprint="m-1")
    assert result.granted
    event = Event.objects.get(type="seat.activated")
    assert event.dispatched_at is None and receiver.requests == []

    assert outbox.sweep() == 0  # too recent: the kick may still be on its way
    assert outbox.sweep(now=timezone.now() + timedelta(seconds=31)) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert [r.message_id for r in receiver.requests] == [str(event.public_id)]


def test_fan_out_twice_creates_one_delivery(vendor_endpoint, receiver, entitlement):
    services.seat_activate(entitlement=entitlement, fingerprint="m-1")
    seqs = list(Event.objects.values_list("seq", flat=True))
    outbox.fan_out(seqs)
    Event.objects.update(dispatched_at=None)
    outbox.fan_out(seqs)
    assert WebhookDelivery.objects.count() == len(seqs)


def test_kicks_waiting_for_a_broker_that_does_not_take_them_stay_bounded(monkeypatch):
    """While the broker is away the kicks pile up in the web process; past the cap the oldest
    go (their events stay undispatched in the database for the sweep), the newest stay."""
    import os

    monkeypatch.setattr(outbox, "MAX_PENDING_KICKS", 250)
    kicks = outbox._Kicks()
    kicks._pid = os.getpid()  # as if this process's publishing thread were running (stuck)
    for start in range(0, 1000, 100):
        kicks.add(list(range(start, start + 100)))
    assert kicks._seqs == list(range(750, 1000))
