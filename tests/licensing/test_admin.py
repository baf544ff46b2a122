"""The Django admin: every page opens, and writes go through the services."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from licensing import services
from licensing.models import Customer, Entitlement, Event, Membership, Seat, UsageBucket
from portal.models import User


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Demo and test users need hashes, not slow ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root@vendor.test", "pw", name="Root")


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def seat(entitlement: Entitlement) -> Seat:
    result = services.seat_activate(entitlement=entitlement, fingerprint="ws-1", label="Ada's PC")
    assert result.seat is not None
    return result.seat


@pytest.fixture
def history(entitlement: Entitlement, customer_admin: User, seat: Seat) -> dict[str, object]:
    """One row of every admin-registered model of the licensing app."""
    return {
        "product": entitlement.product,
        "customer": entitlement.customer,
        "membership": Membership.objects.get(user=customer_admin),
        "entitlement": entitlement,
        "seat": seat,
        "event": Event.objects.filter(type=Event.Type.SEAT_ACTIVATED).get(),
        "usagebucket": UsageBucket.objects.get(),
    }


def test_every_changelist_and_change_page_opens(admin_client, history):
    for model_name, obj in history.items():
        changelist = reverse(f"admin:licensing_{model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, model_name
        change = reverse(f"admin:licensing_{model_name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200, model_name


def test_changelists_search_and_filter(admin_client, history, entitlement):
    entitlements = reverse("admin:licensing_entitlement_changelist")
    # The one entitlement holds one seat of 100: within, active.
    pages = [
        (f"{entitlements}?q={entitlement.license_key}", 1),
        (f"{entitlements}?q=NO-SUCH-KEY", 0),
        (f"{entitlements}?zone=within&status=active", 1),
        (f"{entitlements}?zone=overdraft&status=active", 0),
        (f"{reverse('admin:licensing_seat_changelist')}?in_use=yes&overdraft__exact=0", 1),
        (f"{reverse('admin:licensing_seat_changelist')}?in_use=no", 0),
        (f"{reverse('admin:licensing_event_changelist')}?type=seat.activated", 1),
        (f"{reverse('admin:licensing_event_changelist')}?type=seat.denied", 0),
        (f"{reverse('admin:licensing_usagebucket_changelist')}?q=Acme", 1),
    ]
    for url, count in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count == count, url


def test_seat_changelist_queries_do_not_grow_with_rows(
    admin_client, entitlement, django_assert_max_num_queries
):
    for n in range(20):
        services.seat_activate(entitlement=entitlement, fingerprint=f"ws-{n}")
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("admin:licensing_seat_changelist")).status_code == 200
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("admin:licensing_event_changelist")).status_code == 200


def test_add_pages_open(admin_client):
    for model_name in ["product", "customer", "membership", "entitlement"]:
        assert admin_client.get(reverse(f"admin:licensing_{model_name}_add")).status_code == 200
    for model_name in ["seat", "event", "usagebucket"]:
        assert admin_client.get(reverse(f"admin:licensing_{model_name}_add")).status_code == 403


def test_revoke_action_frees_the_seat(admin_client, entitlement, seat):
    response = admin_client.post(
        reverse("admin:licensing_seat_changelist"),
        {"action": "revoke_seats", "_selected_action": [str(seat.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 seat" in response.content.decode()
    seat.refresh_from_db()
    entitlement.refresh_from_db()
    assert seat.release_reason == Seat.ReleaseReason.REVOKED
    assert entitlement.seats_used == 0
    released = Event.objects.get(type=Event.Type.SEAT_RELEASED)
    assert released.data["reason"] == "revoked"


def entitlement_form(entitlement: Entitlement, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "seats": entitlement.seats,
        "hard_limit": entitlement.hard_limit,
        "lease_seconds": "",
        "status": entitlement.status,
        "starts_at_0": entitlement.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": entitlement.starts_at.strftime("%H:%M:%S"),
        "ends_at_0": "",
        "ends_at_1": "",
    }
    data.update(changes)
    return data


def test_changing_limits_in_admin_goes_through_the_service(admin_client, entitlement):
    url = reverse("admin:licensing_entitlement_change", args=[entitlement.pk])
    response = admin_client.post(url, entitlement_form(entitlement, seats=150, hard_limit=180))
    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (150, 180)
    updated = Event.objects.get(type=Event.Type.ENTITLEMENT_UPDATED)
    assert updated.data["changes"]["seats"] == [100, 150]


def test_admin_cannot_set_limits_below_the_seats_in_use(admin_client, entitlement):
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"ws-{n}")
    url = reverse("admin:licensing_entitlement_change", args=[entitlement.pk])
    response = admin_client.post(url, entitlement_form(entitlement, seats=2, hard_limit=2))
    assert response.status_code == 200  # the form again, with the error
    assert "3 seats are in use" in response.content.decode()
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit, entitlement.seats_used) == (100, 120, 3)
    assert not Event.objects.filter(type=Event.Type.ENTITLEMENT_UPDATED).exists()


def test_entitlement_added_in_admin_is_created_by_the_service(admin_client, customer, product):
    response = admin_client.post(
        reverse("admin:licensing_entitlement_add"),
        {
            "customer": customer.pk,
            "product": product.pk,
            "seats": 10,
            "hard_limit": 12,
            "lease_seconds": "",
            "starts_at_0": "2026-01-01",
            "starts_at_1": "00:00:00",
            "ends_at_0": "",
            "ends_at_1": "",
        },
    )
    assert response.status_code == 302
    entitlement = Entitlement.objects.get(customer=customer, seats=10)
    assert entitlement.license_key
    assert Event.objects.filter(
        type=Event.Type.ENTITLEMENT_CREATED, entitlement=entitlement
    ).exists()


def test_api_token_pages_open_and_revoke_action_revokes(admin_client, superuser):
    api_token, _secret = services.api_token_create(user=superuser, name="CI")
    changelist = reverse("admin:licensing_apitoken_changelist")
    assert admin_client.get(changelist).status_code == 200
    change = reverse("admin:licensing_apitoken_change", args=[api_token.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert api_token.secret_hash not in page.content.decode()
    admin_client.post(changelist, {"action": "revoke_tokens", "_selected_action": [api_token.pk]})
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None


def test_the_admin_refuses_a_customer_name_that_exists_with_a_form_error(
    admin_client: Client, customer: Any
) -> None:
    response = admin_client.post(
        reverse("admin:licensing_customer_add"), {"name": " acme CORP ", "account_manager": ""}
    )
    assert response.status_code == 200
    assert "A customer named “Acme Corp” exists already." in response.content.decode()
    assert Customer.objects.filter(name__iexact="acme corp").count() == 1
