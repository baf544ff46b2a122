"""Denials are emailed as a digest: at most one per entitlement per hour."""

from datetime import timedelta
from typing import cast

import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from licensing import services
from licensing.models import Membership
from webhooks import emails


def _send_digests(capture_on_commit_callbacks):
    """Send the digests; their emails leave as the digest's transaction commits."""
    with capture_on_commit_callbacks(execute=True):
        return emails.send_denial_digests()


def _deny(entitlement, count, prefix="late"):
    for n in range(count):
        services.seat_activate(entitlement=entitlement, fingerprint=f"{prefix}-{n}")


def test_digest_has_the_count_and_latest_fingerprints_and_comes_once_an_hour(
    make_entitlement, customer_admin, viewer, account_manager, django_capture_on_commit_callbacks
):
    entitlement = make_entitlement(seats=1, hard_limit=1)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        services.seat_activate(entitlement=entitlement, fingerprint="holder")
        _deny(entitlement, 12)
        assert _send_digests(django_capture_on_commit_callbacks) == 1
        assert {m.to[0] for m in mail.outbox} == {account_manager.email, customer_admin.email}
        message = mail.outbox[0]
        assert message.subject == "Acme Corp: 12 activations of Design Studio denied"
        assert "late-11" in message.body and "late-2" in message.body
        assert "late-1 " not in message.body  # only the 10 most recent fingerprints
        assert "late-11" in str(cast(EmailMultiAlternatives, message).alternatives[0][0])

        traveller.shift(timedelta(minutes=30))
        _deny(entitlement, 3, prefix="later")
        assert _send_digests(django_capture_on_commit_callbacks) == 0  # within the hour: nothing
        traveller.shift(timedelta(minutes=31))
        assert _send_digests(django_capture_on_commit_callbacks) == 1
        assert _send_digests(django_capture_on_commit_callbacks) == 0
    assert len(mail.outbox) == 4
    assert mail.outbox[-1].subject == "Acme Corp: 3 activations of Design Studio denied"


def test_digest_respects_notify_denials_and_skips_quiet_hours(
    make_entitlement, customer_admin, customer, django_capture_on_commit_callbacks
):
    customer.account_manager = None
    customer.save()
    Membership.objects.filter(user=customer_admin).update(notify_denials=False)
    entitlement = make_entitlement(seats=1, hard_limit=1)
    services.seat_activate(entitlement=entitlement, fingerprint="holder")
    assert _send_digests(django_capture_on_commit_callbacks) == 0  # no denials yet
    _deny(entitlement, 2)
    _send_digests(django_capture_on_commit_callbacks)
    assert mail.outbox == []
