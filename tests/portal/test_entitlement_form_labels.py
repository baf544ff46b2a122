"""The team's entitlement form says what an empty start means and labels the product once."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from licensing.models import Customer, Entitlement, Product
from portal.models import User


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def test_new_entitlement_form_says_an_empty_start_means_now(
    staff_client: Client, customer: Customer
) -> None:
    html = staff_client.get(f"/team/customers/{customer.slug}/entitlements/new").content.decode()

    assert '<small id="id_starts_at_helptext">Empty: starts now.</small>' in html


def test_an_empty_start_starts_the_entitlement_now(
    staff_client: Client, customer: Customer, product: Product
) -> None:
    before = timezone.now()
    response = staff_client.post(
        f"/team/customers/{customer.slug}/entitlements/new",
        {"product": str(product.pk), "seats": "10", "overdraft": "none", "starts_at": ""},
    )

    assert response.status_code == 302
    starts_at = Entitlement.objects.get(customer=customer).starts_at
    assert before <= starts_at <= timezone.now()


def test_an_edited_entitlement_keeps_its_start_when_it_is_emptied(
    staff_client: Client, entitlement: Entitlement
) -> None:
    started = entitlement.starts_at
    page = staff_client.get(f"/team/entitlements/{entitlement.pk}/edit").content.decode()
    assert '<small id="id_starts_at_helptext">Empty: unchanged.</small>' in page

    response = staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit",
        {"seats": "150", "overdraft": "none", "starts_at": ""},
    )

    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.starts_at) == (150, started)
    assert timezone.now() - started > timedelta(0)


def test_product_is_labelled_once(staff_client: Client, customer: Customer) -> None:
    html = staff_client.get(f"/team/customers/{customer.slug}/entitlements/new").content.decode()

    assert "<legend>Product</legend>" in html
    assert '<label for="id_product">Existing product' in html
    assert '<label for="id_new_product">New product name' in html
