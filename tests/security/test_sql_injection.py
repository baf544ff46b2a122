"""SQL injection attempts in every filter, sort and cursor of the pages and the APIs: never a
500, never a row that the filter should not give, and the tables are still there.

Every filter goes through the ORM (parameters, never SQL text) and sort keys through
allow-lists; these tests hold that in place.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Customer, Entitlement, Event, Seat
from portal.models import User

PAYLOADS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DROP TABLE licensing_seat",
    "1'; DROP TABLE licensing_seat; --",
    "') UNION SELECT id, email, password FROM portal_user --",
    "name; DELETE FROM licensing_customer",
    "-name, (SELECT 1)",
    "%' AND 1=0 UNION SELECT NULL --",
    "\\'; SELECT pg_sleep(5) --",
    "00000000-0000-0000-0000-000000000000' OR '1'='1",
]

# Page filters: path -> query parameters taking text.
PAGE_FILTERS = {
    "/team/customers/": ["q", "sort", "page"],
    "/team/events/": ["type", "customer", "entitlement", "start", "end", "page"],
    "/team/audit/": ["actor", "action", "customer", "page"],
    "/team/leads/": ["page"],
}

API_FILTERS = {
    "/api/v1/customers": ["limit", "offset"],
    "/api/v1/products": ["limit", "offset"],
    "/api/v1/entitlements": [
        "customer",
        "product",
        "status",
        "zone",
        "ordering",
        "limit",
        "offset",
    ],
    "/api/v1/entitlements/{e}/seats": ["in_use", "limit", "offset"],
    "/api/v1/entitlements/{e}/usage": ["start", "end", "bucket"],
    "/api/v1/entitlements/{e}/raises": ["limit", "offset"],
    "/api/v1/entitlements/{e}/statements": ["limit", "offset"],
    "/api/v1/events": [
        "type",
        "customer",
        "entitlement",
        "after",
        "occurred_after",
        "occurred_before",
        "limit",
    ],
}


@pytest.fixture
def data(entitlement: Entitlement, other_customer: Customer, product: Any) -> Entitlement:
    services.entitlement_create(customer=other_customer, product=product, seats=1, hard_limit=1)
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{n}")
    return entitlement


def _intact() -> tuple[int, int, int, int]:
    tables = set(connection.introspection.table_names())
    assert {"licensing_seat", "licensing_customer", "portal_user"} <= tables
    return (
        Seat.objects.count(),
        Customer.objects.count(),
        Event.objects.count(),
        User.objects.count(),
    )


def test_page_filters_survive_injection(data: Entitlement, account_manager: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(account_manager)
    before = _intact()
    failures = []
    for path, names in PAGE_FILTERS.items():
        for name in names:
            for payload in PAYLOADS:
                response = client.get(path, {name: payload})
                if response.status_code != 200:
                    failures.append(f"GET {path}?{name}={payload!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert _intact() == before


def test_customer_search_finds_nothing_for_an_injection(
    data: Entitlement, account_manager: User
) -> None:
    client = Client()
    client.force_login(account_manager)
    for payload in PAYLOADS:
        page = client.get("/team/customers/", {"q": payload}).context["page"]
        assert list(page) == [], payload
    # A sort key that is not on the allow-list sorts by name, as if none were given.
    names = [c.name for c in client.get("/team/customers/", {"sort": "name"}).context["page"]]
    for payload in PAYLOADS:
        page = client.get("/team/customers/", {"sort": payload}).context["page"]
        assert [c.name for c in page] == names


def test_event_log_filters_refuse_injections(data: Entitlement, account_manager: User) -> None:
    client = Client()
    client.force_login(account_manager)
    everything = client.get("/team/events/").context["page"].paginator.count
    for name in ("type", "customer", "entitlement", "start", "end"):
        for payload in PAYLOADS:
            page = client.get("/team/events/", {name: payload}).context["page"]
            # Refused as an invalid filter (no rows), never widened to more rows.
            assert page is None or page.paginator.count <= everything, (name, payload)
            if name != "customer":
                assert page is None, (name, payload)


def test_customer_page_parameters_survive_injection(
    data: Entitlement, customer_admin: User
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(customer_admin)
    base = f"/c/{data.customer.slug}/entitlements/{data.pk}/"
    before = _intact()
    for payload in PAYLOADS:
        for path, name in (
            (base, "range"),
            (base, "page"),
            (base + "usage.csv", "range"),
            (base + "statements/", "page"),
        ):
            assert client.get(path, {name: payload}).status_code == 200, (path, name, payload)
    assert _intact() == before


def test_vendor_api_filters_answer_400_or_nothing_extra(
    data: Entitlement, vendor: APIClient
) -> None:
    before = _intact()
    failures = []
    for template, names in API_FILTERS.items():
        path = template.format(e=data.pk)
        baseline = vendor.get(
            path, {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
        )
        for name in names:
            for payload in PAYLOADS:
                response = vendor.get(path, {name: payload})
                if response.status_code >= 500:
                    failures.append(f"GET {path}?{name}={payload!r}: {response.status_code}")
                elif response.status_code == 200:
                    body, base_body = response.json(), baseline.json()
                    if "results" in body and len(body["results"]) > len(base_body["results"]):
                        failures.append(f"GET {path}?{name}={payload!r}: more rows")
                elif response.status_code != 400:
                    failures.append(f"GET {path}?{name}={payload!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert _intact() == before


def test_client_api_stores_an_injection_as_plain_text(data: Entitlement) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {data.license_key}")
    before = _intact()
    payload = "pc'); DROP TABLE licensing_seat; --"
    response = client.post("/api/v1/activations", {"fingerprint": payload}, format="json")
    assert response.status_code == 201
    assert Seat.objects.get(pk=response.json()["id"]).fingerprint == payload
    assert _intact()[0] == before[0] + 1
    for key in PAYLOADS:
        bad = APIClient().get("/api/v1/entitlement", HTTP_AUTHORIZATION=f"License {key}")
        assert bad.status_code in (401, 429)
