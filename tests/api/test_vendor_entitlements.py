"""Entitlements: create, filter, order, change limits, suspend and resume through the services."""

import uuid
from datetime import timedelta

import pytest

from licensing import services
from licensing.models import AuditEntry, Entitlement, Event

pytestmark = pytest.mark.django_db


def _take(entitlement, n):
    for i in range(n):
        services.seat_activate(entitlement=entitlement, fingerprint=f"m-{i}")


def test_create_entitlement(vendor, customer, product):
    response = vendor.post(
        "/api/v1/entitlements",
        {"customer": str(customer.pk), "product": str(product.pk), "seats": 100, "hard_limit": 120},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["usage"] == {
        "used": 0,
        "entitled": 100,
        "hard_limit": 120,
        "customer_cap": None,
        "available": 120,
    }
    assert body["zone"] == "within"
    assert body["customer"]["id"] == str(customer.pk)
    entitlement = Entitlement.objects.get(pk=body["id"])
    assert entitlement.license_key == body["license_key"]
    assert Event.objects.filter(type="entitlement.created", entitlement=entitlement).exists()


def test_create_entitlement_with_hard_limit_below_seats_is_400(vendor, customer, product):
    response = vendor.post(
        "/api/v1/entitlements",
        {"customer": str(customer.pk), "product": str(product.pk), "seats": 100, "hard_limit": 90},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["hard_limit"] == [
        "The hard limit (90) cannot be below the entitled seats (100)."
    ]


def test_create_entitlement_for_unknown_customer_is_400(vendor, product):
    response = vendor.post(
        "/api/v1/entitlements",
        {"customer": str(uuid.uuid4()), "product": str(product.pk), "seats": 1, "hard_limit": 1},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["customer"] == ["No customer has this id."]


@pytest.mark.parametrize("seats", ["10", 1.5, True, -1, 10**12], ids=repr)
def test_create_entitlement_refuses_non_counts(vendor, customer, product, seats):
    response = vendor.post(
        "/api/v1/entitlements",
        {
            "customer": str(customer.pk),
            "product": str(product.pk),
            "seats": seats,
            "hard_limit": None,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "seats" in response.json()["errors"]


def test_list_filters_by_customer_status_and_zone(
    vendor, entitlement, make_entitlement, other_customer
):
    other = make_entitlement(customer=other_customer, seats=1, hard_limit=1)
    _take(other, 1)
    services.entitlement_suspend(entitlement=entitlement)

    def ids(query):
        response = vendor.get(f"/api/v1/entitlements?{query}")
        assert response.status_code == 200, response.json()
        return [e["id"] for e in response.json()["results"]]

    assert ids(f"customer={other_customer.pk}") == [str(other.pk)]
    assert ids("status=suspended") == [str(entitlement.pk)]
    assert ids("zone=at_hard_limit") == [str(other.pk)]
    assert ids("zone=within") == [str(entitlement.pk)]
    assert ids("zone=overdraft") == []
    assert ids("ordering=-seats_used") == [str(other.pk), str(entitlement.pk)]
    assert ids("ordering=customer") == [str(entitlement.pk), str(other.pk)]


def test_list_refuses_unknown_filters_values(vendor, db):
    for query in ("status=gone", "zone=red", "ordering=license_key", "customer=nope"):
        assert vendor.get(f"/api/v1/entitlements?{query}").status_code == 400, query


def test_patch_raises_limits(vendor, entitlement):
    response = vendor.patch(
        f"/api/v1/entitlements/{entitlement.pk}",
        {"seats": 110, "hard_limit": 150},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["usage"]["hard_limit"] == 150
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (110, 150)
    event = Event.objects.get(type="entitlement.updated")
    assert event.data["changes"] == {"seats": [100, 110], "hard_limit": [120, 150]}


def test_patch_sets_the_customers_cap_on_their_behalf(vendor, entitlement):
    url = f"/api/v1/entitlements/{entitlement.pk}"

    response = vendor.patch(url, {"customer_cap": 110}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["customer_cap"] == 110
    assert body["usage"] == {
        "used": 0,
        "entitled": 100,
        "hard_limit": 120,
        "customer_cap": 110,
        "available": 110,
    }
    assert vendor.get(url).json()["customer_cap"] == 110
    audit = AuditEntry.objects.get(action=AuditEntry.Action.ENTITLEMENT_UPDATED)
    assert audit.changes == {"customer_cap": [None, 110]}
    removed = vendor.patch(url, {"customer_cap": None}, format="json")
    assert removed.json()["customer_cap"] is None


def test_patch_a_cap_above_the_hard_limit_is_400_and_changes_nothing(vendor, entitlement):
    response = vendor.patch(
        f"/api/v1/entitlements/{entitlement.pk}", {"customer_cap": 121}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "customer_cap": ["The vendor's hard limit is 120; a cap can be at most 120."]
    }
    entitlement.refresh_from_db()
    assert entitlement.customer_cap is None


def test_patch_limit_below_seats_in_use_is_400_with_the_services_message(vendor, entitlement):
    _take(entitlement, 5)
    response = vendor.patch(
        f"/api/v1/entitlements/{entitlement.pk}", {"seats": 2, "hard_limit": 3}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "seats": [
            "5 seats are in use, so the entitled seats cannot go below 5."
            " Release or revoke seats first."
        ],
        "hard_limit": [
            "5 seats are in use, so the hard limit cannot go below 5."
            " Release or revoke seats first."
        ],
    }
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)


def test_patch_lease_and_dates(vendor, entitlement):
    response = vendor.patch(
        f"/api/v1/entitlements/{entitlement.pk}",
        {"lease_seconds": 600, "ends_at": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["lease_seconds"] == 600
    assert response.json()["ends_at"].startswith("2099-01-01")


def test_patch_end_before_start_is_400(vendor, entitlement):
    response = vendor.patch(
        f"/api/v1/entitlements/{entitlement.pk}",
        {"ends_at": "2000-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400


def test_suspend_then_resume(vendor, entitlement, license_client):
    response = vendor.post(f"/api/v1/entitlements/{entitlement.pk}/suspend")
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    denied = license_client.post("/api/v1/activations", {"fingerprint": "m"}, format="json")
    assert denied.status_code == 403
    assert denied.json()["code"] == "entitlement_suspended"
    assert vendor.post(f"/api/v1/entitlements/{entitlement.pk}/resume").json()["status"] == (
        "active"
    )
    granted = license_client.post("/api/v1/activations", {"fingerprint": "m"}, format="json")
    assert granted.status_code == 201


def test_read_only_token_cannot_change_entitlements(vendor_ro, entitlement, customer, product):
    url = f"/api/v1/entitlements/{entitlement.pk}"
    assert vendor_ro.patch(url, {"seats": 1}, format="json").status_code == 403
    assert vendor_ro.post(f"{url}/suspend").status_code == 403
    assert vendor_ro.post(f"{url}/resume").status_code == 403
    response = vendor_ro.post(
        "/api/v1/entitlements",
        {"customer": str(customer.pk), "product": str(product.pk), "seats": 1, "hard_limit": 1},
        format="json",
    )
    assert response.status_code == 403
    assert Entitlement.objects.count() == 1


def test_unknown_entitlement_is_404_everywhere(vendor, db):
    missing = uuid.uuid4()
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("post", "/suspend"),
        ("post", "/resume"),
        ("get", "/seats"),
        ("get", "/usage?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z"),
    ]:
        response = getattr(vendor, method)(f"/api/v1/entitlements/{missing}{path}")
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"


def test_non_uuid_ids_are_404_in_the_error_shape(vendor, db):
    response = vendor.get("/api/v1/entitlements/42")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_entitlement_list_query_count_does_not_grow(
    vendor, make_entitlement, django_assert_max_num_queries
):
    for _ in range(5):
        make_entitlement()
    with django_assert_max_num_queries(5):  # one of them: are any leases due to expire?
        assert vendor.get("/api/v1/entitlements").status_code == 200


def test_rotate_key_issues_a_new_key_and_keeps_the_old_for_the_grace(vendor, entitlement):
    old = entitlement.license_key
    url = f"/api/v1/entitlements/{entitlement.pk}/rotate-key"

    response = vendor.post(url, {"grace_hours": 2}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["license_key"] != old
    entitlement.refresh_from_db()
    assert body["license_key"] == entitlement.license_key
    until = entitlement.previous_key_valid_until
    assert until is not None
    assert body["previous_key_valid_until"] == until.isoformat().replace("+00:00", "Z")
    assert entitlement.previous_license_key == old
    audit = AuditEntry.objects.get(action=AuditEntry.Action.LICENSE_KEY_ROTATED)
    assert audit.changes == {"license_key": ["…" + old[-5:], "…" + body["license_key"][-5:]]}


def test_rotate_key_without_a_body_uses_24_hours(vendor, entitlement):
    response = vendor.post(f"/api/v1/entitlements/{entitlement.pk}/rotate-key")

    assert response.status_code == 200, response.json()
    entitlement.refresh_from_db()
    until = entitlement.previous_key_valid_until
    assert until is not None
    assert timedelta(hours=23, minutes=59) < until - entitlement.updated_at <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"grace_hours": 169},
            {"grace_hours": ["Ensure this value is less than or equal to 168."]},
        ),
        (
            {"grace_hours": -1},
            {"grace_hours": ["Ensure this value is greater than or equal to 0."]},
        ),
        ({"grace": 1}, {"grace": ["Unknown field."]}),
    ],
)
def test_rotate_key_with_a_bad_grace_is_400_and_changes_nothing(vendor, entitlement, body, errors):
    old = entitlement.license_key

    response = vendor.post(f"/api/v1/entitlements/{entitlement.pk}/rotate-key", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    entitlement.refresh_from_db()
    assert entitlement.license_key == old


def test_the_offline_grace_is_set_through_the_api(vendor, customer, product):
    created = vendor.post(
        "/api/v1/entitlements",
        {
            "customer": str(customer.pk),
            "product": str(product.pk),
            "seats": 10,
            "hard_limit": 12,
            "offline_grace_seconds": 7200,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["offline_grace_seconds"] == 7200
    url = f"/api/v1/entitlements/{created.json()['id']}"

    changed = vendor.patch(url, {"offline_grace_seconds": None}, format="json")
    assert (changed.status_code, changed.json()["offline_grace_seconds"]) == (200, None)

    refused = vendor.patch(url, {"offline_grace_seconds": 31 * 86400}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["offline_grace_seconds"]
    assert Entitlement.objects.get(pk=created.json()["id"]).offline_grace_seconds is None
