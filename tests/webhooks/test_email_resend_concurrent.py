"""Concurrent resend sweeps on PostgreSQL (real threads, one connection each) send a failed
email once: each claims the notice with FOR UPDATE SKIP LOCKED while its messages go."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from licensing import services
from webhooks import emails
from webhooks.models import EmailNotice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SWEEPS = 4


def test_concurrent_resend_sweeps_send_a_failed_notice_once(
    make_entitlement, customer_admin, account_manager, mail_server
):
    mail_server.down = True
    entitlement = make_entitlement(seats=1, hard_limit=3)
    for n in range(2):  # committed, fanned out (no broker: at once), then the send fails
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")
    assert EmailNotice.objects.get(kind="event").sent_at is None

    mail_server.down = False
    mail_server.delay = 0.3  # each message takes a while: the sweeps overlap
    now = timezone.now() + timedelta(minutes=2)
    barrier = threading.Barrier(SWEEPS)
    results: list[object] = []

    def sweep() -> None:
        try:
            connection.ensure_connection()  # connect before the start line, not after it
            barrier.wait(timeout=30)
            results.append(emails.resend_due(now=now))
        except Exception as exc:  # reported by the assertions below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(SWEEPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a sweep hung"

    assert sorted(results, key=str) == [0] * (SWEEPS - 1) + [1]
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [customer_admin.email, account_manager.email]
    )
    notice = EmailNotice.objects.get(kind="event")
    assert notice.sent_at == now
    assert notice.attempts == 2
