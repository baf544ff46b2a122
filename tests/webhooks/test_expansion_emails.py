"""Requests for more seats: the account manager hears of a request, the customer of the answer."""

from typing import Any

import pytest
from django.core import mail

from licensing import services
from licensing.models import Entitlement, Membership
from portal.models import User
from webhooks.models import EmailNotice

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_admin(customer: Any) -> User:
    user = User.objects.create_user("boss@acme.test", "x", name="Bo Boss")
    Membership.objects.create(
        user=user, customer=customer, role=Membership.Role.ADMIN, notify_overdraft=False
    )
    return user


def _sent() -> list[tuple[str, list[str]]]:
    """(subject, recipients) of each email: one message per recipient, in order."""
    by_subject: dict[str, list[str]] = {}
    for message in mail.outbox:
        assert len(message.to) == 1
        by_subject.setdefault(str(message.subject), []).extend(message.to)
    return list(by_subject.items())


def test_a_request_emails_the_account_manager_only(
    entitlement: Entitlement,
    customer_admin: User,
    second_admin: User,
    viewer: User,
    account_manager: User,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.SITE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        services.expansion_request(
            entitlement=entitlement,
            seats=130,
            message="Month-end peaks.",
            actor=services.Actor.of(customer_admin),
        )

    assert _sent() == [
        ("Acme Corp asks for 130 seats of Design Studio (now 100)", ["am@vendor.test"])
    ]
    text = str(mail.outbox[0].body)
    assert "admin@acme.test of Acme Corp asks for more seats of Design Studio." in text
    assert "Entitled seats: 100 -> 130" in text
    assert "Hard limit:     120 -> 150" in text
    assert "Month-end peaks." in text
    assert f"https://portal.example.com/team/entitlements/{entitlement.pk}/edit" in text
    notice = EmailNotice.objects.get()
    assert (notice.kind, notice.recipients) == ("event", ["am@vendor.test"])


def test_grant_emails_the_requester_and_the_admins(
    entitlement: Entitlement,
    customer_admin: User,
    second_admin: User,
    viewer: User,
    account_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = services.expansion_request(
        entitlement=entitlement, seats=130, actor=services.Actor.of(second_admin)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.expansion_grant(
            request=request, note="Enjoy.", actor=services.Actor.of(account_manager)
        )

    assert _sent() == [
        (
            "Acme Corp: Design Studio now has 130 seats (request granted)",
            ["boss@acme.test", "admin@acme.test"],
        )
    ]
    text = str(mail.outbox[0].body)
    assert "Entitled seats: 100 -> 130" in text
    assert "Hard limit:     120 -> 150" in text
    assert "Enjoy." in text


def test_decline_emails_the_requester_and_the_admins(
    entitlement: Entitlement,
    customer_admin: User,
    second_admin: User,
    account_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = services.expansion_request(
        entitlement=entitlement, seats=130, actor=services.Actor.of(customer_admin)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.expansion_decline(
            request=request, note="Renewal is next month.", actor=services.Actor.of(account_manager)
        )

    assert _sent() == [
        (
            "Acme Corp: your request for 130 seats of Design Studio was declined",
            ["admin@acme.test", "boss@acme.test"],
        )
    ]
    text = str(mail.outbox[0].body)
    assert "the entitlement keeps its 100 seats." in text
    assert "Renewal is next month." in text


def test_a_requester_from_the_account_team_hears_the_answer_too(
    entitlement: Entitlement,
    customer_admin: User,
    account_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = services.expansion_request(
        entitlement=entitlement, seats=130, actor=services.Actor.of(account_manager)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.expansion_decline(request=request)

    assert _sent() == [
        (
            "Acme Corp: your request for 130 seats of Design Studio was declined",
            ["am@vendor.test", "admin@acme.test"],
        )
    ]


def test_without_an_account_manager_a_request_is_recorded_unsent(
    make_entitlement: Any,
    other_customer: Any,
    outsider: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    entitlement = make_entitlement(customer=other_customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.expansion_request(
            entitlement=entitlement, seats=130, actor=services.Actor.of(outsider)
        )

    assert mail.outbox == []
    notice = EmailNotice.objects.get()
    assert notice.recipients == []
    assert notice.sent_at is not None
