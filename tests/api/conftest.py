"""Vendor API fixtures: tokens of the account manager and API clients that carry them."""

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from licensing.models import ApiToken
from licensing.services.tokens import api_token_create, hash_token
from portal.models import User
from tests.webhooks.conftest import Receiver, running_receiver


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 (so private URLs are allowed)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    with running_receiver() as found:
        yield found


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def token(account_manager: User) -> str:
    """A read-write token of the account manager."""
    return api_token_create(user=account_manager, name="CRM sync")[1]


@pytest.fixture
def read_only_token(account_manager: User) -> str:
    return api_token_create(user=account_manager, name="Reporting", read_only=True)[1]


@pytest.fixture
def vendor(token: str) -> APIClient:
    return bearer(token)


@pytest.fixture
def vendor_ro(read_only_token: str) -> APIClient:
    return bearer(read_only_token)


@pytest.fixture
def customer_admin_token(customer_admin: User) -> str:
    """A token held by a customer admin: written directly, since the service refuses it."""
    raw = "odp_customer-admin-token-that-must-not-work"
    ApiToken.objects.create(
        name="sneaky", user=customer_admin, prefix=raw[:12], secret_hash=hash_token(raw)
    )
    return raw


@pytest.fixture
def throttle_rates(settings: Any) -> Any:
    """Small limits so tests can reach them."""
    settings.API_THROTTLE_TOKEN = "5/min"
    settings.API_THROTTLE_LICENSE = "5/min"
    settings.API_THROTTLE_AUTH_FAILURES = "3/min"
    return settings
