"""Vendor API: requests for more seats, listed, read, granted and declined."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from licensing import services
from licensing.models import AuditEntry, Entitlement, ExpansionRequest
from portal.models import User

pytestmark = pytest.mark.django_db

API = "/api/v1/expansion-requests"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def expansion(entitlement: Entitlement, customer_admin: User) -> ExpansionRequest:
    return services.expansion_request(
        entitlement=entitlement,
        seats=130,
        message="Month-end peaks.",
        actor=services.Actor.of(customer_admin),
    )


def _body(request: ExpansionRequest, entitlement: Entitlement, **changes: Any) -> dict[str, Any]:
    return {
        "id": str(request.pk),
        "entitlement": str(entitlement.pk),
        "customer": {
            "id": str(entitlement.customer.pk),
            "name": "Acme Corp",
            "slug": "acme-corp",
        },
        "product": {
            "id": str(entitlement.product.pk),
            "name": "Design Studio",
            "code": "design-studio",
        },
        "seats": 130,
        "hard_limit": 150,
        "message": "Month-end peaks.",
        "status": "open",
        "requested_by": "admin@acme.test",
        "created_at": request.created_at.isoformat().replace("+00:00", "Z"),
        "resolved_by": None,
        "resolved_at": None,
        "resolution_note": "",
        **changes,
    }


def test_list_open_requests(
    vendor: APIClient, expansion: ExpansionRequest, entitlement: Entitlement
) -> None:
    response = vendor.get(API, {"status": "open"})

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [_body(expansion, entitlement)],
    }


def test_list_filters_by_status(vendor: APIClient, expansion: ExpansionRequest) -> None:
    services.expansion_decline(request=expansion)

    assert vendor.get(API, {"status": "open"}).json()["count"] == 0
    assert vendor.get(API, {"status": "declined"}).json()["count"] == 1
    assert vendor.get(API).json()["count"] == 1


def test_list_refuses_an_unknown_status(vendor: APIClient) -> None:
    response = vendor.get(API, {"status": "pending"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert list(response.json()["errors"]) == ["status"]


def test_get_one(vendor: APIClient, expansion: ExpansionRequest, entitlement: Entitlement) -> None:
    response = vendor.get(f"{API}/{expansion.pk}")

    assert response.status_code == 200
    assert response.json() == _body(expansion, entitlement)


def test_unknown_ids_are_404(vendor: APIClient) -> None:
    assert vendor.get(f"{API}/{MISSING}").status_code == 404
    assert vendor.post(f"{API}/{MISSING}/grant", {}, format="json").status_code == 404
    assert vendor.post(f"{API}/{MISSING}/decline", {}, format="json").status_code == 404


def test_grant(
    vendor: APIClient,
    expansion: ExpansionRequest,
    entitlement: Entitlement,
    account_manager: User,
) -> None:
    response = vendor.post(f"{API}/{expansion.pk}/grant", {"note": "Enjoy."}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
        "granted",
        "am@vendor.test",
        "Enjoy.",
    )
    assert body["resolved_at"] is not None
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (130, 150)
    audit = AuditEntry.objects.get(action=AuditEntry.Action.EXPANSION_GRANTED)
    assert audit.actor == account_manager
    assert audit.actor_label.startswith("token ")


def test_grant_without_a_body(vendor: APIClient, expansion: ExpansionRequest) -> None:
    response = vendor.post(f"{API}/{expansion.pk}/grant")

    assert response.status_code == 200
    assert response.json()["status"] == "granted"


def test_decline(vendor: APIClient, expansion: ExpansionRequest, entitlement: Entitlement) -> None:
    response = vendor.post(
        f"{API}/{expansion.pk}/decline", {"note": "Renewal is next month."}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["resolution_note"]) == (
        "declined",
        "Renewal is next month.",
    )
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)


def test_answering_twice_is_a_400(vendor: APIClient, expansion: ExpansionRequest) -> None:
    vendor.post(f"{API}/{expansion.pk}/decline", {}, format="json")

    response = vendor.post(f"{API}/{expansion.pk}/grant", {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["This request was declined already."]}


def test_grant_refused_by_the_rules_is_a_400(
    vendor: APIClient, expansion: ExpansionRequest, entitlement: Entitlement
) -> None:
    services.entitlement_update(entitlement=entitlement, seats=140, hard_limit=160)

    response = vendor.post(f"{API}/{expansion.pk}/grant", {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "seats": ["The entitlement has 140 seats already: ask for more than 140."]
    }
    expansion.refresh_from_db()
    assert expansion.status == "open"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"note": "n" * 1001}, {"note": ["Ensure this field has no more than 1000 characters."]}),
        ({"note": 5}, {"note": ["Not a valid string."]}),
        ({"reason": "x"}, {"reason": ["Unknown field."]}),
    ],
)
def test_bad_bodies_are_a_400_and_change_nothing(
    vendor: APIClient, expansion: ExpansionRequest, body: dict[str, Any], errors: dict
) -> None:
    response = vendor.post(f"{API}/{expansion.pk}/decline", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    expansion.refresh_from_db()
    assert expansion.status == "open"


def test_read_only_tokens_may_read_but_not_answer(
    vendor_ro: APIClient, expansion: ExpansionRequest
) -> None:
    assert vendor_ro.get(f"{API}/{expansion.pk}").status_code == 200
    response = vendor_ro.post(f"{API}/{expansion.pk}/grant", {}, format="json")

    assert response.status_code == 403
    expansion.refresh_from_db()
    assert expansion.status == "open"


def test_customer_tokens_do_not_work(
    customer_admin_token: str, expansion: ExpansionRequest
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_admin_token}")

    assert client.get(API).status_code == 401
    assert client.post(f"{API}/{expansion.pk}/grant", {}, format="json").status_code == 401
