"""The single-statement hot path (licensing/statements.py) writes what the general path writes.

The same story runs twice, on two entitlements alike: once through the statements, once with
them switched off. Seats, Events (types, order, data), hourly buckets and counters must match.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from licensing import services, statements
from licensing.models import Entitlement, Event, Seat, UsageBucket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def _story(entitlement: Entitlement) -> list[Any]:
    """2 entitled, 3 hard: ok, ok, overdraft (starts it and reaches the hard limit), denied,
    re-activate,
    heartbeat, release (overdraft ends), release again, heartbeat of a released seat."""
    answers: list[Any] = []
    seats: list[Seat] = []
    with time_machine.travel(T0, tick=False):
        for n in range(4):
            result = services.seat_activate(
                entitlement=entitlement, fingerprint=f"fp-{n}", label=f"host {n}"
            )
            answers.append((result.status, result.counts, result.created, result.message))
            if result.seat is not None:
                seats.append(result.seat)
                answers.append((result.seat.fingerprint, result.seat.overdraft))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        again = services.seat_activate(entitlement=entitlement, fingerprint="fp-1", label="x")
        assert again.seat is not None
        answers.append((again.status, again.counts, again.created, again.seat.pk == seats[1].pk))
        beat = services.seat_heartbeat(entitlement=entitlement, seat_id=seats[0].pk).seat
        answers.append((beat.fingerprint, beat.label, beat.overdraft, beat.lease_expires_at))
    with time_machine.travel(T0 + timedelta(hours=1, minutes=2), tick=False):
        answers.append(services.seat_release(entitlement=entitlement, seat_id=seats[2].pk))
        answers.append(services.seat_release(entitlement=entitlement, seat_id=seats[2].pk))
        with pytest.raises(Exception) as gone:
            services.seat_heartbeat(entitlement=entitlement, seat_id=seats[2].pk)
        answers.append(type(gone.value).__name__)
    return answers


def _written(entitlement: Entitlement) -> dict[str, Any]:
    """What the story left in the database, with the entitlement's own ids taken out."""
    entitlement.refresh_from_db()
    own = {
        str(entitlement.pk): "<entitlement>",
        str(entitlement.customer_id): "<customer>",
        str(entitlement.product_id): "<product>",
    }
    seats = list(
        Seat.objects.filter(entitlement=entitlement).order_by("activated_at", "fingerprint")
    )
    own.update({str(seat.pk): f"<seat {seat.fingerprint}>" for seat in seats})
    events = [
        (
            e.type,
            e.occurred_at,
            {k: own.get(v, v) if isinstance(v, str) else v for k, v in e.data.items()},
        )
        for e in Event.objects.filter(entitlement=entitlement)
        .exclude(type=Event.Type.ENTITLEMENT_CREATED)
        .order_by("seq")
    ]
    return {
        "seats_used": entitlement.seats_used,
        "seats": [
            (
                s.fingerprint,
                s.label,
                s.activated_at,
                s.last_heartbeat_at,
                s.lease_expires_at,
                s.released_at,
                s.release_reason,
                s.overdraft,
            )
            for s in seats
        ],
        "events": events,
        "buckets": list(
            UsageBucket.objects.filter(entitlement=entitlement)
            .order_by("hour")
            .values_list(
                "hour",
                "peak_used",
                "closing_used",
                "activations",
                "overdraft_activations",
                "denials",
                "releases",
            )
        ),
    }


def test_statements_write_what_the_general_path_writes(
    make_entitlement: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = T0 - timedelta(days=1)
    fast = make_entitlement(seats=2, hard_limit=3, lease_seconds=600, starts_at=since)
    general = make_entitlement(seats=2, hard_limit=3, lease_seconds=600, starts_at=since)

    calls: list[str] = []
    real_run = statements.run

    def counting_run(sql: str, params: dict[str, Any]) -> Any:
        calls.append(sql)
        return real_run(sql, params)

    monkeypatch.setattr(statements, "run", counting_run)
    fast_answers = _story(fast)
    # Three new seats, one heartbeat, one release went through a single statement each.
    assert calls.count(statements.ACTIVATE) >= 3
    assert statements.HEARTBEAT in calls
    assert statements.RELEASE in calls

    monkeypatch.setattr(statements, "available", lambda: False)
    general_answers = _story(general)

    assert fast_answers == general_answers
    fast_rows, general_rows = _written(fast), _written(general)
    assert fast_rows == general_rows
    assert [e[0] for e in fast_rows["events"]] == [
        "seat.activated",
        "seat.activated",
        "seat.activated",
        "entitlement.overdraft_started",
        "entitlement.hard_limit_reached",
        "seat.denied",
        "seat.released",
        "entitlement.overdraft_ended",
    ]


def test_both_transitions_of_one_activation_come_in_order(make_entitlement: Any) -> None:
    """0 entitled, hard limit 1: the first seat starts overdraft and reaches the hard limit."""
    entitlement = make_entitlement(seats=0, hard_limit=1)
    result = services.seat_activate(entitlement=entitlement, fingerprint="only")
    assert result.status == "overdraft"
    types = list(
        Event.objects.filter(entitlement=entitlement).order_by("seq").values_list("type", flat=True)
    )
    assert types[-3:] == [
        "seat.activated",
        "entitlement.overdraft_started",
        "entitlement.hard_limit_reached",
    ]


def test_hot_statements_are_prepared_once_per_connection(make_entitlement: Any) -> None:
    """Django turns psycopg's prepared statements off unless OPTIONS names a threshold."""
    from django.db import connection

    entitlement = make_entitlement(seats=10, hard_limit=12)
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"prep-{n}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert sum("seats_used + 1" in text and "licensing_seat" in text for text in prepared) == 1


@pytest.mark.parametrize(
    "state", ["suspended", "not_started", "ended", "full", "held", "unknown key"]
)
def test_the_statement_leaves_every_other_case_to_the_transaction(
    make_entitlement: Any, state: str
) -> None:
    """An entitlement that takes no seats now, a full one, a fingerprint that holds a seat, a
    key that names no entitlement: the statement writes nothing and says so, and seat_activate
    goes on (licensing.zones.check_usable, its transaction, or UnknownLicenseKey)."""
    entitlement = make_entitlement(seats=1, hard_limit=1)
    if state == "suspended":
        Entitlement.objects.filter(pk=entitlement.pk).update(status="suspended")
    elif state == "not_started":
        Entitlement.objects.filter(pk=entitlement.pk).update(starts_at=T0 + timedelta(days=9999))
    elif state == "ended":
        Entitlement.objects.filter(pk=entitlement.pk).update(
            starts_at=T0 - timedelta(days=2), ends_at=T0
        )
    else:
        services.seat_activate(entitlement=entitlement, fingerprint="first")
    before = (Seat.objects.count(), Event.objects.count(), UsageBucket.objects.count())
    now = datetime.now(UTC)
    taken = statements.activate(
        license_key="NO-SUCH-KEY" if state == "unknown key" else entitlement.license_key,
        seat_id=uuid.uuid4(),
        fingerprint="first" if state == "held" else "second",
        label="",
        now=now,
        hour=now.replace(minute=0, second=0, microsecond=0),
    )
    assert taken is None
    assert (Seat.objects.count(), Event.objects.count(), UsageBucket.objects.count()) == before
    entitlement.refresh_from_db()
    assert entitlement.seats_used == (0 if state in {"suspended", "not_started", "ended"} else 1)


def test_writing_events_takes_no_lock_on_the_customer_row(make_entitlement: Any) -> None:
    """Migration 0005: no foreign-key check on events' customer, whose KEY SHARE locks became
    MultiXacts under concurrent activations of one customer's entitlements."""
    import psycopg
    from django.db import connection

    entitlement = make_entitlement(seats=5, hard_limit=6)
    params = {**connection.get_connection_params()}
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute(
            "SELECT 1 FROM licensing_customer WHERE id = %s FOR UPDATE", [entitlement.customer_id]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        try:
            result = services.seat_activate(entitlement=entitlement, fingerprint="while-locked")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    assert result.status == "ok"
