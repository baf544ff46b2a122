"""TRUSTED_PROXIES decides which X-Forwarded-For hop is the client; unset, the header is
ignored. The failed-auth lockout, login limits and audit log all count that client."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from portal.env import env_networks
from portal.proxy import client_address

pytestmark = pytest.mark.django_db

GUESS = "License AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"


@pytest.fixture
def behind_proxy(settings: Any) -> Any:
    settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/8"), ip_network("192.0.2.7/32")]
    settings.API_THROTTLE_AUTH_FAILURES = "3/min"
    return settings


def _guess(client: APIClient, peer: str, forwarded: str | None) -> int:
    extra: dict[str, Any] = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.get("/api/v1/entitlement", **extra).status_code


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.1.1.1", "198.51.100.4", "198.51.100.4"),  # one trusted proxy
        ("10.1.1.1", "198.51.100.4, 192.0.2.7", "198.51.100.4"),  # two trusted proxies
        ("10.1.1.1", "6.6.6.6, 198.51.100.4", "198.51.100.4"),  # the client's own claim: ignored
        ("203.0.113.9", "198.51.100.4", "203.0.113.9"),  # an untrusted peer: header ignored
        ("10.1.1.1", "", "10.1.1.1"),  # a trusted peer without the header is the client
        ("10.1.1.1", "not-an-address", "10.1.1.1"),
        ("10.1.1.1", "10.2.2.2, 10.3.3.3", "10.2.2.2"),  # every hop trusted: the farthest
    ],
)
def test_the_client_is_the_nearest_hop_that_is_not_a_trusted_proxy(
    behind_proxy: Any, peer: str, forwarded: str, client: str
) -> None:
    assert client_address(peer, forwarded) == client


def test_with_trusted_proxies_the_forwarded_client_is_the_one_counted(
    behind_proxy: Any, entitlement: Any
) -> None:
    api = APIClient(HTTP_AUTHORIZATION=GUESS)
    for _ in range(3):
        assert _guess(api, "10.1.1.1", "198.51.100.4") == 401
    assert _guess(api, "10.1.1.1", "198.51.100.4") == 429
    # Another client behind the same proxy is a different address: not locked.
    assert _guess(api, "10.1.1.1", "198.51.100.5") == 401


def test_without_trusted_proxies_the_header_is_ignored(settings: Any, entitlement: Any) -> None:
    settings.TRUSTED_PROXIES = []
    settings.API_THROTTLE_AUTH_FAILURES = "3/min"
    api = APIClient(HTTP_AUTHORIZATION=GUESS)
    for n in range(3):
        assert _guess(api, "203.0.113.9", f"198.51.100.{n}") == 401
    # A guesser cannot escape the lockout by writing a new X-Forwarded-For each time.
    assert _guess(api, "203.0.113.9", "198.51.100.99") == 429


def test_login_limits_count_the_forwarded_client(behind_proxy: Any, customer_admin: Any) -> None:
    from django.test import Client

    behind_proxy.ACCOUNT_RATE_LIMITS = {"login_failed": "2/m/ip"}
    browser = Client(REMOTE_ADDR="10.1.1.1")
    for n in range(3):
        response = browser.post(
            "/accounts/login/",
            {"login": f"nobody{n}@example.test", "password": "wrong"},
            HTTP_X_FORWARDED_FOR="198.51.100.4",
        )
    assert "Too many failed login attempts" in response.content.decode()
    other = Client(REMOTE_ADDR="10.1.1.1").post(
        "/accounts/login/",
        {"login": customer_admin.email, "password": "correct-horse-battery-staple"},
        HTTP_X_FORWARDED_FOR="198.51.100.5",
    )
    assert other.status_code == 302


def test_a_bad_trusted_proxies_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(ImproperlyConfigured, match=r"TRUSTED_PROXIES.*proxy\.internal"):
        env_networks("TRUSTED_PROXIES")
