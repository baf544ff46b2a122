"""Alert thresholds in the vendor API: list, add (either audience), remove."""

import pytest

from licensing import services
from licensing.models import AlertThreshold, AuditEntry

pytestmark = pytest.mark.django_db


def _url(entitlement):
    return f"/api/v1/entitlements/{entitlement.pk}/alert-thresholds"


def test_add_list_and_remove(vendor, entitlement):
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)

    added = vendor.post(_url(entitlement), {"audience": "vendor", "kind": "limit"}, format="json")

    assert added.status_code == 201, added.json()
    body = added.json()
    assert {k: v for k, v in body.items() if k not in ("id", "created_at")} == {
        "audience": "vendor",
        "kind": "limit",
        "percent": None,
        "name": "the limit",
        "level": 110,  # the customer's cap is the limit
        "armed": True,
        "last_fired_at": None,
    }
    vendor.post(
        _url(entitlement), {"audience": "customer", "kind": "percent", "percent": 80}, format="json"
    )
    listed = vendor.get(_url(entitlement)).json()
    assert [(t["audience"], t["name"], t["level"]) for t in listed["results"]] == [
        ("customer", "80% of the entitled seats", 80),
        ("vendor", "the limit", 110),
    ]
    audit = AuditEntry.objects.filter(action=AuditEntry.Action.ALERT_THRESHOLD_ADDED)
    assert audit.count() == 2

    removed = vendor.delete(f"{_url(entitlement)}/{body['id']}")

    assert removed.status_code == 204
    assert vendor.delete(f"{_url(entitlement)}/{body['id']}").status_code == 404
    assert AlertThreshold.objects.count() == 1


SHARE = "Choose a share from 1% to 200% of the seats."
AT_MOST = "Ensure this value is less than or equal to 200."


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"audience": "customer", "kind": "percent"}, {"percent": [SHARE]}),
        ({"audience": "customer", "kind": "percent", "percent": 201}, {"percent": [AT_MOST]}),
        (
            {"audience": "everyone", "kind": "limit"},
            {"audience": ['"everyone" is not a valid choice.']},
        ),
        ({"audience": "vendor", "kind": "limit", "level": 3}, {"level": ["Unknown field."]}),
    ],
)
def test_bad_thresholds_are_400_and_change_nothing(vendor, entitlement, payload, errors):
    response = vendor.post(_url(entitlement), payload, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not AlertThreshold.objects.exists()


def test_read_only_tokens_may_list_but_not_add(vendor_ro, entitlement):
    assert vendor_ro.get(_url(entitlement)).status_code == 200
    denied = vendor_ro.post(
        _url(entitlement), {"audience": "vendor", "kind": "limit"}, format="json"
    )
    assert denied.status_code == 403
    assert not AlertThreshold.objects.exists()
