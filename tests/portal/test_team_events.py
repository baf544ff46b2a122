"""Account team: the event log and its filters."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing import services
from licensing.models import Customer, Entitlement, Event, Product
from portal.models import User


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def _types(response: Any) -> list[str]:
    return [event.type for event in response.context["page"]]


def test_event_log_is_newest_first(staff_client: Client, entitlement: Entitlement) -> None:
    services.seat_activate(entitlement=entitlement, fingerprint="pc-1")
    response = staff_client.get("/team/events/")
    assert response.status_code == 200
    assert _types(response) == ["seat.activated", "entitlement.created"]
    assert "pc-1" in response.content.decode()


def test_event_log_filters(
    staff_client: Client,
    entitlement: Entitlement,
    other_customer: Customer,
    product: Product,
) -> None:
    services.seat_activate(entitlement=entitlement, fingerprint="pc-1")
    other = services.entitlement_create(
        customer=other_customer, product=product, seats=1, hard_limit=1
    )
    services.seat_activate(entitlement=other, fingerprint="pc-9")

    by_type = staff_client.get("/team/events/?type=seat.activated")
    assert _types(by_type) == ["seat.activated", "seat.activated"]
    by_customer = staff_client.get(f"/team/events/?customer={other_customer.slug}")
    assert {e.customer_id for e in by_customer.context["page"]} == {other_customer.pk}
    by_entitlement = staff_client.get(f"/team/events/?entitlement={entitlement.pk}")
    assert {e.entitlement_id for e in by_entitlement.context["page"]} == {entitlement.pk}
    future = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert list(staff_client.get(f"/team/events/?start={future}").context["page"]) == []
    # created x2, activated x2, and Globex's 1/1 entitlement reaching its hard limit
    assert len(staff_client.get(f"/team/events/?end={future}").context["page"]) == 5


@pytest.mark.parametrize(
    "query",
    [
        "type=seat.exploded",
        "customer=no-such-customer",
        "customer=%00%ff",
        "entitlement=not-a-uuid",
        "start=yesterday",
        "end=2026-13-45T99:99",
        "start=2026-02-01T00:00&end=2026-01-01T00:00",
        "page=-1",
    ],
)
def test_invalid_filters_are_form_errors(staff_client: Client, query: str) -> None:
    response = staff_client.get(f"/team/events/?{query}")
    assert response.status_code == 200
    if not query.startswith("page"):
        assert response.context["form"].errors
        assert response.context["page"] is None


def test_event_log_is_paginated(staff_client: Client, entitlement: Entitlement) -> None:
    for n in range(60):
        services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{n}")
    first = staff_client.get("/team/events/?type=seat.activated")
    assert len(first.context["page"]) == 50
    second = staff_client.get("/team/events/?type=seat.activated&page=2")
    assert len(second.context["page"]) == 10
    assert "type=seat.activated&amp;page=2" in first.content.decode()


def test_event_log_query_count_does_not_grow(
    staff_client: Client, django_assert_num_queries: Any, product: Product
) -> None:
    def add(count: int) -> None:
        for n in range(count):
            customer = services.customer_create(name=f"Customer {n} of {count}")
            entitlement = services.entitlement_create(
                customer=customer, product=product, seats=1, hard_limit=2
            )
            for m in range(3):
                services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{m}")

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get("/team/events/").status_code == 200
    add(8)
    assert Event.objects.count() > 40
    with django_assert_num_queries(len(few)):
        assert staff_client.get("/team/events/").status_code == 200
