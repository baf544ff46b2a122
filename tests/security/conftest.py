"""Fixtures of the security suite: logged-in clients and vendor API clients."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from licensing.services.tokens import api_token_create
from portal.models import User


@pytest.fixture
def staff_client(account_manager: User) -> Client:
    client = Client()
    client.force_login(account_manager)
    return client


@pytest.fixture
def admin_client(customer_admin: User) -> Client:
    client = Client()
    client.force_login(customer_admin)
    return client


@pytest.fixture
def vendor(account_manager: User) -> APIClient:
    """A read-write vendor API client of the account manager."""
    _, token = api_token_create(user=account_manager, name="CRM sync")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
