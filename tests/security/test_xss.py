"""XSS: what software clients send (fingerprints, labels) and what people type (names) is
escaped wherever it is shown, chart data travels in `json_script` blocks, and the
Content-Security-Policy forbids inline script anyway."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Customer, Entitlement
from portal.models import User

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(2)</script>",
    "'><svg/onload=alert(3)>",
]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)


@pytest.fixture
def poisoned(
    make_entitlement: Callable[..., Entitlement], customer: Customer, vendor: APIClient
) -> Entitlement:
    """Seats and denials whose fingerprints and labels are markup, as a client could send."""
    entitlement = make_entitlement(seats=2, hard_limit=len(PAYLOADS))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    seat_ids = []
    for payload in PAYLOADS:
        response = client.post(
            "/api/v1/activations", {"fingerprint": payload, "label": payload}, format="json"
        )
        assert response.status_code == 201, response.json()
        assert response.json()["fingerprint"] == payload  # stored as sent, escaped on output
        seat_ids.append(response.json()["id"])
    for payload in PAYLOADS:
        denied = client.post(
            "/api/v1/activations",
            {"fingerprint": payload + " (denied)", "label": payload},
            format="json",
        )
        assert denied.status_code == 409
    # A revoke writes an audit entry whose label carries the fingerprint.
    vendor.post(f"/api/v1/entitlements/{entitlement.pk}/seats/{seat_ids[0]}/revoke")
    return entitlement


def _pages(entitlement: Entitlement) -> list[str]:
    slug = entitlement.customer.slug
    return [
        f"/c/{slug}/",
        f"/c/{slug}/entitlements/{entitlement.pk}/",
        f"/c/{slug}/entitlements/{entitlement.pk}/?range=7d",
        f"/team/customers/{slug}/",
        "/team/customers/",
        "/team/events/",
        "/team/audit/",
        "/team/leads/",
    ]


def _assert_no_raw_markup(body: str, where: str) -> None:
    for payload in PAYLOADS:
        assert payload not in body, f"{where} shows {payload!r} unescaped"
    # As text (`&lt;img ... onerror=...`) they are harmless; as tags they would run.
    for tag in ("<script>alert", "<img src=x", "<svg/onload"):
        assert tag not in body, f"{where} contains the tag {tag!r}"


def test_fingerprints_and_labels_are_escaped_on_every_page(
    poisoned: Entitlement, account_manager: User
) -> None:
    client = Client()
    client.force_login(account_manager)
    for path in _pages(poisoned):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_no_raw_markup(response.content.decode(), path)

    detail = client.get(_pages(poisoned)[1]).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail  # shown, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (denied)" in detail  # the denials too
    events = client.get("/team/events/").content.decode()
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in events


def test_customer_admins_see_escaped_markup_too(
    poisoned: Entitlement, customer_admin: User
) -> None:
    client = Client()
    client.force_login(customer_admin)
    path = f"/c/{poisoned.customer.slug}/entitlements/{poisoned.pk}/"
    _assert_no_raw_markup(client.get(path).content.decode(), path)


def test_names_typed_by_people_are_escaped(account_manager: User, product: Any) -> None:
    customer = services.customer_create(
        name=PAYLOADS[1],
        account_manager=account_manager,
        actor=services.Actor.of(account_manager),
    )
    services.entitlement_create(customer=customer, product=product, seats=1, hard_limit=1)
    client = Client()
    client.force_login(account_manager)
    for path in ("/team/customers/", f"/team/customers/{customer.slug}/", "/team/audit/"):
        _assert_no_raw_markup(client.get(path).content.decode(), path)


def test_csv_has_no_markup(poisoned: Entitlement, customer_admin: User) -> None:
    client = Client()
    client.force_login(customer_admin)
    response = client.get(f"/c/{poisoned.customer.slug}/entitlements/{poisoned.pk}/usage.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    _assert_no_raw_markup(response.content.decode(), "usage.csv")


def test_chart_data_is_a_json_script_block_without_markup(
    poisoned: Entitlement, customer_admin: User
) -> None:
    client = Client()
    client.force_login(customer_admin)
    body = client.get(f"/c/{poisoned.customer.slug}/entitlements/{poisoned.pk}/").content.decode()
    blocks = [
        content
        for attrs, content in SCRIPT_TAG.findall(body)
        if 'id="usage-data"' in attrs and 'type="application/json"' in attrs
    ]
    assert len(blocks) == 1
    assert "<" not in blocks[0] and ">" not in blocks[0]  # json_script escapes them


def test_pages_have_no_inline_script_and_the_csp_forbids_it(
    poisoned: Entitlement, account_manager: User
) -> None:
    client = Client()
    client.force_login(account_manager)
    for path in [*_pages(poisoned), "/accounts/login/", "/team/tokens/"]:
        response = client.get(path)
        csp = response["Content-Security-Policy"]
        directives = dict(
            ([*part.split(" ", 1), ""])[:2] for part in (d.strip() for d in csp.split(";"))
        )
        assert directives["script-src"] == "'self'", path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        for attrs, content in SCRIPT_TAG.findall(response.content.decode()):
            inline = content.strip() and 'type="application/json"' not in attrs
            assert not inline, f"{path}: inline script {content[:60]!r}"
