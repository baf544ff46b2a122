"""Session fixation (the session key changes at login) and open redirects through `next`."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils.http import url_has_allowed_host_and_scheme

from licensing.models import Customer
from portal.models import User
from tests.conftest import PASSWORD

EVIL = [
    "https://evil.example/",
    "http://evil.example/login",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    " //evil.example",
    "/%09/evil.example",
    "http://testserver@evil.example/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def _on_site(location: str) -> bool:
    return url_has_allowed_host_and_scheme(location, allowed_hosts={"testserver"})


def test_session_key_changes_at_login(customer_admin: User) -> None:
    client = Client()
    client.get("/accounts/login/")
    session = client.session
    session["planted"] = "by an attacker who knows this key"
    session.save()
    planted_key = session.session_key
    assert planted_key is not None

    response = client.post(
        "/accounts/login/", {"login": customer_admin.email, "password": PASSWORD}
    )

    assert response.status_code == 302
    assert client.session.session_key != planted_key
    assert client.session["_auth_user_id"] == str(customer_admin.pk)
    # The old key is dead: whoever planted it is not logged in with it.
    attacker = Client()
    attacker.cookies["sessionid"] = planted_key
    assert attacker.get("/team/").status_code == 302  # to the login page


def test_session_key_changes_when_an_invitation_logs_someone_in(
    customer: Customer, customer_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    inviter = Client()
    inviter.force_login(customer_admin)
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after commit
        inviter.post(f"/c/{customer.slug}/members/", {"email": "new@acme.test"})
    body = str(mail.outbox[0].body)
    link = body[body.index("/invitations/") :].split()[0]
    client = Client()
    client.get(link)
    session = client.session
    session["planted"] = "x"
    session.save()
    planted_key = session.session_key
    assert planted_key is not None

    password = "a-long-and-unusual-passphrase-42"
    response = client.post(link, {"name": "New", "password1": password, "password2": password})

    assert response.status_code == 302
    assert client.session.session_key != planted_key


@pytest.mark.parametrize("target", EVIL)
def test_login_next_never_redirects_off_site(customer_admin: User, target: str) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"login": customer_admin.email, "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert _on_site(response["Location"]), response["Location"]

    # Already logged in, the login page sends people on too: also never off-site.
    again = client.get("/accounts/login/", {"next": target})
    assert again.status_code == 302
    assert _on_site(again["Location"]), again["Location"]


@pytest.mark.parametrize("target", EVIL)
def test_logout_next_never_redirects_off_site(customer_admin: User, target: str) -> None:
    client = Client()
    client.force_login(customer_admin)
    response = client.post("/accounts/logout/", {"next": target})
    assert response.status_code == 302
    assert _on_site(response["Location"]), response["Location"]


def test_an_on_site_next_is_followed(customer_admin: User, customer: Customer) -> None:
    """The control: `next` works for real pages, so the tests above see it refused."""
    response = Client().post(
        "/accounts/login/",
        {"login": customer_admin.email, "password": PASSWORD, "next": f"/c/{customer.slug}/"},
    )
    assert response["Location"] == f"/c/{customer.slug}/"
