"""Accounts are by invitation: self-signup is closed unless ACCOUNT_ALLOW_SIGNUP turns it on."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import User

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "stranger@example.test",
    "password1": "a-long-and-unusual-passphrase-42",
    "password2": "a-long-and-unusual-passphrase-42",
}


def test_signup_is_closed_by_default(client: Client) -> None:
    page = client.get(reverse("account_signup"))
    posted = client.post(reverse("account_signup"), SIGNUP)

    for response in (page, posted):
        assert response.status_code == 200
        assert response.templates[0].name == "account/signup_closed.html"
        html = response.content.decode()
        assert "Sign-up is closed" in html
        assert "by invitation" in html
        assert 'name="password1"' not in html
    assert not User.objects.exists()
    assert "_auth_user_id" not in client.session


def test_signup_closed_page_uses_the_portal_layout(client: Client) -> None:
    html = client.get(reverse("account_signup")).content.decode()
    assert "/static/css/portal.css" in html and 'class="brand"' in html
    assert f'href="{reverse("account_login")}"' in html


def test_login_page_offers_no_signup_link(client: Client) -> None:
    html = client.get(reverse("account_login")).content.decode()
    assert reverse("account_signup") not in html
    assert "invitation" in html


def test_signup_is_open_when_the_setting_turns_it_on(client: Client, settings: Any) -> None:
    settings.ACCOUNT_ALLOW_SIGNUP = True

    page = client.get(reverse("account_signup"))
    assert 'name="password1"' in page.content.decode()
    response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 302
    assert User.objects.get().email == "stranger@example.test"
