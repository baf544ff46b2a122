"""Account team: creating, editing, suspending and resuming entitlements."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from licensing import services
from licensing.models import Customer, Entitlement, Event, Product
from portal.models import User
from portal.team_forms import hard_limit_for


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def _form(**overrides: Any) -> dict[str, Any]:
    data = {
        "seats": "100",
        "overdraft": "percent",
        "overdraft_seats": "",
        "overdraft_percent": "20",
        "lease_seconds": "",
        "starts_at": "2026-01-01T00:00",
        "ends_at": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("seats", "mode", "extra", "percent", "expected"),
    [
        (100, "none", None, None, 100),
        (100, "seats", 20, None, 120),
        (100, "percent", None, 20, 120),
        (101, "percent", None, 10, 112),  # 10.1 rounds up to 11
        (100, "unlimited", None, None, None),
    ],
)
def test_overdraft_allowance_gives_hard_limit(
    seats: int, mode: str, extra: int | None, percent: int | None, expected: int | None
) -> None:
    assert hard_limit_for(seats, mode, extra, percent) == expected


def test_create_entitlement_with_percentage_overdraft(
    staff_client: Client, customer: Customer, product: Product
) -> None:
    page = staff_client.get(f"/team/customers/{customer.slug}/entitlements/new")
    assert page.status_code == 200
    assert 'id="hard-limit-preview"' in page.content.decode()
    assert "js/team-entitlement-form.js" in page.content.decode()

    response = staff_client.post(
        f"/team/customers/{customer.slug}/entitlements/new",
        _form(product=str(product.pk), lease_seconds="900"),
    )

    assert response.status_code == 302
    entitlement = Entitlement.objects.get(customer=customer)
    assert (entitlement.seats, entitlement.hard_limit, entitlement.lease_seconds) == (
        100,
        120,
        900,
    )
    assert Event.objects.filter(type="entitlement.created", entitlement=entitlement).exists()


def test_create_entitlement_with_a_new_product(staff_client: Client, customer: Customer) -> None:
    response = staff_client.post(
        f"/team/customers/{customer.slug}/entitlements/new",
        _form(new_product="Render Farm", overdraft="unlimited"),
    )
    assert response.status_code == 302
    entitlement = Entitlement.objects.get(customer=customer)
    assert entitlement.product.name == "Render Farm"
    assert entitlement.hard_limit is None


def test_product_choice_is_required(staff_client: Client, customer: Customer) -> None:
    response = staff_client.post(f"/team/customers/{customer.slug}/entitlements/new", _form())
    assert response.status_code == 200
    assert "Choose a product" in response.context["form"].errors["product"][0]
    assert "Hard limit: 120" in response.content.decode()  # the server computes it too


def test_refused_entitlement_leaves_no_new_product(
    staff_client: Client, customer: Customer
) -> None:
    response = staff_client.post(
        f"/team/customers/{customer.slug}/entitlements/new",
        _form(new_product="Ghost", starts_at="2026-01-02T00:00", ends_at="2026-01-01T00:00"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["ends_at"]
    assert not Product.objects.filter(name="Ghost").exists()


def test_edit_entitlement_changes_limits(staff_client: Client, entitlement: Entitlement) -> None:
    page = staff_client.get(f"/team/entitlements/{entitlement.pk}/edit")
    assert page.status_code == 200
    assert page.context["form"].initial["overdraft_seats"] == 20
    assert "Hard limit: 120" in page.content.decode()

    response = staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit",
        _form(seats="150", overdraft="seats", overdraft_seats="30"),
    )

    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (150, 180)
    assert Event.objects.filter(type="entitlement.updated", entitlement=entitlement).exists()


def test_limit_below_seats_in_use_is_shown_on_the_form(
    staff_client: Client, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4)
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{n}")

    response = staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit", _form(seats="1", overdraft="none")
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "3 seats are in use" in errors["seats"][0]
    assert "3 seats are in use" in errors["overdraft"][0]
    assert "3 seats are in use" in response.content.decode()
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (2, 4)


def test_suspend_and_resume(staff_client: Client, entitlement: Entitlement) -> None:
    response = staff_client.post(f"/team/entitlements/{entitlement.pk}/suspend")
    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.status == "suspended"
    assert (
        "Resume" in staff_client.get(f"/team/entitlements/{entitlement.pk}/edit").content.decode()
    )

    staff_client.post(f"/team/entitlements/{entitlement.pk}/resume")
    entitlement.refresh_from_db()
    assert entitlement.status == "active"


def test_bad_numbers_are_form_errors(staff_client: Client, entitlement: Entitlement) -> None:
    response = staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit",
        _form(seats="-4", overdraft="percent", overdraft_percent="abc", starts_at="yesterday"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"seats", "overdraft_percent", "starts_at"} <= set(errors)
