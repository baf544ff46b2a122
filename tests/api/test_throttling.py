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
    for _ in range(6):
        vendor.get("/api/v1/customers")
    assert bearer(read_only_token).get("/api/v1/customers").status_code == 200


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
    # Even the right key waits: the address is blocked, not the key.
    api_client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    _assert_throttled(api_client.get("/api/v1/entitlement"))
    other_ip = api_client.get("/api/v1/entitlement", REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 200


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


def test_the_redis_counting_script_works_after_redis_forgot_it():
    """The per-call count is one EVALSHA; a restarted Redis has no scripts (NOSCRIPT), and the
    first call then sends the script whole."""
    from django.core.cache import caches

    from licensing.api import throttling

    backend = caches["default"]
    client = throttling._redis(backend)
    if client is None:
        pytest.skip("the default cache is not Redis (REDIS_URL unset)")
    client.script_flush()
    setting = "API_THROTTLE_LICENSE"
    first = throttling.count_and_hit("API_THROTTLE_AUTH_FAILURES", "10.0.0.9", setting, "K")
    second = throttling.count_and_hit("API_THROTTLE_AUTH_FAILURES", "10.0.0.9", setting, "K")
    assert (first[0][0], first[1][0]) == (0, 1)
    assert (second[0][0], second[1][0]) == (0, 2)
    throttling.hit("API_THROTTLE_AUTH_FAILURES", "10.0.0.9")
    third = throttling.count_and_hit("API_THROTTLE_AUTH_FAILURES", "10.0.0.9", setting, "K")
    assert (third[0][0], third[1][0]) == (1, 3)
    key = backend.make_key(throttling._window_key(setting, "K")[0])
    assert 0 < client.ttl(key) <= 62
