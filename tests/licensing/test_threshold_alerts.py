"""Threshold alerts end to end: seats change, the fan-out checks the thresholds, a crossing is an
event, a webhook (only the audience's) and an email to those subscribed."""

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from licensing import services
from licensing.models import AlertThreshold, AuditEntry, Event, Seat
from tests.webhooks.conftest import running_receiver
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = Event.Type


@pytest.fixture
def stack():
    with contextlib.ExitStack() as found:
        yield found


def _to(entitlement, used, prefix, run):
    """Activate or release seats until `used` are in use."""
    held = list(Seat.objects.filter(entitlement=entitlement, released_at=None).order_by("pk"))
    with run(execute=True):
        for n in range(len(held), used):
            services.seat_activate(entitlement=entitlement, fingerprint=f"{prefix}-{n}")
        for seat in held[used:]:
            services.seat_release(entitlement=entitlement, seat_id=seat.pk)


def test_a_threshold_alerts_once_while_use_hovers_and_again_the_next_day(
    stack,
    make_entitlement,
    customer_admin,
    viewer,
    account_manager,
    django_capture_on_commit_callbacks,
    settings,
):
    """80% of 100 seats, for the customer (a viewer subscribed) and for the account team (the
    account manager subscribed). Day 1: 79 → 81 → 79 → 81; day 2: down to 70, up to 81."""
    entitlement = make_entitlement(seats=100, hard_limit=120, starts_at=T0 - timedelta(days=1))
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    receiver = stack.enter_context(running_receiver())
    customer_endpoint = WebhookEndpoint.objects.create(
        customer=entitlement.customer, url=receiver.url + "/acme"
    )
    vendor_endpoint = WebhookEndpoint.objects.create(customer=None, url=receiver.url + "/vendor")
    for audience, user in [("customer", viewer), ("vendor", account_manager)]:
        services.threshold_add(
            entitlement=entitlement, audience=audience, kind="percent", percent=80
        )
        services.alert_subscribe(user=user, entitlement=entitlement, audience=audience, on=True)
    run = django_capture_on_commit_callbacks

    with time_machine.travel(T0, tick=False) as clock:
        _to(entitlement, 79, "a", run)
        _to(entitlement, 81, "b", run)  # crosses 80: both fire
        clock.move_to(T0 + timedelta(minutes=20))
        _to(entitlement, 79, "c", run)
        _to(entitlement, 81, "d", run)  # hovering: no alert
        clock.move_to(T0 + timedelta(days=1))
        _to(entitlement, 70, "e", run)  # re-arms (76 or less)
        _to(entitlement, 81, "f", run)  # crosses again, a day later: both fire

    crossed = Event.objects.filter(type=T.THRESHOLD_CROSSED).order_by("seq")
    assert [(e.occurred_at, e.data["threshold"]["audience"], e.data["used"]) for e in crossed] == [
        (T0, "customer", 80),
        (T0, "vendor", 80),
        (T0 + timedelta(days=1), "customer", 80),
        (T0 + timedelta(days=1), "vendor", 80),
    ]
    first = crossed.first()
    assert first is not None
    assert {k: v for k, v in first.data["threshold"].items() if k != "id"} == {
        "audience": "customer",
        "kind": "percent",
        "percent": 80,
        "level": 80,
        "name": "80% of the entitled seats",
    }
    assert first.data["seats"]["entitled"] == 100
    to_customer = WebhookDelivery.objects.filter(
        endpoint=customer_endpoint, event_type=T.THRESHOLD_CROSSED
    )
    to_vendor = WebhookDelivery.objects.filter(
        endpoint=vendor_endpoint, event_type=T.THRESHOLD_CROSSED
    )
    assert to_customer.count() == 2  # the account team's own alerts stay with the vendor
    assert to_vendor.count() == 4
    assert {d.status for d in [*to_customer, *to_vendor]} == {WebhookDelivery.Status.SUCCEEDED}
    subject = "Acme Corp: Design Studio crossed 80% of the entitled seats (80 seats in use)"
    assert sorted(m.to[0] for m in mail.outbox if m.subject == subject) == sorted(
        [viewer.email, viewer.email, account_manager.email, account_manager.email]
    )
    assert customer_admin.email not in {m.to[0] for m in mail.outbox if m.subject == subject}


def test_a_limit_threshold_fires_at_the_customers_cap(make_entitlement, customer_admin):
    entitlement = make_entitlement(seats=2, hard_limit=5)
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=3)
    services.threshold_add(entitlement=entitlement, audience="customer", kind="limit")

    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")
    services.thresholds_check(entitlement_id=entitlement.pk, readings=[1, 2, 3])

    (event,) = Event.objects.filter(type=T.THRESHOLD_CROSSED)
    assert (event.data["threshold"]["level"], event.data["used"]) == (3, 3)


def test_thresholds_are_audited_and_refused_when_they_make_no_sense(entitlement, customer_admin):
    actor = services.Actor.of(customer_admin)
    threshold = services.threshold_add(
        entitlement=entitlement, audience="customer", kind="percent", percent=90, actor=actor
    )
    with pytest.raises(ValidationError) as twice:
        services.threshold_add(
            entitlement=entitlement, audience="customer", kind="percent", percent=90
        )
    assert twice.value.message_dict == {
        "kind": ["There is a threshold at 90% of the entitled seats already."]
    }
    for kind, percent, errors in [
        ("percent", 0, {"percent": ["Choose a share from 1% to 200% of the seats."]}),
        ("percent", None, {"percent": ["Choose a share from 1% to 200% of the seats."]}),
        ("red", None, {"kind": ["“red” is not a threshold: choose percent, overdraft or limit."]}),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.threshold_add(
                entitlement=entitlement, audience="customer", kind=kind, percent=percent
            )
        assert refused.value.message_dict == errors
    assert AlertThreshold.objects.count() == 1
    assert services.threshold_remove(threshold=threshold, actor=actor) is True
    assert services.threshold_remove(threshold=threshold, actor=actor) is False
    audit = AuditEntry.objects.filter(target_id=str(entitlement.pk)).order_by("occurred_at")
    assert [(a.action, a.changes) for a in audit if a.action.startswith("alert_threshold")] == [
        (
            "alert_threshold.added",
            {"alert_threshold": [None, "customer: 90% of the entitled seats"]},
        ),
        (
            "alert_threshold.removed",
            {"alert_threshold": ["customer: 90% of the entitled seats", None]},
        ),
    ]
