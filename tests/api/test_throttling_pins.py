"""Rate limits in detail: fixed windows, counter lifetimes, the answers a limited client gets."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import RequestFactory
from rest_framework.request import Request

from licensing.api import throttling
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

# 1_800_000_000 is a whole number of minutes: half a second into the minute 30_000_000.
WINDOW_START = 1_800_000_000
KEY = "throttle:API_THROTTLE_LICENSE:K:30000000"


@pytest.fixture
def local_cache(settings: Any) -> None:
    """Counters in process memory, so that their expiry follows the test's clock."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "throttling-pins",
        }
    }
    caches["default"].clear()  # process memory outlives a test


def test_a_rate_of_one_serves_the_first_request_and_refuses_the_second(settings, license_client):
    settings.API_THROTTLE_LICENSE = "1/min"

    assert license_client.get("/api/v1/entitlement").status_code == 200
    assert license_client.get("/api/v1/entitlement").status_code == 429


def test_a_client_over_its_limit_stays_refused_until_the_window_ends(
    throttle_rates, vendor, customer, time_machine
):
    time_machine.move_to(WINDOW_START + 0.5, tick=False)
    for _ in range(5):
        assert vendor.get("/api/v1/customers").status_code == 200
    refused = vendor.get("/api/v1/customers")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"

    time_machine.move_to(WINDOW_START + 58.5, tick=False)  # 1.5 s left in the window
    refused = vendor.get("/api/v1/customers")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "2"

    time_machine.move_to(WINDOW_START + 60, tick=False)
    assert vendor.get("/api/v1/customers").status_code == 200


def test_a_windows_counter_is_dropped_two_seconds_after_the_window(local_cache, time_machine):
    time_machine.move_to(WINDOW_START + 0.5, tick=False)

    assert throttling.hit("API_THROTTLE_LICENSE", "K") == (1, 59.5)

    time_machine.move_to(WINDOW_START + 61.4, tick=False)
    assert caches["default"].get(KEY) == 1
    time_machine.move_to(WINDOW_START + 61.5, tick=False)
    assert caches["default"].get(KEY) is None


def test_a_counter_another_request_created_meanwhile_is_counted_on(
    local_cache, monkeypatch, time_machine
):
    """This request's incr finds no counter, but another request adds it before this one."""
    time_machine.move_to(WINDOW_START + 0.5, tick=False)
    backend = caches["default"]
    add = backend.add

    def added_by_another_request_first(key: str, value: Any, timeout: Any = None) -> bool:
        add(key, 1, timeout=timeout)
        return add(key, value, timeout=timeout)

    monkeypatch.setattr(backend, "add", added_by_another_request_first)

    assert throttling.hit("API_THROTTLE_LICENSE", "K") == (2, 59.5)
    assert backend.get(KEY) == 2


def test_failed_authentications_past_the_limit_get_429_saying_why(
    throttle_rates, customer, time_machine
):
    time_machine.move_to(WINDOW_START + 0.5, tick=False)
    guesser = bearer("odp_guess")
    for _ in range(3):
        assert guesser.get("/api/v1/customers").status_code == 401

    response = guesser.get("/api/v1/customers")

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json() == {
        "code": "throttled",
        "message": "Too many failed authentication attempts from this address."
        " Expected available in 60 seconds.",
    }


def test_a_key_no_entitlement_could_have_is_refused_as_invalid(api_client, entitlement):
    api_client.credentials(HTTP_AUTHORIZATION="License " + "A" * 65)

    response = api_client.get("/api/v1/entitlement")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_license_key"


@pytest.mark.parametrize("throttle", [throttling.TokenThrottle, throttling.LicenseKeyThrottle])
def test_a_request_without_the_throttles_credential_is_not_counted(throttle, local_cache):
    request = Request(RequestFactory().get("/api/v1/entitlement"))

    assert throttle().allow_request(request, view=None) is True


@pytest.mark.parametrize("setting", ["API_THROTTLE_LICENSE", "API_THROTTLE_AUTH_FAILURES"])
def test_a_malformed_rate_is_refused_naming_its_setting(settings, setting):
    setattr(settings, setting, "plenty")
    expected = f"{setting} must look like '600/min' (per s, min, hour or day), got 'plenty'"

    with pytest.raises(ImproperlyConfigured) as counting:
        throttling.hit(setting, "K")
    with pytest.raises(ImproperlyConfigured) as limiting:
        throttling.limit_of(setting)

    assert str(counting.value) == expected
    assert str(limiting.value) == expected


@pytest.mark.parametrize("meta", [{}, {"REMOTE_ADDR": ""}])
def test_a_request_without_an_address_counts_as_unknown(meta):
    request = HttpRequest()
    request.META = meta

    assert throttling.client_ip(request) == "unknown"


def test_the_client_address_is_remote_addr():
    request = HttpRequest()
    request.META = {"REMOTE_ADDR": "203.0.113.9"}

    assert throttling.client_ip(request) == "203.0.113.9"
