"""Query counts of the customer pages do not grow with seats, entitlements or buckets."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from licensing import services
from licensing.models import Customer, Entitlement, Seat
from portal.models import User

pytestmark = pytest.mark.django_db


def count_queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def small_and_large(
    customer: Customer,
    other_customer: Customer,
    make_entitlement: Callable[..., Entitlement],
    make_seats: Callable[..., list[Seat]],
    make_history: Callable[..., Any],
    make_denials: Callable[..., Any],
) -> tuple[Entitlement, Entitlement]:
    small = make_entitlement(customer=other_customer)
    make_seats(small, 1)
    make_history(small, hours=24, every=6)
    large = make_entitlement()
    make_seats(large, 40)
    make_history(large, hours=24 * 365)
    make_denials(large, 30)
    for n in range(5):
        make_entitlement(product=services.product_create(name=f"Product {n}"))
    return small, large


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("page", ["entitlement", "usage_csv"])
@pytest.mark.parametrize("range_key", ["7d", "1y"])
def test_entitlement_page_and_csv_queries_are_constant(
    django_assert_num_queries: Any,
    small_and_large: tuple[Entitlement, Entitlement],
    page: str,
    range_key: str,
) -> None:
    small, large = small_and_large
    admin_small = User.objects.create_user("a@small.test")
    admin_large = User.objects.create_user("a@large.test")
    small.customer.memberships.create(user=admin_small, role="admin")
    large.customer.memberships.create(user=admin_large, role="admin")

    def url(e: Entitlement) -> str:
        return reverse(f"customer:{page}", args=[e.customer.slug, e.pk]) + f"?range={range_key}"

    small_client, large_client = client_for(admin_small), client_for(admin_large)
    small_client.get(url(small))  # warm the session
    large_client.get(url(large))
    expected = count_queries(small_client, url(small))

    with django_assert_num_queries(expected):
        response = large_client.get(url(large))
    assert response.status_code == 200


def test_dashboard_queries_are_constant(
    django_assert_num_queries: Any, small_and_large: tuple[Entitlement, Entitlement]
) -> None:
    small, large = small_and_large
    admin_small = User.objects.create_user("a@small.test")
    admin_large = User.objects.create_user("a@large.test")
    small.customer.memberships.create(user=admin_small, role="admin")
    large.customer.memberships.create(user=admin_large, role="admin")
    small_client, large_client = client_for(admin_small), client_for(admin_large)
    small_url = reverse("customer:dashboard", args=[small.customer.slug])
    large_url = reverse("customer:dashboard", args=[large.customer.slug])
    small_client.get(small_url)
    large_client.get(large_url)
    expected = count_queries(small_client, small_url)

    with django_assert_num_queries(expected):
        response = large_client.get(large_url)
    assert len(response.context["cards"]) == 6


def test_usage_series_is_four_queries(
    django_assert_num_queries: Any, small_and_large: tuple[Entitlement, Entitlement]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from licensing import selectors

    _, large = small_and_large
    now = timezone.now()
    # The terms, the level before, the rolled-up days (none here), the hourly rows.
    with django_assert_num_queries(4):
        points = selectors.usage_series(
            large, start=now - timedelta(days=365), end=now, bucket="day"
        )
    assert len(points) == 365
