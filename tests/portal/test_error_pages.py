"""Refusals read like the rest of the product: a 403 or a failed CSRF check is a styled page
saying what happened, with a way back (the page you came from, if it was ours), and JSON under
/api/. No inline style or script, which our own Content-Security-Policy would block."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from licensing.models import Entitlement, Seat
from portal import views
from portal.models import User
from tests.conftest import PASSWORD

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STALE_FORM = "This form was open too long or you logged in again elsewhere"


def _token(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    match = TOKEN.search(response.content.decode())
    assert match, url
    return match.group(1)


def _log_in(client: Client, email: str) -> None:
    token = _token(client, "/accounts/login/")
    response = client.post(
        "/accounts/login/", {"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def _assert_styled(body: str) -> None:
    assert "/static/css/portal.css" in body  # the product's layout (base.html)
    assert 'class="topbar"' in body
    assert "<style" not in body and "style=" not in body
    assert "<script" not in body


def test_a_stale_tab_release_is_refused_with_a_styled_page_and_a_way_back(
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    (seat,) = make_seats(entitlement, 1)
    page = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/seats/{seat.pk}/release"
    browser = Client(enforce_csrf_checks=True)
    _log_in(browser, customer_admin.email)
    stale_token = _token(browser, page)  # the tab left open on "Release this seat?"

    # In another tab: log out and in again, which gives the browser a new CSRF cookie.
    logout_token = _token(browser, "/accounts/logout/")
    browser.post("/accounts/logout/", {"csrfmiddlewaretoken": logout_token})
    _log_in(browser, customer_admin.email)

    response = browser.post(
        page,
        {"csrfmiddlewaretoken": stale_token},
        HTTP_REFERER=f"http://testserver{page}",
    )

    assert response.status_code == 403
    body = response.content.decode()
    _assert_styled(body)
    assert STALE_FORM in body
    assert "reload" in body
    assert f'<a href="http://testserver{page}">' in body
    assert response["Content-Security-Policy"]
    seat.refresh_from_db()
    assert seat.released_at is None


def test_a_csrf_failure_from_another_site_links_home_not_back(db: Any) -> None:
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/",
        {"login": "someone@example.com", "password": "x"},
        HTTP_REFERER="https://evil.example/phish",
    )

    assert response.status_code == 403
    body = response.content.decode()
    _assert_styled(body)
    assert STALE_FORM in body
    assert "evil.example" not in body
    assert '<a href="/">' in body


def test_a_permission_denied_is_a_styled_403_with_a_way_back(
    client: Client, account_manager: User
) -> None:
    # Staff without the admin's model permissions: the admin raises PermissionDenied.
    assert not account_manager.is_superuser
    client.force_login(account_manager)
    response = client.get("/admin/licensing/customer/", HTTP_REFERER="http://testserver/team/")

    assert response.status_code == 403
    body = response.content.decode()
    _assert_styled(body)
    assert "not allowed" in body
    assert '<a href="http://testserver/team/">' in body


@pytest.mark.parametrize(
    ("view", "code"),
    [
        (lambda request: views.permission_denied(request, PermissionDenied()), "permission_denied"),
        (lambda request: views.csrf_failure(request, reason="CSRF token missing."), "csrf_failed"),
    ],
)
def test_api_paths_get_json(view: Callable[[Any], Any], code: str) -> None:
    request = RequestFactory().post("/api/v1/entitlements/x/suspend")
    response = view(request)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["code"] == code
    assert body["message"]
