"""Guessing is slow: passwords (allauth rate limits) and license keys (API throttle per IP)."""

from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from licensing.models import Entitlement
from portal.models import User
from tests.conftest import PASSWORD

# ACCOUNT_RATE_LIMITS: 5 failures per address in 5 minutes.
TOO_MANY = "Too many failed login attempts. Try again in 5 minutes."


def _login(client: Client, email: str, password: str) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_sixth_wrong_password_in_five_minutes_locks_the_account_even_with_the_right_one(
    customer_admin: User,
) -> None:
    for _ in range(5):
        response = _login(Client(), customer_admin.email, "not-the-password")
        assert response.status_code == 200
        assert TOO_MANY not in response.content.decode()

    # A new browser each time (no cookies in common): the limit is on the account.
    response = _login(Client(), customer_admin.email, PASSWORD)

    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_lockout_message_gives_the_window_of_the_setting(
    customer_admin: User, settings: Any
) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,3/2h/key"}
    for _ in range(3):
        _login(Client(), customer_admin.email, "not-the-password")

    response = _login(Client(), customer_admin.email, PASSWORD)

    assert "Too many failed login attempts. Try again in 2 hours." in response.content.decode()


def test_the_lock_is_per_account(customer_admin: User, viewer: User) -> None:
    for _ in range(5):
        _login(Client(), customer_admin.email, "not-the-password")
    response = _login(Client(), viewer.email, PASSWORD)
    assert response.status_code == 302


def test_a_few_typos_do_not_lock_anyone_out(customer_admin: User) -> None:
    for _ in range(4):
        _login(Client(), customer_admin.email, "not-the-password")
    response = _login(Client(), customer_admin.email, PASSWORD)
    assert response.status_code == 302


def test_many_wrong_license_keys_from_one_ip_end_in_429(
    api_client: APIClient, entitlement: Entitlement, settings: Any
) -> None:
    limit = int(settings.API_THROTTLE_AUTH_FAILURES.split("/")[0])  # the production default
    statuses = [
        api_client.post(
            "/api/v1/activations",
            {"fingerprint": "pc-1"},
            format="json",
            HTTP_AUTHORIZATION=f"License GUESS-{n:05d}-AAAAA-BBBBB-CCCCC",
            REMOTE_ADDR="198.51.100.9",
        ).status_code
        for n in range(limit + 5)
    ]
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}

    # The right key from that address is served: only failures are refused (issue 13), and a
    # key is 25 random characters, so being served teaches a guesser nothing it could use.
    right = api_client.post(
        "/api/v1/activations",
        {"fingerprint": "pc-1"},
        format="json",
        HTTP_AUTHORIZATION=f"License {entitlement.license_key}",
        REMOTE_ADDR="198.51.100.9",
    )
    assert right.status_code == 201
    assert right.json()["status"] == "ok"
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 1

    elsewhere = api_client.get(
        "/api/v1/entitlement",
        HTTP_AUTHORIZATION=f"License {entitlement.license_key}",
        REMOTE_ADDR="198.51.100.10",
    )
    assert elsewhere.status_code == 200
