"""Heartbeat, release, revoke and expiry of a seat: what each returns, writes and says.

Most tests run twice: through the single statements (licensing.statements, PostgreSQL) and
with them switched off, the transaction that serves SQLite and every case a statement does
not cover (as tests/licensing/test_statements.py does).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from django.db import OperationalError
from django.utils import timezone

from licensing import errors, hooks, services, statements
from licensing.models import AuditEntry, Customer, Entitlement, Event, Seat
from licensing.services import seats
from licensing.zones import SeatCounts
from portal.models import User
from tests.conftest import client_for, record_statements

LEASE = 300


@pytest.fixture(params=["statements", "transaction"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through the statements (where PostgreSQL has them) and without them."""
    if request.param == "transaction":
        monkeypatch.setattr(statements, "available", lambda: False)
    return str(request.param)


@pytest.fixture
def floating(make_entitlement: Callable[..., Entitlement]) -> Entitlement:
    """1 entitled, hard limit 2, a 300 s lease; started an hour ago."""
    started = timezone.now() - timedelta(hours=1)
    return make_entitlement(seats=1, hard_limit=2, lease_seconds=LEASE, starts_at=started)


def _seat(entitlement: Entitlement, fingerprint: str, now: datetime, label: str = "") -> Seat:
    result = services.seat_activate(
        entitlement=entitlement, fingerprint=fingerprint, label=label, now=now
    )
    assert result.seat is not None
    return result.seat


# --- heartbeat ------------------------------------------------------------------------------


def test_heartbeat_returns_the_seat_as_stored_and_the_counts(floating: Entitlement, path: str):
    start = timezone.now() - timedelta(minutes=10)
    _seat(floating, "host-a", start)
    held = _seat(floating, "host-b", start, label="Build box")
    beat_at = start + timedelta(seconds=100)

    beat = services.seat_heartbeat(entitlement=floating, seat_id=held.pk, now=beat_at)

    assert beat.seat.pk == held.pk
    assert beat.seat.fingerprint == "host-b"
    assert beat.seat.label == "Build box"
    assert beat.seat.activated_at == start
    assert beat.seat.last_heartbeat_at == beat_at
    assert beat.seat.lease_expires_at == start + timedelta(seconds=400)
    assert beat.seat.overdraft is True
    assert beat.seat.entitlement_id == floating.pk
    assert beat.counts == SeatCounts(used=2, entitled=1, hard_limit=2)
    assert beat.offline_grace == 0  # a floating seat's, unless the entitlement gives one
    stored = Seat.objects.get(pk=held.pk)
    assert stored.last_heartbeat_at == beat_at
    assert stored.lease_expires_at == start + timedelta(seconds=400)


def test_heartbeat_comes_with_the_offline_grace_the_entitlement_gives(
    floating: Entitlement, path: str
) -> None:
    services.entitlement_update(entitlement=floating, offline_grace_seconds=3600)
    held = _seat(floating, "host-a", timezone.now())

    beat = services.seat_heartbeat(entitlement=floating, seat_id=held.pk)

    assert beat.offline_grace == 3600


def test_heartbeat_of_an_overdraft_seat_answers_its_status_and_counts(floating):
    client = client_for(floating)
    client.post("/api/v1/activations", {"fingerprint": "host-a"}, format="json")
    seat = client.post("/api/v1/activations", {"fingerprint": "host-b"}, format="json").json()

    response = client.post(f"/api/v1/activations/{seat['id']}/heartbeat")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "overdraft"
    assert body["overdraft"] is True
    assert body["seats"] == {
        "used": 2,
        "entitled": 1,
        "hard_limit": 2,
        "customer_cap": None,
        "available": 0,
    }


@pytest.mark.parametrize(
    ("how", "reason", "why"),
    [
        ("released", "released", "it was released"),
        ("expired", "expired", "its lease expired without a heartbeat"),
        ("revoked", "revoked", "the vendor revoked it"),
    ],
)
def test_heartbeat_of_a_seat_not_held_says_why(floating, frozen, how, reason, why):
    client = client_for(floating)
    seat_id = client.post("/api/v1/activations", {"fingerprint": "m-1"}, format="json").json()["id"]
    if how == "released":
        client.delete(f"/api/v1/activations/{seat_id}")
    elif how == "revoked":
        services.seat_revoke(seat=Seat.objects.get(pk=seat_id))
    else:
        frozen.shift(LEASE + 1)

    response = client.post(f"/api/v1/activations/{seat_id}/heartbeat")

    assert response.status_code == 410
    assert response.json() == {
        "code": "seat_not_held",
        "message": f"This seat is no longer held: {why}. Activate again to get a seat.",
        "reason": reason,
    }


@pytest.mark.parametrize("method", ["post", "delete"])
def test_an_activation_id_the_key_never_had_is_not_found(license_client, entitlement, method):
    url = f"/api/v1/activations/{uuid.UUID(int=7)}"
    response = getattr(license_client, method)(url + ("/heartbeat" if method == "post" else ""))

    assert response.status_code == 404
    assert response.json() == {
        "code": "activation_not_found",
        "message": "No activation with this id exists for this license key.",
    }


def test_seat_get_returns_the_seat_with_its_entitlement(floating, django_assert_num_queries):
    seat = _seat(floating, "m-1", timezone.now())

    found = services.seat_get(entitlement=floating, seat_id=seat.pk)

    assert found.pk == seat.pk
    assert found.entitlement_id == floating.pk
    with django_assert_num_queries(0):
        assert found.entitlement is floating


def test_seat_get_of_another_entitlements_seat_is_not_found(floating, make_entitlement):
    theirs = _seat(make_entitlement(), "m-1", timezone.now())

    with pytest.raises(errors.SeatNotFound) as caught:
        services.seat_get(entitlement=floating, seat_id=theirs.pk)

    assert caught.value.message == "No activation with this id exists for this license key."


def test_a_release_landing_during_a_heartbeat_wins(floating, monkeypatch):
    """The heartbeat read the seat as held; a release commits before its update."""
    monkeypatch.setattr(statements, "available", lambda: False)
    start = timezone.now()
    seat = _seat(floating, "m-1", start)
    lease_end = seats._lease_end

    def released_meanwhile(entitlement: Entitlement, now: datetime) -> datetime | None:
        services.seat_release(entitlement=entitlement, seat_id=seat.pk, now=now)
        return lease_end(entitlement, now)

    monkeypatch.setattr(seats, "_lease_end", released_meanwhile)

    with pytest.raises(errors.SeatNotHeld) as caught:
        services.seat_heartbeat(
            entitlement=floating, seat_id=seat.pk, now=start + timedelta(seconds=10)
        )

    assert caught.value.message == (
        "This seat is no longer held: it was released. Activate again to get a seat."
    )
    assert caught.value.reason == "released"
    stored = Seat.objects.get(pk=seat.pk)
    assert stored.lease_expires_at == start + timedelta(seconds=LEASE)
    assert stored.release_reason == Seat.ReleaseReason.RELEASED


@pytest.mark.postgres
def test_heartbeat_of_a_held_seat_is_one_statement(
    floating, monkeypatch, django_assert_num_queries
):
    seat = _seat(floating, "m-1", timezone.now())
    ran = record_statements(monkeypatch)

    with django_assert_num_queries(2):  # the statement's savepoint and its release
        services.seat_heartbeat(entitlement=floating, seat_id=seat.pk)

    assert ran == [statements.HEARTBEAT]


def test_heartbeat_without_the_statements_does_not_look_the_entitlement_up(
    floating, monkeypatch, django_assert_num_queries
):
    """The seat, the update, the counts: three queries."""
    monkeypatch.setattr(statements, "available", lambda: False)
    seat = _seat(floating, "m-1", timezone.now())

    with django_assert_num_queries(3):
        services.seat_heartbeat(entitlement=floating, seat_id=seat.pk)


# --- re-activation renews -------------------------------------------------------------------


def test_activating_a_held_fingerprint_again_renews_its_lease_and_label(floating, path):
    start = timezone.now() - timedelta(minutes=10)
    seat = _seat(floating, "m-1", start, label="old name")
    again_at = start + timedelta(seconds=100)

    again = services.seat_activate(
        entitlement=floating, fingerprint="m-1", label="new name", now=again_at
    )

    assert again.status == "ok"
    assert again.created is False
    assert again.message == "This fingerprint already holds a seat."
    assert again.seat is not None
    assert again.seat.pk == seat.pk
    assert again.seat.label == "new name"
    assert again.seat.lease_expires_at == start + timedelta(seconds=400)
    stored = Seat.objects.get(pk=seat.pk)
    assert stored.label == "new name"
    assert stored.last_heartbeat_at == again_at
    assert stored.lease_expires_at == start + timedelta(seconds=400)
    assert stored.released_at is None


def test_activating_again_without_a_label_keeps_the_label(floating, path):
    start = timezone.now() - timedelta(minutes=10)
    seat = _seat(floating, "m-1", start, label="Build box")

    services.seat_activate(
        entitlement=floating, fingerprint="m-1", now=start + timedelta(seconds=100)
    )

    assert Seat.objects.get(pk=seat.pk).label == "Build box"


def test_a_release_landing_during_a_reactivation_stands_and_a_new_seat_is_taken(
    floating, monkeypatch
):
    """The re-activation read the seat as held; a release commits before it renews it. The
    release stands (the seat is not brought back) and the fingerprint, holding no seat now,
    gets a new one, not a "still held" answer about a released seat."""
    start = timezone.now()
    seat = _seat(floating, "m-1", start, label="Build box")
    lease_end = seats._lease_end

    def released_meanwhile(entitlement: Entitlement, now: datetime) -> datetime | None:
        monkeypatch.setattr(seats, "_lease_end", lease_end)
        services.seat_release(entitlement=entitlement, seat_id=seat.pk, now=now)
        return lease_end(entitlement, now)

    monkeypatch.setattr(seats, "_lease_end", released_meanwhile)
    monkeypatch.setattr(statements, "available", lambda: False)

    result = services.seat_activate(
        entitlement=floating, fingerprint="m-1", now=start + timedelta(seconds=10)
    )

    stored = Seat.objects.get(pk=seat.pk)
    assert stored.released_at == start + timedelta(seconds=10)
    assert stored.release_reason == Seat.ReleaseReason.RELEASED
    assert (result.status, result.created) == ("ok", True)
    assert result.seat is not None and result.seat.pk != seat.pk
    floating.refresh_from_db()
    assert floating.seats_used == 1
    held = Seat.objects.get(entitlement=floating, released_at=None)
    assert (held.pk, held.fingerprint) == (result.seat.pk, "m-1")


# --- release --------------------------------------------------------------------------------


def test_release_answers_true_once_then_false(floating, path):
    seat = _seat(floating, "m-1", timezone.now())

    assert services.seat_release(entitlement=floating, seat_id=seat.pk) is True
    assert services.seat_release(entitlement=floating, seat_id=seat.pk) is False

    assert Event.objects.filter(type=Event.Type.SEAT_RELEASED).count() == 1
    floating.refresh_from_db()
    assert floating.seats_used == 0


def test_release_tells_the_listeners_of_its_event(
    floating, monkeypatch, django_capture_on_commit_callbacks
):
    seat = _seat(floating, "m-1", timezone.now())
    heard: list[list[int]] = []
    monkeypatch.setattr(hooks, "_listeners", [heard.append])

    with django_capture_on_commit_callbacks(execute=True):
        services.seat_release(entitlement=floating, seat_id=seat.pk)

    released = Event.objects.get(type=Event.Type.SEAT_RELEASED)
    assert heard == [[released.pk]]


@pytest.mark.postgres
def test_release_of_a_held_seat_is_one_statement(floating, monkeypatch, django_assert_num_queries):
    seat = _seat(floating, "m-1", timezone.now())
    ran = record_statements(monkeypatch)

    with django_assert_num_queries(2):  # the statement's savepoint and its release
        assert services.seat_release(entitlement=floating, seat_id=seat.pk) is True

    assert ran == [statements.RELEASE]


def test_release_without_the_statements_does_not_look_the_entitlement_up(
    floating, monkeypatch, django_assert_num_queries
):
    """The seat; savepoint, lock, update, counter, events, usage bucket, release savepoint."""
    monkeypatch.setattr(statements, "available", lambda: False)
    seat = _seat(floating, "m-1", timezone.now())

    with django_assert_num_queries(8):
        services.seat_release(entitlement=floating, seat_id=seat.pk)


# --- revoke ---------------------------------------------------------------------------------

REVOKED_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_revoking_a_held_seat_records_who_did_it(
    floating: Entitlement, customer: Customer, customer_admin: User
):
    seat = _seat(floating, "m-1", timezone.now(), label="Build box")
    actor = services.Actor.of(customer_admin, ip="10.0.0.7")

    assert services.seat_revoke(seat=seat, actor=actor, now=REVOKED_AT) is True

    entry = AuditEntry.objects.get(action=AuditEntry.Action.SEAT_REVOKED)
    assert entry.action == AuditEntry.Action.SEAT_REVOKED
    assert entry.actor == customer_admin
    assert entry.actor_label == "admin@acme.test"
    assert entry.ip == "10.0.0.7"
    assert entry.target_type == "seat"
    assert entry.target_id == str(seat.pk)
    assert entry.target_label == "m-1 on Design Studio"
    assert entry.customer == customer
    assert entry.changes == {"released_at": [None, "2030-01-02T03:04:05+00:00"]}
    stored = Seat.objects.get(pk=seat.pk)
    assert (stored.released_at, stored.release_reason) == (REVOKED_AT, "revoked")
    event = Event.objects.get(type=Event.Type.SEAT_RELEASED)
    assert event.data == {
        "entitlement_id": str(floating.pk),
        "customer_id": str(customer.pk),
        "product_id": str(floating.product_id),
        "seats": {"used": 0, "entitled": 1, "hard_limit": 2, "customer_cap": None, "available": 2},
        "activation_id": str(seat.pk),
        "fingerprint": "m-1",
        "label": "Build box",
        "overdraft": False,
        "reason": "revoked",
    }


def test_revoking_a_seat_twice_records_it_once(floating: Entitlement):
    seat = _seat(floating, "m-1", timezone.now())
    assert services.seat_revoke(seat=seat, now=REVOKED_AT) is True

    assert services.seat_revoke(seat=seat, now=REVOKED_AT + timedelta(hours=1)) is False

    assert AuditEntry.objects.filter(action=AuditEntry.Action.SEAT_REVOKED).count() == 1
    assert Event.objects.filter(type=Event.Type.SEAT_RELEASED).count() == 1
    assert Seat.objects.get(pk=seat.pk).released_at == REVOKED_AT


def test_revoking_a_seat_the_client_released_records_nothing(floating: Entitlement):
    seat = _seat(floating, "m-1", timezone.now())
    services.seat_release(entitlement=floating, seat_id=seat.pk)

    assert services.seat_revoke(seat=Seat.objects.get(pk=seat.pk), now=REVOKED_AT) is False

    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SEAT_REVOKED).exists()
    assert Seat.objects.get(pk=seat.pk).release_reason == "released"


# --- expiry ---------------------------------------------------------------------------------


def test_sweeping_an_entitlement_with_nothing_due_expires_none(floating: Entitlement):
    now = timezone.now()
    _seat(floating, "m-1", now)

    assert services.seats_expire_stale(entitlement=floating, now=now) == 0

    assert Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count() == 0


def test_a_released_seat_with_a_past_lease_costs_a_read_one_query(
    floating: Entitlement, frozen: Any, django_assert_num_queries: Any
):
    seat = _seat(floating, "m-1", timezone.now())
    services.seat_release(entitlement=floating, seat_id=seat.pk)
    frozen.shift(LEASE + 1)  # its lease, kept on the released row, ran out

    with django_assert_num_queries(1):
        assert services.seats_expire_due(entitlements=[floating]) == 0


@pytest.fixture
def lapsed(floating: Entitlement, frozen: Any) -> Entitlement:
    _seat(floating, "m-1", timezone.now())
    frozen.shift(LEASE + 1)
    return floating


def test_a_read_whose_entitlement_stays_locked_leaves_its_seats_for_later(
    lapsed: Entitlement, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def locked(*args: Any, **kwargs: Any) -> int:
        cause = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
        raise OperationalError("canceling statement due to lock timeout") from cause

    monkeypatch.setattr(seats, "_release_in_transaction", locked)

    with caplog.at_level(logging.INFO, logger="licensing.services.seats"):
        assert services.seats_expire_due(entitlements=[lapsed]) == 0

    assert [r for r in caplog.record_tuples if r[0] == "licensing.services.seats"] == [
        (
            "licensing.services.seats",
            logging.INFO,
            f"seats of entitlement {lapsed.pk} not expired yet:"
            " canceling statement due to lock timeout",
        )
    ]
    assert Seat.objects.get(entitlement=lapsed).released_at is None


def test_a_read_fails_on_a_database_error_that_is_not_a_lock_wait(
    lapsed: Entitlement, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: Any, **kwargs: Any) -> int:
        cause = sqlite3.OperationalError("disk I/O error")
        raise OperationalError("disk I/O error") from cause

    monkeypatch.setattr(seats, "_release_in_transaction", broken)

    with pytest.raises(OperationalError, match="disk I/O error"):
        services.seats_expire_due(entitlements=[lapsed])
