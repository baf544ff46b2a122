"""Pages never count a floating seat whose lease ran out as in use (issue 15)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from licensing.models import Entitlement, Event, Seat, UsageBucket
from portal.models import User
from tests.conftest import lapse


@pytest.fixture
def lapsed(make_entitlement: Callable[..., Entitlement], frozen: Any) -> Entitlement:
    """A floating 2/3 entitlement that was at its hard limit with overdraft hours behind it;
    the leases of two of its three seats ran out a second ago (`f-0` renewed its own)."""
    entitlement = make_entitlement(seats=2, hard_limit=3, lease_seconds=60)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    UsageBucket.objects.bulk_create(  # overdraft in the hours before: an expansion lead
        UsageBucket(entitlement=entitlement, hour=hour - timedelta(hours=n), peak_used=3)
        for n in range(2, 6)
    )
    return lapse(entitlement, frozen)


def _expired() -> list[str]:
    return sorted(
        event.data["fingerprint"] for event in Event.objects.filter(type=Event.Type.SEAT_EXPIRED)
    )


def test_dashboard_counts_only_seats_whose_lease_runs(
    client: Client, customer_admin: User, lapsed: Entitlement
) -> None:
    client.force_login(customer_admin)

    response = client.get(reverse("customer:dashboard", args=[lapsed.customer.slug]))

    assert response.status_code == 200
    [(_, gauge)] = response.context["cards"]
    assert (gauge.used, gauge.zone) == (1, "within")
    assert "At hard limit" not in response.content.decode()
    assert _expired() == ["f-1", "f-2"]


def test_entitlement_page_counts_and_lists_only_seats_whose_lease_runs(
    client: Client, customer_admin: User, lapsed: Entitlement
) -> None:
    client.force_login(customer_admin)

    response = client.get(reverse("customer:entitlement", args=[lapsed.customer.slug, lapsed.pk]))

    assert response.status_code == 200
    gauge = response.context["gauge"]
    assert (gauge.used, gauge.zone) == (1, "within")
    assert [seat.fingerprint for seat in response.context["seats"]] == ["f-0"]
    assert _expired() == ["f-1", "f-2"]


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def test_team_customers_list_counts_only_seats_whose_lease_runs(
    staff_client: Client, lapsed: Entitlement
) -> None:
    response = staff_client.get(reverse("team:customers") + "?sort=-zone")

    assert response.status_code == 200
    acme = next(c for c in response.context["page"] if c.pk == lapsed.customer_id)
    assert (acme.seats_used_total, acme.zone) == (1, "within")


def test_team_customer_page_counts_only_seats_whose_lease_runs(
    staff_client: Client, lapsed: Entitlement
) -> None:
    response = staff_client.get(reverse("team:customer", args=[lapsed.customer.slug]))

    assert response.status_code == 200
    assert [e.seats_used for e in response.context["entitlements"]] == [1]


def test_team_entitlement_page_counts_only_seats_whose_lease_runs(
    staff_client: Client, lapsed: Entitlement
) -> None:
    response = staff_client.get(reverse("team:entitlement_edit", args=[lapsed.pk]))

    assert response.status_code == 200
    assert response.context["entitlement"].seats_used == 1
    assert "1 seats in use" in response.content.decode()


def test_leads_count_only_seats_whose_lease_runs(staff_client: Client, lapsed: Entitlement) -> None:
    response = staff_client.get(reverse("team:leads"))

    assert response.status_code == 200
    [lead] = response.context["leads"]
    assert lead.seats_used == 1  # the overdraft history still makes it a lead


def test_admin_entitlement_list_counts_only_seats_whose_lease_runs(
    client: Client, lapsed: Entitlement
) -> None:
    client.force_login(User.objects.create_superuser("root@vendor.test", "x", name="Root"))

    response = client.get(reverse("admin:licensing_entitlement_changelist"))

    assert response.status_code == 200
    [row] = response.context["cl"].result_list
    assert row.seats_used == 1


def test_releasing_a_seat_whose_lease_ran_out_says_it_was_released(
    client: Client, customer_admin: User, lapsed: Entitlement
) -> None:
    client.force_login(customer_admin)
    seat = Seat.objects.get(fingerprint="f-1")
    url = reverse("customer:seat_release", args=[lapsed.customer.slug, lapsed.pk, seat.pk])

    response = client.get(url, follow=True)

    assert "was already released" in response.content.decode()
    seat.refresh_from_db()
    assert seat.release_reason == Seat.ReleaseReason.EXPIRED
