"""Every client API endpoint refuses a missing, malformed or unknown license key with 401."""

import uuid

import pytest
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Entitlement, Event, Seat, UsageBucket


def _state(entitlement: Entitlement) -> tuple[int, ...]:
    entitlement.refresh_from_db()
    return (
        Seat.objects.count(),
        Event.objects.count(),
        UsageBucket.objects.count(),
        entitlement.seats_used,
    )


@pytest.fixture
def seat(entitlement):
    return services.seat_activate(entitlement=entitlement, fingerprint="held").seat


def _call(client: APIClient, endpoint: str, seat_id: uuid.UUID):
    if endpoint == "activate":
        return client.post("/api/v1/activations", {"fingerprint": "new"}, format="json")
    if endpoint == "heartbeat":
        return client.post(f"/api/v1/activations/{seat_id}/heartbeat")
    if endpoint == "release":
        return client.delete(f"/api/v1/activations/{seat_id}")
    return client.get("/api/v1/entitlement")


ENDPOINTS = ["activate", "heartbeat", "release", "status"]
BAD_HEADERS = {
    "missing": None,
    "empty": "",
    "keyword-only": "License",
    "keyword-and-spaces": "License    ",
    "bearer": "Bearer x",
    "basic": "Basic dXNlcjpwYXNz",
    "three-parts": "License a b",
    "non-utf8": "License \xff\xfe\xfd",
    "unknown-key": "License 00000-00000-00000-00000-00000",
    "unknown-key-shape": "License not-a-key",
    "huge-key": "License " + "A" * 10_000,
    "nul": "License \x00",
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_bad_license_key_is_refused_with_401_and_changes_nothing(
    entitlement, seat, endpoint, header
):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    before = _state(entitlement)

    response = _call(client, endpoint, seat.pk)

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "invalid_license_key"
    assert isinstance(body["message"], str) and body["message"]
    assert response.headers["WWW-Authenticate"].startswith("License")
    assert _state(entitlement) == before


def test_another_entitlements_key_cannot_touch_this_seat(entitlement, seat, make_entitlement):
    other = make_entitlement()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {other.license_key}")
    before = _state(entitlement)

    heartbeat = client.post(f"/api/v1/activations/{seat.pk}/heartbeat")
    release = client.delete(f"/api/v1/activations/{seat.pk}")

    assert heartbeat.status_code == release.status_code == 404
    assert heartbeat.json()["code"] == release.json()["code"] == "activation_not_found"
    assert _state(entitlement) == before


@pytest.mark.parametrize(
    "spelling",
    [
        lambda key: f"License {key}",
        lambda key: f"license {key.lower()}",
        lambda key: f"LICENSE {key.replace('-', '')}",
        lambda key: f"  License   {key}  ",
    ],
    ids=["canonical", "lower-case", "no-dashes", "extra-spaces"],
)
def test_license_key_is_accepted_as_people_type_it(entitlement, spelling):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=spelling(entitlement.license_key))

    response = client.get("/api/v1/entitlement")

    assert response.status_code == 200
    assert response.json()["id"] == str(entitlement.pk)
