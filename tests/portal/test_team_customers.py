"""Account team: the customers list, a customer's page, creating a customer."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing import services
from licensing.models import Customer, Entitlement, Product, UsageBucket
from portal.models import User


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def _use_seats(entitlement: Entitlement, count: int) -> None:
    for n in range(count):
        services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{n}")


def _denials(entitlement: Entitlement, count: int, hours_ago: int = 2) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    UsageBucket.objects.create(entitlement=entitlement, hour=hour, denials=count)


def test_team_home_redirects_to_customers(staff_client: Client) -> None:
    response = staff_client.get("/team/")
    assert response.status_code == 302
    assert response["Location"] == "/team/customers/"


def test_customers_list_shows_worst_zone_seats_and_denials(
    staff_client: Client, customer: Customer, product: Product, other_customer: Customer
) -> None:
    within = services.entitlement_create(customer=customer, product=product, seats=5, hard_limit=6)
    over = services.entitlement_create(customer=customer, product=product, seats=2, hard_limit=4)
    _use_seats(within, 1)
    _use_seats(over, 3)
    _denials(over, 7)
    _denials(over, 100, hours_ago=24 * 31)  # older than 30 days: not counted

    response = staff_client.get("/team/customers/")

    assert response.status_code == 200
    rows = {c.name: c for c in response.context["page"]}
    acme = rows["Acme Corp"]
    assert acme.zone == "overdraft"
    assert (acme.seats_used_total, acme.seats_total, acme.denials_30d) == (4, 7, 7)
    assert rows["Globex"].entitlement_count == 0
    html = response.content.decode()
    assert "Overdraft" in html
    assert "4 / 7" in html


def test_customer_at_hard_limit_is_worst_zone(
    staff_client: Client, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=2)
    _use_seats(entitlement, 2)
    response = staff_client.get("/team/customers/")
    assert [c.zone for c in response.context["page"]] == ["at_hard_limit"]
    assert "At hard limit" in response.content.decode()


def test_customer_whose_entitlements_are_all_suspended_is_marked_suspended(
    staff_client: Client, customer: Customer, product: Product, other_customer: Customer
) -> None:
    entitlement = services.entitlement_create(
        customer=customer, product=product, seats=5, hard_limit=6
    )
    services.entitlement_suspend(entitlement=entitlement)

    response = staff_client.get("/team/customers/")

    acme = {c.name: c for c in response.context["page"]}["Acme Corp"]
    assert (acme.entitlement_count, acme.suspended_count) == (1, 1)
    row = _row(response.content.decode(), "Acme Corp")
    assert '<span class="zone-badge zone-suspended">Suspended</span>' in row
    assert "Within" not in row


def test_customer_with_some_entitlements_suspended_shows_how_many(
    staff_client: Client, customer: Customer, product: Product
) -> None:
    entitlements = [
        services.entitlement_create(customer=customer, product=product, seats=5, hard_limit=6)
        for _ in range(3)
    ]
    services.entitlement_suspend(entitlement=entitlements[0])

    row = _row(staff_client.get("/team/customers/").content.decode(), "Acme Corp")

    assert "Within" in row
    assert "1 of 3 suspended" in row


def _row(html: str, name: str) -> str:
    """The customers table row of the customer named `name`."""
    start = html.index(f">{name}</a>")
    return html[html.rindex("<tr>", 0, start) : html.index("</tr>", start)]


def test_customers_are_searchable(
    staff_client: Client, customer: Customer, other_customer: Customer
) -> None:
    response = staff_client.get("/team/customers/?q=glob")
    assert [c.name for c in response.context["page"]] == ["Globex"]
    response = staff_client.get("/team/customers/?q=nobody")
    assert "No customer matches" in response.content.decode()


def test_customers_sort_by_denials_and_zone(
    staff_client: Client, customer: Customer, other_customer: Customer, product: Product
) -> None:
    globex = services.entitlement_create(
        customer=other_customer, product=product, seats=1, hard_limit=1
    )
    _denials(globex, 3)
    _use_seats(globex, 1)
    for sort in ("-denials", "-zone"):
        response = staff_client.get(f"/team/customers/?sort={sort}")
        assert [c.name for c in response.context["page"]] == ["Globex", "Acme Corp"]
    response = staff_client.get("/team/customers/?sort=-name")
    assert [c.name for c in response.context["page"]] == ["Globex", "Acme Corp"]
    response = staff_client.get("/team/customers/?sort=bogus")  # unknown sort: by name
    assert [c.name for c in response.context["page"]] == ["Acme Corp", "Globex"]


def test_customers_list_empty_state(staff_client: Client) -> None:
    response = staff_client.get("/team/customers/")
    assert response.status_code == 200
    assert "No customers yet" in response.content.decode()


def test_customers_list_is_paginated(staff_client: Client) -> None:
    for n in range(30):
        services.customer_create(name=f"Customer {n:02d}")
    first = staff_client.get("/team/customers/")
    second = staff_client.get("/team/customers/?page=2")
    assert len(first.context["page"]) == 25
    assert len(second.context["page"]) == 5
    assert staff_client.get("/team/customers/?page=nonsense").status_code == 200


def test_customers_list_query_count_does_not_grow(
    staff_client: Client, django_assert_num_queries: Any, product: Product
) -> None:
    def add_customers(count: int) -> None:
        for _ in range(count):
            c = services.customer_create(name=f"Customer {Customer.objects.count()}")
            for _ in range(3):
                e = services.entitlement_create(customer=c, product=product, seats=1, hard_limit=2)
                _denials(e, 1)
            services.entitlement_suspend(entitlement=e)

    add_customers(2)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get("/team/customers/").status_code == 200
    add_customers(8)
    with django_assert_num_queries(len(few)):
        assert staff_client.get("/team/customers/").status_code == 200


def test_account_team_creates_a_customer(staff_client: Client, account_manager: User) -> None:
    form = staff_client.get("/team/customers/new")
    assert form.status_code == 200
    response = staff_client.post(
        "/team/customers/new", {"name": "Initech", "account_manager": account_manager.pk}
    )
    customer = Customer.objects.get(name="Initech")
    assert response.status_code == 302
    assert response["Location"] == f"/team/customers/{customer.slug}/"
    assert customer.account_manager == account_manager


def test_customer_name_is_required(staff_client: Client) -> None:
    response = staff_client.post("/team/customers/new", {"name": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]


def test_customer_page_lists_entitlements_members_and_invitations(
    staff_client: Client,
    customer: Customer,
    entitlement: Entitlement,
    customer_admin: User,
    viewer: User,
) -> None:
    staff_client.post(
        f"/team/customers/{customer.slug}/invitations",
        {"email": "new.admin@acme.test", "role": "admin"},
    )
    response = staff_client.get(f"/team/customers/{customer.slug}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/c/{customer.slug}/entitlements/{entitlement.pk}/" in html
    assert f"/team/entitlements/{entitlement.pk}/edit" in html
    assert "admin@acme.test" in html and "viewer@acme.test" in html
    assert "new.admin@acme.test" in html
    assert "Invite customer admin" in html


def test_unknown_customer_is_404(staff_client: Client) -> None:
    assert staff_client.get("/team/customers/nobody/").status_code == 404
