"""Suspended, ended and not-yet-started entitlements refuse activations with 403."""

from datetime import timedelta

import pytest
from django.utils import timezone
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


def _client(entitlement: Entitlement) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    return client


def _suspended(make_entitlement):
    entitlement = make_entitlement()
    services.seat_activate(entitlement=entitlement, fingerprint="already-here")
    return services.entitlement_suspend(entitlement=entitlement)


def _ended(make_entitlement):
    now = timezone.now()
    return make_entitlement(starts_at=now - timedelta(days=30), ends_at=now - timedelta(days=1))


def _not_started(make_entitlement):
    return make_entitlement(starts_at=timezone.now() + timedelta(days=1))


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (_suspended, "entitlement_suspended", "suspended"),
        (_ended, "entitlement_expired", "ended"),
        (_not_started, "entitlement_not_started", "starts"),
    ],
    ids=["suspended", "ended", "not-started"],
)
@pytest.mark.parametrize("fingerprint", ["new-machine", "already-here"])
def test_unusable_entitlement_refuses_activation_and_changes_nothing(
    make_entitlement, make, code, words, fingerprint
):
    entitlement = make(make_entitlement)
    before = _state(entitlement)

    response = _client(entitlement).post(
        "/api/v1/activations", {"fingerprint": fingerprint}, format="json"
    )

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == code
    assert words in body["message"]
    assert _state(entitlement) == before


def test_entitlement_ending_while_in_use_refuses_new_activations(make_entitlement, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    entitlement = make_entitlement(ends_at=timezone.now() + timedelta(hours=1))
    client = _client(entitlement)
    assert (
        client.post("/api/v1/activations", {"fingerprint": "a"}, format="json").status_code == 201
    )

    time_machine.shift(timedelta(hours=1))
    response = client.post("/api/v1/activations", {"fingerprint": "b"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "entitlement_expired"


def test_resumed_entitlement_grants_again(make_entitlement):
    entitlement = _suspended(make_entitlement)
    services.entitlement_resume(entitlement=entitlement)

    response = _client(entitlement).post(
        "/api/v1/activations", {"fingerprint": "new-machine"}, format="json"
    )

    assert response.status_code == 201


def test_status_endpoint_still_answers_for_a_suspended_entitlement(make_entitlement):
    entitlement = _suspended(make_entitlement)

    response = _client(entitlement).get("/api/v1/entitlement")

    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    assert response.json()["seats"]["used"] == 1
