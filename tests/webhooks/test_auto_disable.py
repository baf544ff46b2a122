"""An endpoint that fails continuously for an hour is paused, for a day disabled; its owner is
emailed each time (tests/webhooks/test_pause.py has the pause itself)."""

from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from webhooks import outbox, services
from webhooks.models import EmailNotice, WebhookDelivery


def _fail_for(endpoint, receiver, hours: float):
    receiver.behaviour = lambda n: (500, 0.0, {})
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        services.endpoint_send_test(endpoint=endpoint)
        outbox.deliver_due()
        elapsed = 0.0
        while elapsed < hours:
            traveller.shift(timedelta(hours=4))
            elapsed += 4
            services.endpoint_send_test(endpoint=endpoint)
            outbox.deliver_due()
    endpoint.refresh_from_db()


def test_endpoint_failing_for_a_day_is_disabled_and_creator_emailed(
    vendor_endpoint, receiver, account_manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _fail_for(vendor_endpoint, receiver, hours=25)
    assert vendor_endpoint.enabled is False
    assert vendor_endpoint.disabled_at is not None
    assert not WebhookDelivery.objects.filter(status="pending").exists()
    assert [m.to for m in mail.outbox] == [[account_manager.email]] * 2
    paused, disabled = mail.outbox
    assert "paused" in paused.subject and "disabled" in disabled.subject
    assert f"/team/webhooks/{vendor_endpoint.pk}/" in disabled.body
    assert EmailNotice.objects.filter(kind="endpoint_disabled").count() == 1
    assert EmailNotice.objects.filter(kind="endpoint_paused").count() == 1

    # A disabled endpoint gets nothing more.
    before = len(receiver.requests)
    services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    assert len(receiver.requests) == before


def test_a_success_resets_the_failure_clock(vendor_endpoint, receiver):
    receiver.behaviour = lambda n: (500, 0.0, {})
    services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    vendor_endpoint.refresh_from_db()
    assert vendor_endpoint.failing_since is not None
    assert vendor_endpoint.consecutive_failures == 1
    receiver.behaviour = lambda n: (200, 0.0, {})
    services.endpoint_send_test(endpoint=vendor_endpoint)
    outbox.deliver_due()
    vendor_endpoint.refresh_from_db()
    assert vendor_endpoint.failing_since is None
    assert vendor_endpoint.consecutive_failures == 0
    assert vendor_endpoint.enabled and vendor_endpoint.paused_at is None


def test_customer_endpoint_without_creator_tells_the_account_manager(
    customer_endpoint, receiver, account_manager, django_capture_on_commit_callbacks
):
    customer_endpoint.created_by = None
    customer_endpoint.save()
    with django_capture_on_commit_callbacks(execute=True):
        _fail_for(customer_endpoint, receiver, hours=25)
    assert customer_endpoint.enabled is False
    assert [m.to for m in mail.outbox] == [[account_manager.email]] * 2
    assert f"/c/{customer_endpoint.customer.slug}/webhooks/" in mail.outbox[1].body
