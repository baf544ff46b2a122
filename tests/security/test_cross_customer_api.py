"""Cross-customer access through the APIs: only the account team's tokens reach the vendor API,
and a license key reaches only its own entitlement's activations.

(Every portal page against an outsider is tests/portal/test_every_page_permissions.py.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from licensing import billing, services
from licensing.models import ApiToken, Customer, Entitlement, Seat, TemporaryRaise
from licensing.services.tokens import hash_token
from portal.models import User
from webhooks.models import WebhookDelivery, WebhookEndpoint

CLIENT_ROUTES = re.compile(r"^api/v1/(activations|entitlement$)")
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def api_routes() -> list[str]:
    return [r for r in _walk(get_resolver().url_patterns) if r.startswith("api/v1/")]


def vendor_routes() -> list[str]:
    return [r for r in api_routes() if not CLIENT_ROUTES.search(r)]


@pytest.fixture
def acme(entitlement: Entitlement, product: Any) -> dict[str, Any]:
    seat = services.seat_activate(entitlement=entitlement, fingerprint="acme-pc").seat
    assert seat is not None
    endpoint = WebhookEndpoint.objects.create(
        customer=entitlement.customer, url="https://hooks.example.test/acme"
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test")
    request = services.expansion_request(entitlement=entitlement, seats=130)
    threshold = services.threshold_add(entitlement=entitlement, audience="vendor", kind="limit")
    # A statement needs a billing period that closed: an entitlement that started earlier.
    billed = services.entitlement_create(
        customer=entitlement.customer,
        product=product,
        seats=5,
        hard_limit=6,
        starts_at=timezone.now() - timedelta(days=40),
    )
    statement = services.statement_issue(entitlement=billed, period=billing.first_period(billed))
    raise_ = services.raise_grant(
        entitlement=entitlement,
        extra_seats=10,
        extra_hard_limit=10,
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=8),
    )
    return {
        "request_id": request.pk,
        "threshold_id": threshold.pk,
        "raise_id": raise_.pk,
        "statement_id": statement.pk,
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery.pk,
        "customer_id": entitlement.customer_id,
        "product_id": product.pk,
        "entitlement_id": entitlement.pk,
        "seat_id": seat.pk,
        "activation_id": seat.pk,
    }


def _fill(route: str, values: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        assert name in values, f"{route!r}: add a value for {name!r} to the acme fixture"
        return str(values[name])

    return "/" + PARAMETER.sub(value, route)


def _state() -> tuple[Any, ...]:
    return (
        sorted(
            Entitlement.objects.values_list("pk", "seats", "hard_limit", "status", "seats_used")
        ),
        sorted(TemporaryRaise.objects.values_list("pk", "status")),
        Seat.objects.filter(released_at__isnull=True).count(),
        Customer.objects.count(),
        sorted(WebhookEndpoint.objects.values_list("pk", "url", "enabled", "secret")),
    )


@pytest.fixture
def outsider_token(outsider: User) -> str:
    """A token held by the outsider (a Globex admin): written directly, as the service
    refuses to make one for anyone outside the account team."""
    raw = "odp_outsider-token-that-must-not-work-anywhere"
    ApiToken.objects.create(
        name="sneaky", user=outsider, prefix=raw[:12], secret_hash=hash_token(raw)
    )
    return raw


def test_vendor_api_routes_are_found() -> None:
    routes = vendor_routes()
    assert "api/v1/entitlements/<uuid:entitlement_id>" in routes
    assert "api/v1/entitlements/<uuid:entitlement_id>/seats/<uuid:seat_id>/revoke" in routes
    assert "api/v1/raises/<uuid:raise_id>/end" in routes
    assert "api/v1/statements/<uuid:statement_id>" in routes
    assert "api/v1/entitlements/<uuid:entitlement_id>/statements/provisional" in routes
    assert "api/v1/events" in routes


def test_a_customer_users_token_is_refused_on_every_vendor_api_route(
    acme: dict[str, Any], outsider_token: str, settings: Any
) -> None:
    settings.API_THROTTLE_AUTH_FAILURES = "10000/min"  # this test fails on purpose, often
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {outsider_token}")
    before = _state()
    failures = []
    for route in vendor_routes():
        path = _fill(route, acme)
        for method in ("get", "post", "patch", "put", "delete"):
            response = getattr(client, method)(path, {}, format="json")
            if response.status_code not in (401, 405):
                failures.append(f"{method.upper()} {path}: {response.status_code}")
            elif response.status_code == 401:
                assert response.json()["code"] == "invalid_token"
    assert not failures, "\n".join(failures)
    assert _state() == before


def test_a_portal_session_does_not_open_the_vendor_api(
    acme: dict[str, Any], account_manager: User
) -> None:
    """Not even the account team's own session: the API takes tokens only, so a page in
    someone's browser cannot call it with their cookies (no CSRF through the API)."""
    client = APIClient()
    client.force_login(account_manager)
    before = _state()
    for route in vendor_routes():
        path = _fill(route, acme)
        assert client.get(path).status_code == 401, path
        assert client.post(path, {}, format="json").status_code in (401, 405), path
    assert _state() == before


def test_globex_license_key_cannot_touch_acme_activations(
    acme: dict[str, Any], other_customer: Customer, product: Any
) -> None:
    globex = services.entitlement_create(
        customer=other_customer, product=product, seats=5, hard_limit=5
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {globex.license_key}")
    before = _state()

    heartbeat = client.post(f"/api/v1/activations/{acme['seat_id']}/heartbeat")
    release = client.delete(f"/api/v1/activations/{acme['seat_id']}")
    status = client.get("/api/v1/entitlement")

    assert heartbeat.status_code == release.status_code == 404
    assert heartbeat.json()["code"] == release.json()["code"] == "activation_not_found"
    assert status.json()["id"] == str(globex.pk)
    assert _state() == before
