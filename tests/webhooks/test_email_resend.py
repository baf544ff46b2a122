"""An email the mail server refused after commit is not lost: its EmailNotice stays unsent with
the error, and the resend sweep sends the very messages decided on, backing off, up to a cap."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from licensing import services
from licensing.models import Event, Seat
from webhooks import emails, outbox
from webhooks.models import EmailNotice

OVERDRAFT = "Acme Corp: Design Studio is in overdraft (2 of 1 seats)"


@pytest.fixture
def overdraft_seqs(make_entitlement, customer_admin, account_manager):
    """An entitlement gone into overdraft (one email, to the admin and the AM), not fanned out."""
    entitlement = make_entitlement(seats=1, hard_limit=3)
    for n in range(2):
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")
    return list(Event.objects.values_list("seq", flat=True))


def _fan_out(seqs, capture_on_commit_callbacks):
    with capture_on_commit_callbacks(execute=True):
        outbox.fan_out(seqs)
    return EmailNotice.objects.get(kind="event")


def test_a_send_that_fails_after_commit_leaves_the_notice_unsent_with_the_error(
    overdraft_seqs, mail_server, django_capture_on_commit_callbacks
):
    mail_server.down = True
    before = timezone.now()
    notice = _fan_out(overdraft_seqs, django_capture_on_commit_callbacks)

    assert mail.outbox == []
    assert mail_server.offered  # it was tried, after the commit
    assert notice.sent_at is None
    assert notice.attempts == 1
    assert notice.last_error.startswith("SMTPServerDisconnected")
    assert notice.next_attempt_at is not None
    assert notice.next_attempt_at >= before + timedelta(minutes=1)


def test_the_resend_sweep_sends_a_failed_notice_once_as_decided_and_marks_it_sent(
    overdraft_seqs, customer_admin, account_manager, mail_server, django_capture_on_commit_callbacks
):
    mail_server.down = True
    notice = _fan_out(overdraft_seqs, django_capture_on_commit_callbacks)
    # What changes after the decision does not change the email: a retry re-decides nothing.
    Seat.objects.all().delete()
    mail_server.down = False

    later = timezone.now() + timedelta(minutes=2)
    assert emails.resend_due(now=later) == 1
    assert emails.resend_due(now=later + timedelta(days=1)) == 0

    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [customer_admin.email, account_manager.email]
    )
    assert {message.subject for message in mail.outbox} == {OVERDRAFT}
    assert "Entitled seats:  1" in mail.outbox[0].body
    notice.refresh_from_db()
    assert notice.sent_at == later
    assert notice.attempts == 2
    assert notice.next_attempt_at is None


def test_a_retry_sends_only_the_messages_still_owed(
    overdraft_seqs, customer_admin, account_manager, mail_server, django_capture_on_commit_callbacks
):
    mail_server.refused = {account_manager.email}
    notice = _fan_out(overdraft_seqs, django_capture_on_commit_callbacks)
    assert [message.to for message in mail.outbox] == [[customer_admin.email]]
    assert notice.sent_at is None
    assert notice.sent_to == [customer_admin.email]
    assert "SMTPRecipientsRefused" in notice.last_error

    mail_server.refused = set()
    assert emails.resend_due(now=timezone.now() + timedelta(minutes=2)) == 1
    assert [message.to for message in mail.outbox] == [
        [customer_admin.email],
        [account_manager.email],
    ]


def test_a_notice_that_keeps_failing_backs_off_then_is_given_up_after_about_a_day(
    overdraft_seqs, mail_server, django_capture_on_commit_callbacks, caplog
):
    mail_server.down = True
    notice = _fan_out(overdraft_seqs, django_capture_on_commit_callbacks)
    tried_at = notice.created_at
    while notice.next_attempt_at is not None:
        attempts = notice.attempts
        # Not before its time has come...
        assert emails.resend_due(now=notice.next_attempt_at - timedelta(seconds=1)) == 0
        notice.refresh_from_db()
        assert notice.attempts == attempts
        # ...and then once.
        tried_at = notice.next_attempt_at
        assert emails.resend_due(now=tried_at) == 0
        notice.refresh_from_db()
        assert notice.attempts == attempts + 1

    assert notice.attempts == emails.MAX_ATTEMPTS == 10
    assert timedelta(hours=18) < tried_at - notice.created_at < timedelta(hours=30)
    assert notice.sent_at is None
    offered = len(mail_server.offered)
    assert emails.resend_due(now=tried_at + timedelta(days=30)) == 0
    assert len(mail_server.offered) == offered  # given up: never tried again
    given_up = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(given_up) == 1
    assert "given up after 10 failed attempts" in given_up[0].getMessage()


def test_a_notice_just_committed_is_left_to_its_after_commit_send_for_a_minute(
    overdraft_seqs, customer_admin, account_manager, mail_server
):
    # Committed, but its after-commit send has not run (it may be running now, or its process
    # died): the sweep must not race it, and must send it once the minute is over.
    outbox.fan_out(overdraft_seqs)
    notice = EmailNotice.objects.get(kind="event")
    assert notice.sent_at is None and notice.attempts == 0

    assert emails.resend_due(now=notice.created_at + timedelta(seconds=59)) == 0
    assert mail_server.offered == []
    assert emails.resend_due(now=notice.created_at + timedelta(seconds=61)) == 1
    assert len(mail.outbox) == 2


def test_a_failed_digest_is_resent_and_the_next_digest_still_waits_an_hour(
    make_entitlement,
    customer_admin,
    account_manager,
    mail_server,
    django_capture_on_commit_callbacks,
):
    entitlement = make_entitlement(seats=1, hard_limit=1)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for n in range(3):  # one seat, two denials
            services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")
        mail_server.down = True
        with django_capture_on_commit_callbacks(execute=True):
            assert emails.send_denial_digests() == 1
        assert mail.outbox == []

        mail_server.down = False
        traveller.shift(timedelta(minutes=2))
        services.seat_activate(entitlement=entitlement, fingerprint="m-late")
        with django_capture_on_commit_callbacks(execute=True):
            assert emails.resend_due() == 1
            assert emails.send_denial_digests() == 0  # the failed digest counts for the hour
    assert {message.subject for message in mail.outbox} == {
        "Acme Corp: 2 activations of Design Studio denied"
    }
    assert len(mail.outbox) == 2
