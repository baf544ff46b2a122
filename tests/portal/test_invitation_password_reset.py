"""An invitee whose address already has an account, and who forgot its password, gets in
through the password reset and then accepts."""

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from licensing.models import Customer, Membership
from portal.models import User

NEW_PASSWORD = "a-long-and-unusual-passphrase-42"


def _link(pattern: str, message: mail.EmailMessage) -> str:
    match = re.search(rf"https?://[^/\s]+({pattern})", str(message.body))
    assert match, message.body
    return match.group(1)


@pytest.fixture
def invitation_link(
    client: Client,
    account_manager: User,
    customer: Customer,
    outsider: User,
    django_capture_on_commit_callbacks: Any,
) -> str:
    """The account team invites Globex's admin to Acme: the address has an account."""
    client.force_login(account_manager)
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after commit
        client.post(
            f"/team/customers/{customer.slug}/invitations",
            {"email": outsider.email, "role": "viewer"},
        )
    client.logout()
    (message,) = mail.outbox
    mail.outbox.clear()
    return _link(r"/invitations/[^/\s]+/", message)


def test_accept_page_of_an_existing_account_offers_a_password_reset(invitation_link: str) -> None:
    html = Client().get(invitation_link).content.decode()
    assert "Log in to accept" in html
    assert "Forgot your password?" in html
    assert f'href="{reverse("account_reset_password")}"' in html


def test_invitee_who_forgot_the_password_resets_it_logs_in_and_joins(
    invitation_link: str, customer: Customer, outsider: User
) -> None:
    client = Client()
    accept_page = client.get(invitation_link).content.decode()
    reset = re.search(r'<a href="([^"]+)">Reset it</a>', accept_page)
    assert reset, accept_page
    assert client.get(reset.group(1)).status_code == 200
    client.post(reset.group(1), {"email": outsider.email})
    (message,) = mail.outbox
    assert message.to == [outsider.email]
    reset_form = client.get(_link(r"/accounts/password/reset/key/\S+", message), follow=True)
    client.post(
        reset_form.redirect_chain[-1][0],
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    logged_in = client.post(
        reverse("account_login"),
        {"login": outsider.email, "password": NEW_PASSWORD, "next": invitation_link},
    )
    assert logged_in["Location"] == invitation_link

    page = client.get(invitation_link)
    assert f"Join {customer.name}" in page.content.decode()
    joined = client.post(invitation_link)

    assert joined["Location"] == f"/c/{customer.slug}/"
    assert Membership.objects.get(user=outsider, customer=customer).role == "viewer"
