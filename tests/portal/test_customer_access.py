"""Every customer page against every persona: outsiders and anonymous users never see it."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from licensing import billing, services
from licensing.models import Entitlement, Seat
from portal.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(entitlement: Entitlement, make_seats: Callable[..., list[Seat]]) -> dict[str, str]:
    seat = make_seats(entitlement, 1)[0]
    threshold = services.threshold_add(
        entitlement=entitlement, audience="customer", kind="percent", percent=80
    )
    slug, pk = entitlement.customer.slug, entitlement.pk
    # Statements need a billing period that closed: an entitlement that started earlier.
    billed = services.entitlement_create(
        customer=entitlement.customer,
        product=entitlement.product,
        seats=5,
        hard_limit=6,
        starts_at=timezone.now() - timedelta(days=40),
    )
    statement = services.statement_issue(entitlement=billed, period=billing.first_period(billed))
    on_billed, of_statement = [slug, billed.pk], [slug, billed.pk, statement.pk]
    return {
        "dashboard": reverse("customer:dashboard", args=[slug]),
        "entitlement": reverse("customer:entitlement", args=[slug, pk]),
        "usage_csv": reverse("customer:usage_csv", args=[slug, pk]),
        "seat_release": reverse("customer:seat_release", args=[slug, pk, seat.pk]),
        "customer_cap": reverse("customer:customer_cap", args=[slug, pk]),
        "license_key_rotate": reverse("customer:license_key_rotate", args=[slug, pk]),
        "request_seats": reverse("customer:request_seats", args=[slug, pk]),
        "alert_add": reverse("customer:alert_add", args=[slug, pk]),
        "alert_remove": reverse("customer:alert_remove", args=[slug, pk, threshold.pk]),
        "alert_subscribe": reverse("customer:alert_subscribe", args=[slug, pk]),
        "notifications": reverse("customer:notifications", args=[slug]),
        "sso": reverse("customer:sso", args=[slug]),
        "sso_enforce": reverse("customer:sso_enforce", args=[slug]),
        "sso_remove": reverse("customer:sso_remove", args=[slug]),
        "statements": reverse("customer:statements", args=on_billed),
        "statement_provisional": reverse("customer:statement_provisional", args=on_billed),
        "statement_provisional_pdf": reverse("customer:statement_provisional_pdf", args=on_billed),
        "statement_provisional_csv": reverse("customer:statement_provisional_csv", args=on_billed),
        "statement_provisional_json": reverse(
            "customer:statement_provisional_json", args=on_billed
        ),
        "statement": reverse("customer:statement", args=of_statement),
        "statement_pdf": reverse("customer:statement_pdf", args=of_statement),
        "statement_csv": reverse("customer:statement_csv", args=of_statement),
        "statement_json": reverse("customer:statement_json", args=of_statement),
    }


def test_every_customer_route_is_covered(urls: dict[str, str]) -> None:
    from portal import customer_urls

    assert {p.name for p in customer_urls.urlpatterns} == set(urls)


STATEMENT_ROUTES = [
    "statements",
    "statement_provisional",
    "statement_provisional_pdf",
    "statement_provisional_csv",
    "statement_provisional_json",
    "statement",
    "statement_pdf",
    "statement_csv",
    "statement_json",
]
POSTED = {
    "seat_release",
    "customer_cap",
    "license_key_rotate",
    "request_seats",
    "alert_add",
    "alert_remove",
    "alert_subscribe",
    "sso_enforce",
    "sso_remove",
}
ROUTES = [
    "dashboard",
    "entitlement",
    "usage_csv",
    "seat_release",
    "customer_cap",
    "license_key_rotate",
    "request_seats",
    "alert_add",
    "alert_remove",
    "alert_subscribe",
    "notifications",
    "sso",
    "sso_enforce",
    "sso_remove",
    *STATEMENT_ROUTES,
]


@pytest.mark.parametrize("name", ROUTES)
def test_outsider_gets_404(
    login: Callable[[User], Client], outsider: User, urls: dict[str, str], name: str
) -> None:
    client = login(outsider)
    method = client.post if name in POSTED else client.get

    assert method(urls[name]).status_code == 404


@pytest.mark.parametrize("name", ROUTES)
def test_anonymous_is_sent_to_login(client: Client, urls: dict[str, str], name: str) -> None:
    method: Any = client.post if name in POSTED else client.get

    response = method(urls[name])

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_entitlement_under_another_customers_slug_is_not_found(
    login: Callable[[User], Client],
    outsider: User,
    entitlement: Entitlement,
) -> None:
    # The outsider's own slug with Acme's entitlement id.
    url = reverse("customer:entitlement", args=["globex", entitlement.pk])

    assert login(outsider).get(url).status_code == 404


def test_unknown_customer_is_not_found(login: Callable[[User], Client], viewer: User) -> None:
    assert login(viewer).get(reverse("customer:dashboard", args=["nope"])).status_code == 404


@pytest.mark.parametrize("name", ["dashboard", "entitlement", "usage_csv", *STATEMENT_ROUTES])
def test_viewer_and_staff_may_read(
    login: Callable[[User], Client],
    viewer: User,
    account_manager: User,
    urls: dict[str, str],
    name: str,
) -> None:
    assert login(viewer).get(urls[name]).status_code == 200
    assert login(account_manager).get(urls[name]).status_code == 200
