"""Rate limits: per token, per license key, and failed authentications per IP -> 429."""

import pytest

from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def _assert_throttled(response):
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_token_over_its_rate_gets_429_with_retry_after(throttle_rates, vendor, customer):
    for _ in range(5):
        assert vendor.get("/api/v1/customers").status_code == 200
    _assert_throttled(vendor.get("/api/v1/customers"))


def test_tokens_are_throttled_separately(throttle_rates, vendor, read_only_token, customer):
    for _ in range(5):
        assert vendor.get("/api/v1/customers").status_code == 200
    _assert_throttled(vendor.get("/api/v1/customers"))  # this token is out of requests
    assert bearer(read_only_token).get("/api/v1/customers").status_code == 200  # that one not


def test_license_key_over_its_rate_gets_429(throttle_rates, license_client, make_entitlement):
    for i in range(5):
        response = license_client.post(
            "/api/v1/activations", {"fingerprint": f"m-{i}"}, format="json"
        )
        assert response.status_code == 201
    _assert_throttled(
        license_client.post("/api/v1/activations", {"fingerprint": "m-x"}, format="json")
    )
    other = make_entitlement()
    fresh = bearer("unused")
    fresh.credentials(HTTP_AUTHORIZATION=f"License {other.license_key}")
    assert fresh.get("/api/v1/entitlement").status_code == 200


def test_every_spelling_of_a_license_key_counts_against_one_limit(
    throttle_rates, api_client, entitlement
):
    key = entitlement.license_key
    spellings = [key, key.lower(), key.replace("-", ""), f" {key.lower().replace('-', '')} "]
    for i in range(5):
        api_client.credentials(HTTP_AUTHORIZATION=f"License {spellings[i % len(spellings)]}")
        assert api_client.get("/api/v1/entitlement").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"License {spellings[1]}")
    _assert_throttled(api_client.get("/api/v1/entitlement"))


def test_guessing_license_keys_is_throttled_per_ip(throttle_rates, api_client, entitlement):
    api_client.credentials(HTTP_AUTHORIZATION="License AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    for _ in range(3):
        assert api_client.get("/api/v1/entitlement").status_code == 401
    _assert_throttled(api_client.get("/api/v1/entitlement"))
    api_client.credentials(HTTP_AUTHORIZATION="License AAAAA-BBBBB-CCCCC-DDDDD-EEEEF")
    assert api_client.get("/api/v1/entitlement", REMOTE_ADDR="10.0.0.9").status_code == 401


def test_a_valid_key_from_a_locked_address_is_still_served(throttle_rates, api_client, entitlement):
    """An office or a proxy shares one address: its noisiest member must not lock out the
    others, whose keys are valid. Only failures are refused."""
    api_client.credentials(HTTP_AUTHORIZATION="License AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    for _ in range(3):
        api_client.get("/api/v1/entitlement")
    _assert_throttled(api_client.get("/api/v1/entitlement"))
    api_client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    assert api_client.get("/api/v1/entitlement").status_code == 200
    activation = api_client.post("/api/v1/activations", {"fingerprint": "m-1"}, format="json")
    assert activation.status_code == 201
    api_client.credentials(HTTP_AUTHORIZATION="License AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    _assert_throttled(api_client.get("/api/v1/entitlement"))


def test_a_valid_token_from_a_locked_address_is_still_served(throttle_rates, vendor, customer):
    guesser = bearer("odp_guess")
    for _ in range(4):
        guesser.get("/api/v1/customers")
    _assert_throttled(guesser.get("/api/v1/customers"))
    assert vendor.get("/api/v1/customers").status_code == 200


def test_guessing_tokens_is_throttled_per_ip(throttle_rates, customer):
    guesser = bearer("odp_guess")
    for _ in range(3):
        assert guesser.get("/api/v1/customers").status_code == 401
    _assert_throttled(guesser.get("/api/v1/customers"))


def test_successful_requests_do_not_count_as_failures(throttle_rates, license_client):
    for _ in range(5):
        assert license_client.get("/api/v1/entitlement").status_code == 200
    license_client.credentials(HTTP_AUTHORIZATION="License nope")
    assert license_client.get("/api/v1/entitlement").status_code == 401


def test_the_redis_incr_script_works_after_redis_forgot_it():
    """A throttle's count is one EVALSHA; a restarted Redis has no scripts (NOSCRIPT), and the
    first call then sends the script whole."""
    from django.core.cache import caches

    from licensing.api import throttling

    backend = caches["default"]
    if not hasattr(backend, "breaker"):
        pytest.skip("the default cache is not Redis (REDIS_URL unset)")
    client = backend._cache.get_client(write=True)  # type: ignore[attr-defined]
    setting = "API_THROTTLE_LICENSE"
    assert throttling.hit(setting, "K")[0] == 1  # a new window: incr misses, add creates it
    client.script_flush()
    assert throttling.hit(setting, "K")[0] == 2
    assert throttling.hit(setting, "K")[0] == 3
    key = backend.make_key(throttling._window_key(setting, "K")[0])
    assert 0 < client.ttl(key) <= 62
    assert not backend.breaker.is_open
