"""Account pages (django-allauth) in the portal's layout, and login end to end."""

import re
from collections.abc import Callable

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from licensing.models import Customer
from portal.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def assert_portal_layout(html: str) -> None:
    assert "/static/css/portal.css" in html
    assert 'class="brand"' in html


def test_login_form_logs_a_customer_admin_in_to_their_dashboard(
    client: Client, customer_admin: User, customer: Customer
) -> None:
    page = client.get(reverse("account_login"))
    assert_portal_layout(page.content.decode())

    response = client.post(
        reverse("account_login"), {"login": "admin@acme.test", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("customer:dashboard", args=[customer.slug])
    assert response.context["user"] == customer_admin


def test_wrong_password_shows_an_error_on_the_form(client: Client, customer_admin: User) -> None:
    response = client.post(
        reverse("account_login"), {"login": "admin@acme.test", "password": "nope"}
    )

    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert "_auth_user_id" not in client.session


def test_logout_page_and_logout(login: Callable[[User], Client], customer_admin: User) -> None:
    client = login(customer_admin)

    page = client.get(reverse("account_logout"))
    assert page.status_code == 200
    assert_portal_layout(page.content.decode())
    client.post(reverse("account_logout"))

    assert "_auth_user_id" not in client.session


def test_password_reset_end_to_end(client: Client, customer_admin: User) -> None:
    page = client.get(reverse("account_reset_password"))
    assert_portal_layout(page.content.decode())

    done = client.post(reverse("account_reset_password"), {"email": "admin@acme.test"}, follow=True)
    assert_portal_layout(done.content.decode())
    assert len(mail.outbox) == 1
    link = re.search(
        r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", str(mail.outbox[0].body)
    )
    assert link is not None

    form = client.get(link.group(1), follow=True)
    assert_portal_layout(form.content.decode())
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link.group(1),
        {"password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9"},
        follow=True,
    )

    assert_portal_layout(response.content.decode())
    customer_admin.refresh_from_db()
    assert customer_admin.check_password("a-new-long-passphrase-9")


def test_email_verification_pages_use_the_portal_layout(
    login: Callable[[User], Client], customer_admin: User
) -> None:
    address = EmailAddress.objects.create(
        user=customer_admin, email=customer_admin.email, primary=True, verified=False
    )
    client = login(customer_admin)

    emails = client.get(reverse("account_email"))
    client.post(reverse("account_email"), {"action_send": "", "email": address.email})
    sent = [m for m in mail.outbox if "confirm" in m.subject.lower()]

    assert_portal_layout(emails.content.decode())
    assert sent
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", str(sent[-1].body))
    assert link is not None
    confirm = client.get(link.group(1))
    assert_portal_layout(confirm.content.decode())
    client.post(link.group(1))
    address.refresh_from_db()
    assert address.verified


@pytest.mark.parametrize("name", ["mfa_index", "mfa_activate_totp", "account_change_password"])
def test_security_pages_use_the_portal_layout(
    client: Client, customer_admin: User, name: str
) -> None:
    EmailAddress.objects.create(
        user=customer_admin, email=customer_admin.email, primary=True, verified=True
    )
    client.post(reverse("account_login"), {"login": customer_admin.email, "password": PASSWORD})

    response = client.get(reverse(name))
    if response.status_code == 302 and "reauthenticate" in response["Location"]:
        # Activating TOTP asks for the password again first.
        page = client.get(response["Location"])
        assert_portal_layout(page.content.decode())
        client.post(response["Location"], {"password": PASSWORD})
        response = client.get(reverse(name))

    assert response.status_code == 200
    html = response.content.decode()
    assert_portal_layout(html)
    assert "Two-factor authentication" in html  # the account menu
    if name == "mfa_activate_totp":
        assert 'src="data:image/svg+xml' in html  # the QR code, allowed by img-src data:
