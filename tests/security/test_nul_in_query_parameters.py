"""Text PostgreSQL cannot hold (NUL above all) in any query parameter of a page or the APIs:
a form error on a page, a 400 in the API's error shape, never a 500.

Every page and API that reads the query string is listed here; a new filter belongs here too.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Customer, Entitlement
from webhooks import services as webhook_services

# NUL alone, inside a word, and another control character.
BAD_TEXT = ["\x00", "acme\x00corp", "acme\x01"]

# Page -> query parameters it reads ({e}: an entitlement, {s}: its customer's slug, {w}: a
# webhook endpoint of the vendor, {cw}: one of the customer).
TEAM_PAGES = {
    "/team/customers/": ["q", "sort", "page"],
    "/team/events/": ["type", "customer", "entitlement", "start", "end", "page"],
    "/team/audit/": ["actor", "action", "customer", "page"],
    "/team/leads/": ["page"],
    "/team/webhooks/": ["page"],
    "/team/webhooks/{w}/": ["status", "page"],
}
CUSTOMER_PAGES = {
    "/c/{s}/": ["page"],
    "/c/{s}/entitlements/{e}/": ["range", "page"],
    "/c/{s}/entitlements/{e}/usage.csv": ["range"],
    "/c/{s}/entitlements/{e}/statements/": ["page"],
    "/c/{s}/webhooks/{cw}/": ["status", "page"],
}
API_FILTERS = {
    "/api/v1/customers": ["limit", "offset"],
    "/api/v1/products": ["limit", "offset"],
    "/api/v1/entitlements": ["customer", "product", "status", "zone", "ordering", "limit"],
    "/api/v1/entitlements/{e}/seats": ["in_use", "limit", "offset"],
    "/api/v1/entitlements/{e}/usage": ["start", "end", "bucket"],
    "/api/v1/entitlements/{e}/raises": ["limit", "offset"],
    "/api/v1/entitlements/{e}/statements": ["limit", "offset"],
    "/api/v1/events": ["type", "customer", "entitlement", "after", "occurred_after", "limit"],
    "/api/v1/webhook-endpoints": ["customer", "limit"],
    "/api/v1/webhook-deliveries": ["endpoint", "status", "event", "event_type", "limit"],
}


@pytest.fixture
def paths(
    entitlement: Entitlement, customer: Customer, customer_admin: Any, settings: Any
) -> dict[str, str]:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    vendor_hook = webhook_services.endpoint_create(url="http://127.0.0.1:9/hook", customer=None)
    customer_hook = webhook_services.endpoint_create(
        url="http://127.0.0.1:9/hook", customer=customer, actor=services.Actor.of(customer_admin)
    )
    services.seat_activate(entitlement=entitlement, fingerprint="pc-1")
    return {
        "e": str(entitlement.pk),
        "s": customer.slug,
        "w": str(vendor_hook.pk),
        "cw": str(customer_hook.pk),
    }


def test_customer_search_with_nul_is_a_form_error(staff_client: Client, customer: Customer) -> None:
    response = staff_client.get("/team/customers/", {"q": "Acme\x00"})
    assert response.status_code == 200
    assert response.context["form"].errors["q"] == ["Search must not contain control characters."]
    assert response.context["page"] is None
    assert "Search must not contain control characters." in response.content.decode()


def test_audit_actor_with_a_control_character_is_a_form_error(staff_client: Client) -> None:
    response = staff_client.get("/team/audit/", {"actor": "am@vendor.test\x01"})
    assert response.status_code == 200
    assert response.context["form"].errors["actor"]
    assert response.context["page"] is None


@pytest.mark.parametrize("text", BAD_TEXT)
def test_no_page_answers_500_for_text_postgres_cannot_hold(
    paths: dict[str, str], account_manager: Any, customer_admin: Any, text: str
) -> None:
    failures = []
    for user, pages in ((account_manager, TEAM_PAGES), (customer_admin, CUSTOMER_PAGES)):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for template, names in pages.items():
            path = template.format(**paths)
            for name in names:
                status = client.get(path, {name: text}).status_code
                if status != 200:
                    failures.append(f"GET {path}?{name}={text!r}: {status}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("text", BAD_TEXT)
def test_no_api_filter_answers_500_for_text_postgres_cannot_hold(
    paths: dict[str, str], vendor: APIClient, text: str
) -> None:
    failures = []
    for template, names in API_FILTERS.items():
        path = template.format(**paths)
        for name in names:
            response = vendor.get(path, {name: text})
            body = response.json()
            if response.status_code != 400 or body.get("code") != "invalid_request":
                failures.append(f"GET {path}?{name}={text!r}: {response.status_code} {body}")
            elif name not in body.get("errors", {}):
                failures.append(f"GET {path}?{name}={text!r}: no error for {name}: {body}")
    assert not failures, "\n".join(failures)
