"""The account team sets an entitlement's billing period and free overdraft seat-hours; the
customer's admins choose whether statements reach them by email."""

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from licensing.models import Customer, Entitlement, EntitlementTerms, Membership, Product
from portal.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def test_a_new_entitlement_gets_its_billing_terms(
    staff_client: Client, customer: Customer, product: Product
) -> None:
    response = staff_client.post(
        f"/team/customers/{customer.slug}/entitlements/new",
        {
            "product": str(product.pk),
            "seats": "10",
            "overdraft": "none",
            "billing_period": "yearly",
            "free_overdraft_seat_hours": "500",
        },
    )

    assert response.status_code == 302
    entitlement = Entitlement.objects.get(customer=customer)
    assert (entitlement.billing_period, entitlement.free_overdraft_seat_hours) == ("yearly", 500)


def test_the_edit_form_shows_and_changes_the_billing_terms(
    staff_client: Client, entitlement: Entitlement
) -> None:
    url = f"/team/entitlements/{entitlement.pk}/edit"
    html = staff_client.get(url).content.decode()
    assert '<option value="monthly" selected>Monthly</option>' in html
    assert 'name="free_overdraft_seat_hours" value="0"' in html

    response = staff_client.post(
        url,
        {
            "seats": "100",
            "overdraft": "seats",
            "overdraft_seats": "20",
            "billing_period": "quarterly",
            "free_overdraft_seat_hours": "40",
        },
    )

    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert (entitlement.billing_period, entitlement.free_overdraft_seat_hours) == ("quarterly", 40)
    latest = EntitlementTerms.objects.filter(entitlement=entitlement).latest("effective_from", "id")
    assert (latest.billing_period, latest.free_overdraft_seat_hours) == ("quarterly", 40)


def test_empty_billing_terms_leave_them_unchanged(
    staff_client: Client, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(billing_period="yearly", free_overdraft_seat_hours=7)
    response = staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit",
        {"seats": "100", "overdraft": "seats", "overdraft_seats": "20"},
    )
    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert (entitlement.billing_period, entitlement.free_overdraft_seat_hours) == ("yearly", 7)


def test_bad_billing_terms_are_form_errors(staff_client: Client, entitlement: Entitlement) -> None:
    response = staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit",
        {
            "seats": "100",
            "overdraft": "none",
            "billing_period": "weekly",
            "free_overdraft_seat_hours": "-1",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"billing_period", "free_overdraft_seat_hours"}
    entitlement.refresh_from_db()
    assert entitlement.billing_period == "monthly"


def test_an_admin_turns_statement_emails_off_and_on(
    client: Client, customer_admin: User, customer: Customer
) -> None:
    client.force_login(customer_admin)
    url = reverse("customer:notifications", args=[customer.slug])
    html = client.get(url).content.decode()
    assert 'name="notify_statements" id="id_notify_statements" checked' in html

    client.post(url, {"notify_overdraft": "on", "notify_denials": "on"})
    mine = Membership.objects.get(user=customer_admin)
    assert (mine.notify_overdraft, mine.notify_denials, mine.notify_statements) == (
        True,
        True,
        False,
    )

    client.post(url, {"notify_statements": "on"})
    mine.refresh_from_db()
    assert (mine.notify_overdraft, mine.notify_denials, mine.notify_statements) == (
        False,
        False,
        True,
    )


def test_the_team_sets_the_offline_grace_in_hours(
    staff_client: Client, entitlement: Entitlement
) -> None:
    url = f"/team/entitlements/{entitlement.pk}/edit"
    terms = {"seats": "100", "overdraft": "seats", "overdraft_seats": "20"}
    assert 'name="offline_grace_hours"' in staff_client.get(url).content.decode()

    assert staff_client.post(url, {**terms, "offline_grace_hours": "24"}).status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.offline_grace_seconds == 24 * 3600
    last = EntitlementTerms.objects.filter(entitlement=entitlement).last()
    assert last is not None and last.offline_grace_seconds == 24 * 3600

    # One set in seconds (the API) that is no whole hour survives an unrelated edit.
    Entitlement.objects.filter(pk=entitlement.pk).update(offline_grace_seconds=5400)
    assert staff_client.post(url, {**terms, "offline_grace_hours": "1"}).status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.offline_grace_seconds == 5400

    refused = staff_client.post(url, {**terms, "offline_grace_hours": "721"})
    assert refused.status_code == 200
    assert "offline_grace_hours" in refused.context["form"].errors

    assert staff_client.post(url, {**terms, "offline_grace_hours": ""}).status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.offline_grace_seconds is None  # the default again
