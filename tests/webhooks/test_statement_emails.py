"""`statement.issued` emails the account manager and the customer's admins who want statements
(not those who turned them off, nor viewers), with the link to the statements page."""

from datetime import timedelta
from typing import cast

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from licensing import billing, services
from licensing.models import Event, Membership
from portal.models import User
from webhooks.models import EmailNotice

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_statements_admin(customer):
    user = User.objects.create_user("books-elsewhere@acme.test", "x", name="Nora Nostatements")
    Membership.objects.create(
        user=user, customer=customer, role=Membership.Role.ADMIN, notify_statements=False
    )
    return user


def test_an_issued_statement_is_emailed_to_the_account_manager_and_admins_who_want_it(
    make_entitlement,
    customer_admin,
    no_statements_admin,
    viewer,
    account_manager,
    outsider,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.SITE_URL = "https://portal.example.com"
    entitlement = make_entitlement(
        seats=3, hard_limit=5, starts_at=timezone.now() - timedelta(days=40)
    )
    period = billing.first_period(entitlement)

    with django_capture_on_commit_callbacks(execute=True):
        statement = services.statement_issue(entitlement=entitlement, period=period)

    event = Event.objects.get(type=Event.Type.STATEMENT_ISSUED)
    assert event.data["statement_id"] == str(statement.pk)
    # One message each, so no one sees the others' addresses.
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        [customer_admin.email, account_manager.email]
    )
    link = f"https://portal.example.com/c/acme-corp/entitlements/{entitlement.pk}/statements/"
    for message in mail.outbox:
        assert len(message.to) == 1
        assert message.subject == (
            f"Acme Corp: Design Studio statement for {period.label}"
            " (0 billable overdraft seat-hours)"
        )
        assert link in message.body
        html, mimetype = cast(EmailMultiAlternatives, message).alternatives[0]
        assert mimetype == "text/html" and f'href="{link}"' in str(html)
    assert EmailNotice.objects.get(event=event).sent_at is not None
