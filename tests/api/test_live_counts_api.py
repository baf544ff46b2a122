"""The APIs never count a floating seat whose lease ran out as in use (issue 15)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.models import Entitlement, Event
from tests.conftest import client_for, lapse


@pytest.fixture
def lapsed(make_entitlement: Callable[..., Entitlement], frozen: Any) -> Entitlement:
    """A floating 2/3 entitlement at its hard limit whose leases ran out a second ago, but
    one (`f-0`, renewed 30 s later)."""
    entitlement = make_entitlement(seats=2, hard_limit=3, lease_seconds=60)
    return lapse(entitlement, frozen)


def _expired() -> int:
    return Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count()


def test_vendor_entitlement_read_counts_only_seats_whose_lease_runs(
    vendor: APIClient, lapsed: Entitlement
) -> None:
    response = vendor.get(f"/api/v1/entitlements/{lapsed.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["seats_used"], body["zone"]) == (1, "within")
    assert body["usage"]["available"] == 2
    assert _expired() == 2


def test_vendor_entitlement_list_filters_on_seats_whose_lease_runs(
    vendor: APIClient, lapsed: Entitlement
) -> None:
    at_limit = vendor.get("/api/v1/entitlements", {"zone": "at_hard_limit"})
    within = vendor.get("/api/v1/entitlements", {"zone": "within"})

    assert at_limit.status_code == within.status_code == 200
    assert at_limit.json()["results"] == []
    [row] = within.json()["results"]
    assert (row["id"], row["seats_used"]) == (str(lapsed.pk), 1)


def test_vendor_seats_list_shows_only_seats_whose_lease_runs(
    vendor: APIClient, lapsed: Entitlement
) -> None:
    held = vendor.get(f"/api/v1/entitlements/{lapsed.pk}/seats")
    released = vendor.get(f"/api/v1/entitlements/{lapsed.pk}/seats", {"in_use": "false"})

    assert [seat["fingerprint"] for seat in held.json()["results"]] == ["f-0"]
    assert sorted(seat["fingerprint"] for seat in released.json()["results"]) == ["f-1", "f-2"]


def test_client_entitlement_read_counts_only_seats_whose_lease_runs(
    lapsed: Entitlement,
) -> None:
    response = client_for(lapsed).get("/api/v1/entitlement")

    assert response.status_code == 200
    body = response.json()
    assert (body["seats"]["used"], body["zone"]) == (1, "within")
    assert _expired() == 2


def test_vendor_usage_read_ends_at_the_seats_whose_lease_runs(
    vendor: APIClient, lapsed: Entitlement
) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    response = vendor.get(
        f"/api/v1/entitlements/{lapsed.pk}/usage",
        {"start": hour.isoformat(), "end": (hour + timedelta(hours=1)).isoformat()},
    )

    assert response.status_code == 200
    [point] = response.json()["points"]
    assert (point["peak"], point["closing"], point["releases"]) == (3, 1, 2)
