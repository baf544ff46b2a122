"""Suspending an entitlement and releasing a seat ask first: the link shows a confirmation
page (GET changes nothing) and only its Confirm button (a POST to the same URL) acts."""

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from licensing.models import Entitlement, Seat
from portal.models import User


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def _suspend_url(entitlement: Entitlement) -> str:
    return reverse("team:entitlement_suspend", args=[entitlement.pk])


def _release_url(entitlement: Entitlement, seat: Seat) -> str:
    return reverse(
        "customer:seat_release", args=[entitlement.customer.slug, entitlement.pk, seat.pk]
    )


def test_suspend_button_leads_to_a_confirmation_page(
    staff_client: Client, entitlement: Entitlement
) -> None:
    edit = staff_client.get(reverse("team:entitlement_edit", args=[entitlement.pk]))
    # The edit page's Suspend is a link to the question, not a form that acts at once.
    assert f'href="{_suspend_url(entitlement)}"' in edit.content.decode()
    assert f'action="{_suspend_url(entitlement)}"' not in edit.content.decode()

    response = staff_client.get(_suspend_url(entitlement))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Suspend Design Studio for Acme Corp?" in html
    assert "Activations will be refused until you resume it." in html
    assert f'<form method="post" action="{_suspend_url(entitlement)}"' in html
    assert ">Suspend Design Studio</button>" in html
    assert f'href="{reverse("team:entitlement_edit", args=[entitlement.pk])}"' in html  # Cancel
    entitlement.refresh_from_db()
    assert entitlement.status == Entitlement.Status.ACTIVE


def test_confirming_suspends(staff_client: Client, entitlement: Entitlement) -> None:
    response = staff_client.post(_suspend_url(entitlement))

    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.status == Entitlement.Status.SUSPENDED


def test_suspending_a_suspended_entitlement_asks_nothing(
    staff_client: Client, entitlement: Entitlement
) -> None:
    staff_client.post(_suspend_url(entitlement))

    response = staff_client.get(_suspend_url(entitlement))

    assert response.status_code == 302
    assert response["Location"] == reverse("team:entitlement_edit", args=[entitlement.pk])


def test_release_button_leads_to_a_confirmation_page(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    make_seats(entitlement, 30)
    client = login(customer_admin)
    detail = reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])
    response = client.get(f"{detail}?page=2")
    seat = response.context["seats"][0]  # on page 2 of the seats
    page = response.content.decode()
    assert f'href="{_release_url(entitlement, seat)}?page=2"' in page
    assert f'action="{_release_url(entitlement, seat)}"' not in page

    response = client.get(f"{_release_url(entitlement, seat)}?page=2")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Release the seat held by {seat.fingerprint}?" in html
    assert f'<form method="post" action="{_release_url(entitlement, seat)}"' in html
    assert '<input type="hidden" name="page" value="2">' in html
    assert f'href="{detail}?page=2#seats"' in html  # Cancel goes back where the click was
    seat.refresh_from_db()
    assert seat.released_at is None


def test_confirming_releases_the_seat(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    seat = make_seats(entitlement, 1)[0]

    response = login(customer_admin).post(_release_url(entitlement, seat), {"page": "1"})

    assert response.status_code == 302
    seat.refresh_from_db()
    assert seat.released_at is not None


def test_asking_to_release_a_released_seat_goes_back_with_a_note(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    seat = make_seats(entitlement, 1)[0]
    client = login(customer_admin)
    client.post(_release_url(entitlement, seat))

    response = client.get(_release_url(entitlement, seat), follow=True)

    assert response.redirect_chain[-1][0].endswith("#seats")
    assert f"The seat held by {seat.fingerprint} was already released." in (
        response.content.decode()
    )


def test_viewers_and_outsiders_cannot_see_the_release_question(
    login: Callable[[User], Client],
    viewer: User,
    outsider: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    seat = make_seats(entitlement, 1)[0]
    for user in (viewer, outsider):
        assert login(user).get(_release_url(entitlement, seat)).status_code == 404
