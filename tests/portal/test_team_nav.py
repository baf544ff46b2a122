"""The account team's navigation reaches every team page, API tokens and vendor-wide webhooks
included, and marks the page you are on; customers never see it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from licensing.models import Customer
from portal.models import User
from webhooks.models import WebhookEndpoint

TEAM_NAV = re.compile(r'<nav class="team-nav".*?</nav>', re.DOTALL)
TOKENS = '<a href="/team/tokens/"'
WEBHOOKS = '<a href="/team/webhooks/"'


def _team_nav(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    navs = TEAM_NAV.findall(response.content.decode())
    assert len(navs) == 1, url
    return str(navs[0])


def _current(nav: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page"', nav)


@pytest.fixture
def endpoint(db: None) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(url="https://hooks.example.com/portal")


@pytest.mark.parametrize(
    "url",
    [
        "/team/customers/",
        "/team/customers/acme-corp/",
        "/team/leads/",
        "/team/events/",
        "/team/audit/",
        "/team/tokens/",
        "/team/webhooks/",
        "/team/webhooks/new/",
    ],
)
def test_every_team_page_links_to_tokens_and_webhooks(
    url: str, login: Callable[[User], Client], account_manager: User, customer: Customer
) -> None:
    nav = _team_nav(login(account_manager), url)

    assert TOKENS in nav
    assert WEBHOOKS in nav


def test_the_tokens_page_is_marked_current(
    login: Callable[[User], Client], account_manager: User
) -> None:
    nav = _team_nav(login(account_manager), "/team/tokens/")
    assert _current(nav) == ["/team/tokens/"]


def test_the_webhook_pages_are_marked_current(
    login: Callable[[User], Client], account_manager: User, endpoint: WebhookEndpoint
) -> None:
    client = login(account_manager)
    for url in ["/team/webhooks/", f"/team/webhooks/{endpoint.pk}/"]:
        assert _current(_team_nav(client, url)) == ["/team/webhooks/"], url


@pytest.mark.parametrize(
    "url", ["/c/acme-corp/", "/c/acme-corp/webhooks/", "/c/acme-corp/webhooks/new/"]
)
def test_customers_see_no_team_navigation(
    url: str, login: Callable[[User], Client], customer_admin: User
) -> None:
    response = login(customer_admin).get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert "team-nav" not in body
    assert TOKENS not in body
    assert WEBHOOKS not in body


def test_a_customers_webhooks_stay_under_the_customer_even_for_staff(
    login: Callable[[User], Client], account_manager: User, customer: Customer
) -> None:
    response = login(account_manager).get("/c/acme-corp/webhooks/")

    assert response.status_code == 200
    assert "team-nav" not in response.content.decode()
