"""Overdraft and hard-limit emails reach the customer's admins (as they chose) and the AM."""

from datetime import UTC, datetime
from typing import cast

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from licensing import services
from licensing.models import Event, Membership, Seat
from portal.models import User
from webhooks import outbox
from webhooks.models import EmailNotice


@pytest.fixture
def quiet_admin(customer):
    user = User.objects.create_user("quiet@acme.test", "x", name="Quinn Quiet")
    Membership.objects.create(
        user=user, customer=customer, role=Membership.Role.ADMIN, notify_overdraft=False
    )
    return user


def _fill(entitlement, count, start=0):
    for n in range(start, start + count):
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")


def test_overdraft_and_hard_limit_emails_go_to_admins_and_account_manager(
    make_entitlement,
    customer_admin,
    viewer,
    quiet_admin,
    account_manager,
    outsider,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.SITE_URL = "https://portal.example.com"
    entitlement = make_entitlement(seats=3, hard_limit=5)
    with django_capture_on_commit_callbacks(execute=True):
        _fill(entitlement, 6)

    by_subject: dict[str, list[str]] = {}
    for message in mail.outbox:
        by_subject.setdefault(str(message.subject), []).extend(message.to)
    assert by_subject == {
        "Acme Corp: Design Studio is in overdraft (4 of 3 seats)": [
            customer_admin.email,
            account_manager.email,
        ],
        "Acme Corp: Design Studio reached its hard limit of 5 seats": [
            customer_admin.email,
            account_manager.email,
        ],
    }
    message = mail.outbox[0]
    chart = f"https://portal.example.com/c/acme-corp/entitlements/{entitlement.pk}/"
    assert chart in message.body
    assert "Entitled seats:  3" in message.body
    content, mimetype = cast(EmailMultiAlternatives, message).alternatives[0]
    html = str(content)
    assert mimetype == "text/html" and chart in html and "<td>4</td>" in html


def test_each_event_is_emailed_once_even_if_fanned_out_twice(
    make_entitlement, customer_admin, account_manager, django_capture_on_commit_callbacks
):
    entitlement = make_entitlement(seats=1, hard_limit=3)
    _fill(entitlement, 2)  # on_commit callbacks do not run here: nothing sent yet
    seqs = list(Event.objects.values_list("seq", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        outbox.fan_out(seqs)
    Event.objects.update(dispatched_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.fan_out(seqs)
    assert len(mail.outbox) == 2  # one overdraft_started, to the admin and the AM
    assert EmailNotice.objects.filter(kind="event").count() == 1


def test_no_account_manager_and_no_willing_admins_sends_nothing(
    make_entitlement, customer, quiet_admin, django_capture_on_commit_callbacks
):
    customer.account_manager = None
    customer.save()
    entitlement = make_entitlement(seats=1, hard_limit=2)
    _fill(entitlement, 2)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.fan_out(Event.objects.values_list("seq", flat=True))
    assert mail.outbox == []


def test_hard_limit_emails_go_at_most_once_a_day_per_entitlement(
    make_entitlement, customer_admin, account_manager, django_capture_on_commit_callbacks
):
    """Reaching the limit at 09:00, again at 11:00 (after a release) and again the next day at
    10:00: three hard_limit_reached events, two emails (09:00 and the next day's)."""
    entitlement = make_entitlement(
        seats=1, hard_limit=2, starts_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    subject = "Acme Corp: Design Studio reached its hard limit of 2 seats"
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _fill(entitlement, 2)
        for at, fingerprint in [
            (datetime(2026, 3, 2, 11, 0, tzinfo=UTC), "again-1"),
            (datetime(2026, 3, 3, 10, 0, tzinfo=UTC), "again-2"),
        ]:
            clock.move_to(at)
            seat = Seat.objects.filter(entitlement=entitlement, released_at=None).first()
            assert seat is not None
            with django_capture_on_commit_callbacks(execute=True):
                services.seat_release(entitlement=entitlement, seat_id=seat.pk)
                services.seat_activate(entitlement=entitlement, fingerprint=fingerprint)

    reached = Event.objects.filter(type=Event.Type.HARD_LIMIT_REACHED)
    assert [e.occurred_at.strftime("%d %H:%M") for e in reached.order_by("seq")] == [
        "02 09:00",
        "02 11:00",
        "03 10:00",
    ]
    emailed = EmailNotice.objects.filter(event__type=Event.Type.HARD_LIMIT_REACHED)
    moments = emailed.order_by("created_at").values_list("event__occurred_at", flat=True)
    assert [moment.strftime("%d %H:%M") for moment in moments] == [
        "02 09:00",
        "03 10:00",
    ]
    assert [m.to for m in mail.outbox if m.subject == subject] == [
        [customer_admin.email],
        [account_manager.email],
        [customer_admin.email],
        [account_manager.email],
    ]
