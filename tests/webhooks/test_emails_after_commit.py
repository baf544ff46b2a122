"""Notification emails leave only once the transaction that decided to send them commits:
never while the event row is locked, never for a transaction that rolls back."""

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from licensing import services
from licensing.models import Event
from webhooks import emails, outbox
from webhooks.models import EmailNotice


class Abort(Exception):
    pass


@pytest.fixture
def overdraft_events(make_entitlement, customer_admin, account_manager):
    """An entitlement gone into overdraft; the fan-out of its events has not run."""
    entitlement = make_entitlement(seats=1, hard_limit=3)
    for n in range(2):
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")
    return list(Event.objects.values_list("seq", flat=True))


def test_a_zone_email_leaves_after_the_fan_out_commits_not_before(
    overdraft_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outbox.fan_out(overdraft_events)
        # Written and decided, but the event is still locked: nothing may have left yet.
        assert EmailNotice.objects.filter(kind="event").count() == 1
        assert mail.outbox == []
    assert len(mail.outbox) == 2  # the admin and the account manager


def test_a_fan_out_that_rolls_back_sends_nothing_and_the_next_one_sends_once(
    overdraft_events, django_capture_on_commit_callbacks
):
    with pytest.raises(Abort), transaction.atomic():
        outbox.fan_out(overdraft_events)
        raise Abort
    assert mail.outbox == []
    assert not EmailNotice.objects.exists()
    assert not Event.objects.filter(dispatched_at__isnull=False).exists()

    with django_capture_on_commit_callbacks(execute=True):
        outbox.fan_out(overdraft_events)
    assert len(mail.outbox) == 2


def test_a_denial_digest_leaves_after_its_transaction_commits(
    make_entitlement, customer_admin, account_manager, django_capture_on_commit_callbacks
):
    entitlement = make_entitlement(seats=1, hard_limit=1)
    for n in range(3):  # one seat, two denials
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")

    with pytest.raises(Abort), transaction.atomic():
        assert emails.send_denial_digests(now=timezone.now()) == 1
        raise Abort
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert emails.send_denial_digests() == 1
        assert mail.outbox == []
    assert {message.to[0] for message in mail.outbox} == {
        customer_admin.email,
        account_manager.email,
    }
