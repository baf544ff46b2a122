"""Rotating a license key: both keys work during the grace period, only the new one after it."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from licensing import keys, selectors, services
from licensing.models import AuditEntry, Entitlement, Event

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def started(make_entitlement) -> Entitlement:
    return make_entitlement(seats=2, hard_limit=3, starts_at=T0 - timedelta(days=1))


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {key}")
    return client


def _activate(key: str, fingerprint: str) -> int:
    response = _client(key).post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")
    return response.status_code


def test_both_keys_work_during_the_grace_period_and_only_the_new_one_after(started):
    old = started.license_key
    with time_machine.travel(T0, tick=False) as clock:
        held = _client(old).post("/api/v1/activations", {"fingerprint": "m-0"}, format="json")
        assert held.status_code == 201
        services.license_key_rotate(entitlement=started, grace=timedelta(hours=24))
        new = started.license_key
        assert new != old

        clock.move_to(T0 + timedelta(hours=23, minutes=59))
        assert _activate(old, "m-1") == 201
        assert _activate(new, "m-2") == 201
        seat_id = held.json()["id"]
        assert _client(old).post(f"/api/v1/activations/{seat_id}/heartbeat").status_code == 200

        clock.move_to(T0 + timedelta(hours=24))
        assert _activate(old, "m-3") == 401
        assert _client(old).delete(f"/api/v1/activations/{seat_id}").status_code == 401
        assert _client(new).delete(f"/api/v1/activations/{seat_id}").status_code == 204
        assert _activate(new, "m-3") == 201

    started.refresh_from_db()
    assert started.seats_used == 3  # m-1, m-2, m-3: m-0 held through the rotation, released after


def test_a_rotation_without_grace_stops_the_old_key_at_once(started):
    old = started.license_key
    services.license_key_rotate(entitlement=started, grace=timedelta(0))

    assert _activate(old, "m-1") == 401
    assert _activate(started.license_key, "m-1") == 201
    started.refresh_from_db()
    assert (started.previous_license_key, started.previous_key_valid_until) == (None, None)


def test_a_second_rotation_ends_the_first_keys_grace(started):
    first = started.license_key
    services.license_key_rotate(entitlement=started)
    second = started.license_key
    services.license_key_rotate(entitlement=started)

    assert selectors.entitlement_by_license_key(first) is None
    found = selectors.entitlement_by_license_key(second)
    assert found is not None and found.pk == started.pk


def test_a_rotation_writes_hints_never_keys(started, customer_admin):
    old = started.license_key
    with time_machine.travel(T0, tick=False):
        services.license_key_rotate(
            entitlement=started,
            grace=timedelta(hours=1),
            actor=services.Actor.of(customer_admin),
        )
    new = started.license_key

    event = Event.objects.get(type=Event.Type.LICENSE_KEY_ROTATED)
    assert {k: v for k, v in event.data.items() if k != "seats"} == {
        "entitlement_id": str(started.pk),
        "customer_id": str(started.customer_id),
        "product_id": str(started.product_id),
        "key_hint": "…" + new[-5:],
        "previous_key_hint": "…" + old[-5:],
        "previous_key_valid_until": "2026-03-02T10:00:00+00:00",
    }
    assert old not in str(event.data) and new not in str(event.data)
    audit = AuditEntry.objects.get(action=AuditEntry.Action.LICENSE_KEY_ROTATED)
    assert (audit.actor, audit.changes) == (
        customer_admin,
        {"license_key": ["…" + old[-5:], "…" + new[-5:]]},
    )


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), timedelta(days=7, seconds=1)])
def test_a_grace_outside_0_to_7_days_is_refused_and_changes_nothing(started, grace):
    old = started.license_key
    with pytest.raises(ValidationError) as refused:
        services.license_key_rotate(entitlement=started, grace=grace)
    assert refused.value.message_dict == {"grace": ["The grace period must be from 0 to 7 days."]}
    started.refresh_from_db()
    assert started.license_key == old
    assert not Event.objects.filter(type=Event.Type.LICENSE_KEY_ROTATED).exists()


def test_masked_keys_show_the_first_and_last_groups():
    assert keys.masked("7KQ2M-XW4PD-AAAAA-BBBBB-AB3CD") == "7KQ2M-•••••-•••••-•••••-AB3CD"
    assert keys.masked("short") == "•••••"
    assert keys.hint("7KQ2M-XW4PD-AAAAA-BBBBB-AB3CD") == "…AB3CD"
