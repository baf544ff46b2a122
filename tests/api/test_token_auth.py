"""Bearer tokens: who may use the vendor API, and what a token may do."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from licensing.models import ApiToken
from licensing.services.tokens import api_token_create, api_token_revoke, hash_token
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_valid_token_reads_the_api(vendor, customer):
    response = vendor.get("/api/v1/customers")
    assert response.status_code == 200
    assert [c["slug"] for c in response.json()["results"]] == ["acme-corp"]


def test_missing_token_is_401(api_client, customer):
    response = api_client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401_invalid_token(customer):
    response = bearer("odp_not-a-real-token").get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_token", "message": "This API token is not valid."}


def test_revoked_token_is_401(token, customer):
    api_token = ApiToken.objects.get(secret_hash=hash_token(token))
    assert api_token_revoke(api_token=api_token) is True
    response = bearer(token).get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert api_token_revoke(api_token=api_token) is False


def test_license_key_does_not_open_the_vendor_api(license_client):
    response = license_client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_customer_users_cannot_use_the_vendor_api(customer_admin_token, entitlement):
    response = bearer(customer_admin_token).get(f"/api/v1/entitlements/{entitlement.pk}")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_customer_users_cannot_get_a_token(customer_admin):
    with pytest.raises(Exception, match="account-team"):
        api_token_create(user=customer_admin, name="nope")


def test_token_stops_working_when_owner_leaves_the_team(token, account_manager, customer):
    account_manager.is_staff = False
    account_manager.save()
    assert bearer(token).get("/api/v1/customers").status_code == 401


def test_session_login_does_not_open_the_vendor_api(client, account_manager, customer):
    client.force_login(account_manager)
    assert client.get("/api/v1/customers").status_code == 401


def test_read_only_token_reads_but_cannot_write(vendor_ro, entitlement):
    assert vendor_ro.get(f"/api/v1/entitlements/{entitlement.pk}").status_code == 200
    response = vendor_ro.post(f"/api/v1/entitlements/{entitlement.pk}/suspend")
    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"
    entitlement.refresh_from_db()
    assert entitlement.status == "active"


def test_only_a_hash_of_the_token_is_stored(token):
    api_token = ApiToken.objects.get()
    assert api_token.secret_hash == hash_token(token)
    assert token not in {api_token.secret_hash, api_token.prefix}
    assert token.startswith(api_token.prefix)


def test_last_used_is_recorded_at_most_once_a_minute(vendor, customer):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        vendor.get("/api/v1/customers")
        first = ApiToken.objects.get().last_used_at
        assert first is not None
        clock.shift(timedelta(seconds=30))
        vendor.get("/api/v1/customers")
        assert ApiToken.objects.get().last_used_at == first
        clock.shift(timedelta(seconds=31))
        vendor.get("/api/v1/customers")
        latest = ApiToken.objects.get().last_used_at
        assert latest is not None and latest > first
