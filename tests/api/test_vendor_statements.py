"""Vendor API: an entitlement's signed statements, one statement, and the provisional one of
the period so far; each document verifies against the published keys as served."""

import io
import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from django.utils import timezone
from rest_framework.test import APIClient

from licensing import billing, services, signing
from licensing.models import Entitlement, Statement

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def january(billed: Entitlement) -> Statement:
    return Statement.objects.get(entitlement=billed)


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_list_gives_each_statement_with_its_signed_document(
    vendor: APIClient, billed: Entitlement, january: Statement, client: Any
) -> None:
    response = vendor.get(f"/api/v1/entitlements/{billed.pk}/statements")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (item,) = body["results"]
    assert item == {
        "id": str(january.pk),
        "entitlement": str(billed.pk),
        "period_start": "2026-01-01T00:00:00Z",
        "period_end": "2026-02-01T00:00:00Z",
        "label": "Jan 2026",
        "issued_at": _iso(january.issued_at),
        "kid": january.kid,
        "overdraft_seat_hours": 7,
        "billable_overdraft_seat_hours": 2,
        "document": json.loads(january.document),
    }
    # What a client holds checks out against the JWKS as served, offline.
    keyset = client.get("/.well-known/jwks.json").json()
    payload = signing.verify(json.dumps(item["document"]), keyset)
    assert payload["figures"]["billable_overdraft_seat_hours"] == 2


def test_statements_are_listed_newest_first_and_paginated(
    vendor: APIClient, billed: Entitlement, time_machine: Any
) -> None:
    time_machine.move_to("2026-05-01T01:00:00+00:00", tick=False)
    assert services.statements_issue_due() == 3

    first = vendor.get(f"/api/v1/entitlements/{billed.pk}/statements", {"limit": 2}).json()
    rest = vendor.get(first["next"]).json()

    labels = [s["label"] for s in first["results"]] + [s["label"] for s in rest["results"]]
    assert labels == ["Apr 2026", "Mar 2026", "Feb 2026", "Jan 2026"]
    assert first["count"] == 4 and rest["next"] is None


def test_one_statement(vendor: APIClient, vendor_ro: APIClient, january: Statement) -> None:
    for client in (vendor, vendor_ro):  # a read: read-only tokens too
        response = client.get(f"/api/v1/statements/{january.pk}")
        assert response.status_code == 200
        assert response.json()["document"]["signature"]["kid"] == january.kid
    assert vendor.get(f"/api/v1/statements/{MISSING}").status_code == 404


def test_the_provisional_statement_is_signed_and_not_stored(
    vendor: APIClient, billed: Entitlement
) -> None:
    response = vendor.get(f"/api/v1/entitlements/{billed.pk}/statements/provisional")

    assert response.status_code == 200
    document = response.json()
    assert set(document) == {"payload", "signature"}
    payload = signing.verify(json.dumps(document), signing.jwks())
    assert payload["provisional"] is True
    assert payload["as_of"] == "2026-02-10T12:00:00+00:00"
    assert payload["period"]["label"] == "Feb 2026"
    assert payload["figures"]["overdraft_seat_hours"] == 2
    assert Statement.objects.count() == 1


def test_unknown_entitlements_are_not_found(vendor: APIClient) -> None:
    for path in (
        f"/api/v1/entitlements/{MISSING}/statements",
        f"/api/v1/entitlements/{MISSING}/statements/provisional",
    ):
        response = vendor.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_no_provisional_statement_before_the_entitlement_starts(
    vendor: APIClient, make_entitlement: Any
) -> None:
    later = make_entitlement(starts_at=timezone.now() + timedelta(days=3))
    response = vendor.get(f"/api/v1/entitlements/{later.pk}/statements/provisional")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    listed = vendor.get(f"/api/v1/entitlements/{later.pk}/statements").json()
    assert listed["count"] == 0 and listed["results"] == []


def test_statements_are_read_only(vendor: APIClient, january: Statement) -> None:
    paths = [
        f"/api/v1/statements/{january.pk}",
        f"/api/v1/entitlements/{january.entitlement_id}/statements",
        f"/api/v1/entitlements/{january.entitlement_id}/statements/provisional",
    ]
    for path in paths:
        for method in (vendor.post, vendor.patch, vendor.delete):
            assert method(path, {}, format="json").status_code == 405
    assert Statement.objects.get().document == january.document


def test_entitlements_take_their_billing_terms(
    vendor: APIClient, customer: Any, product: Any
) -> None:
    created = vendor.post(
        "/api/v1/entitlements",
        {
            "customer": str(customer.pk),
            "product": str(product.pk),
            "seats": 10,
            "hard_limit": 12,
            "billing_period": "quarterly",
            "free_overdraft_seat_hours": 40,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["billing_period"], body["free_overdraft_seat_hours"]) == ("quarterly", 40)

    url = f"/api/v1/entitlements/{body['id']}"
    changed = vendor.patch(url, {"free_overdraft_seat_hours": 0}, format="json")
    assert changed.status_code == 200
    assert changed.json()["free_overdraft_seat_hours"] == 0
    entitlement = Entitlement.objects.get(pk=body["id"])
    assert (entitlement.billing_period, entitlement.free_overdraft_seat_hours) == ("quarterly", 0)

    refused = vendor.patch(
        url, {"billing_period": "weekly", "free_overdraft_seat_hours": -1}, format="json"
    )
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"billing_period", "free_overdraft_seat_hours"}


def test_a_new_entitlement_is_billed_monthly_with_nothing_free(
    vendor: APIClient, customer: Any, product: Any
) -> None:
    body = vendor.post(
        "/api/v1/entitlements",
        {"customer": str(customer.pk), "product": str(product.pk), "seats": 5, "hard_limit": 5},
        format="json",
    ).json()
    assert (body["billing_period"], body["free_overdraft_seat_hours"]) == ("monthly", 0)


def test_the_api_guides_ten_line_verifier_checks_a_statement(
    vendor: APIClient,
    make_entitlement: Any,
    customer: Any,
    client: Any,
    tmp_path: Any,
    monkeypatch: Any,
    capsys: Any,
) -> None:
    """docs/api.md's Python, run as written (its URL answered by the portal's JWKS), on a
    statement of a customer with a name JSON would escape: canonical JSON does not."""
    customer.name = "Zürich Ærøskøbing AG"
    customer.save()
    entitlement = make_entitlement(starts_at=timezone.now() - timedelta(days=40))
    statement = services.statement_issue(
        entitlement=entitlement, period=billing.first_period(entitlement)
    )
    guide = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    section = guide[guide.index("### Verify a statement offline") :]
    code = section[section.index("```python\n") + 10 : section.index("\n```\n")]
    assert len([line for line in code.splitlines() if line.strip()]) <= 11
    item = vendor.get(f"/api/v1/statements/{statement.pk}").json()
    (tmp_path / "statement.json").write_text(json.dumps(item["document"]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    jwks = client.get("/.well-known/jwks.json").content
    monkeypatch.setattr(urllib.request, "urlopen", lambda url: io.BytesIO(jwks))

    exec(code, {})  # raises InvalidSignature if the guide's logic is wrong

    assert capsys.readouterr().out.startswith(
        f"verified: {statement.signed['payload']['period']['label']}"
    )
    tampered = json.loads(statement.document)
    tampered["payload"]["figures"]["peak"] += 1
    (tmp_path / "statement.json").write_text(json.dumps(tampered), encoding="utf-8")
    with pytest.raises(InvalidSignature):
        exec(code, {})
