"""Overdraft and hard-limit emails reach the customer's admins (as they chose) and the AM."""

from typing import cast

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from licensing import services
from licensing.models import Event, Membership
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
