"""The Django admin has no login form of its own: staff log in through the portal's, so the
same brute-force limits (and two-factor authentication) guard the most powerful accounts."""

from __future__ import annotations

from typing import Any

from django.test import Client

from portal.models import User
from tests.conftest import PASSWORD

# ACCOUNT_RATE_LIMITS: 5 failures per address in 5 minutes.
TOO_MANY = "Too many failed login attempts. Try again in 5 minutes."


def _portal_login(client: Client, email: str, password: str) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_the_admin_sends_anonymous_visitors_to_the_portal_login(client: Client, db: Any) -> None:
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/accounts/login/?next=%2Fadmin%2F", 302)
    assert response.status_code == 200


def test_credentials_posted_to_the_admin_login_log_nobody_in(
    client: Client, account_manager: User
) -> None:
    for password in ["wrong-1", "wrong-2", PASSWORD]:
        response = client.post(
            "/admin/login/?next=/admin/", {"username": account_manager.email, "password": password}
        )
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_staff_reach_the_admin_after_the_portal_login(
    client: Client, account_manager: User
) -> None:
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": account_manager.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_staff_account_locks_after_five_failures_like_any_other(account_manager: User) -> None:
    """The admin's way in is the portal's login: five failures lock a staff account exactly as
    they lock a customer admin's (tests/security/test_brute_force.py)."""
    for _ in range(5):
        response = _portal_login(Client(), account_manager.email, "not-the-password")
        assert TOO_MANY not in response.content.decode()
    browser = Client()
    response = browser.post(
        "/accounts/login/?next=/admin/", {"login": account_manager.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert browser.get("/admin/").status_code == 302
