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
from licensing.zones import SeatCounts
from tests.conftest import record_statements

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

    calls = record_statements(monkeypatch)
    fast_answers = _story(fast)
    # Four activations (three new seats and a denial, which the statement left to the
    # transaction) and a re-activation, a heartbeat, a release: a statement each.
    assert calls.count(statements.ACTIVATE) == 5
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
    "state",
    [
        "suspended",
        "not_started",
        "ended",
        "full",
        "held, lease ran out",
        "held, suspended",
        "unknown key",
    ],
)
def test_the_statement_leaves_every_other_case_to_the_transaction(
    make_entitlement: Any, state: str
) -> None:
    """An entitlement that takes no seats now (also for a fingerprint that holds a seat there),
    a full one, a held seat whose lease ran out, a key that names no entitlement: the statement
    writes nothing and says so, and seat_activate goes on (licensing.zones.check_usable, its
    transaction, which expires that seat, or UnknownLicenseKey)."""
    now = datetime.now(UTC)
    entitlement = make_entitlement(
        seats=1, hard_limit=1, lease_seconds=60, starts_at=now - timedelta(days=1)
    )
    if state == "suspended":
        Entitlement.objects.filter(pk=entitlement.pk).update(status="suspended")
    elif state == "not_started":
        Entitlement.objects.filter(pk=entitlement.pk).update(starts_at=T0 + timedelta(days=9999))
    elif state == "ended":
        Entitlement.objects.filter(pk=entitlement.pk).update(
            starts_at=T0 - timedelta(days=2), ends_at=T0
        )
    else:
        taken_at = now - timedelta(seconds=60 if state == "held, lease ran out" else 10)
        services.seat_activate(entitlement=entitlement, fingerprint="first", now=taken_at)
    if state == "held, suspended":
        Entitlement.objects.filter(pk=entitlement.pk).update(status="suspended")
    before = list(Seat.objects.values_list("last_heartbeat_at", "lease_expires_at", "label"))
    written = (Event.objects.count(), UsageBucket.objects.count())
    taken = statements.activate(
        license_key="NO-SUCH-KEY" if state == "unknown key" else entitlement.license_key,
        seat_id=uuid.uuid4(),
        fingerprint="first" if state.startswith("held") else "second",
        label="new name",
        now=now,
        hour=now.replace(minute=0, second=0, microsecond=0),
    )
    assert taken is None
    assert list(Seat.objects.values_list("last_heartbeat_at", "lease_expires_at", "label")) == (
        before
    )
    assert (Event.objects.count(), UsageBucket.objects.count()) == written
    entitlement.refresh_from_db()
    assert entitlement.seats_used == (0 if state in {"suspended", "not_started", "ended"} else 1)


@pytest.mark.parametrize("label", ["", "new name"])
def test_the_statement_renews_the_seat_a_fingerprint_holds_and_writes_nothing_else(
    make_entitlement: Any, label: str
) -> None:
    """As the transaction's renewal: the lease from now, the label when one is sent; no event,
    no bucket, the counter as it was. The answer is the seat's row and the counts."""
    now = datetime.now(UTC).replace(microsecond=0)
    entitlement = make_entitlement(
        seats=1, hard_limit=3, lease_seconds=60, starts_at=now - timedelta(days=1)
    )
    services.seat_activate(entitlement=entitlement, fingerprint="other", now=now)
    first = services.seat_activate(
        entitlement=entitlement,
        fingerprint="first",
        label="old name",
        now=now - timedelta(seconds=50),
    ).seat
    assert first is not None
    written = (Event.objects.count(), UsageBucket.objects.count())

    taken = statements.activate(
        license_key=entitlement.license_key,
        seat_id=uuid.uuid4(),
        fingerprint="first",
        label=label,
        now=now,
        hour=now.replace(minute=0, second=0),
    )

    assert taken == statements.Activation(
        created=False,
        seat_id=first.pk,
        entitlement_id=entitlement.pk,
        label=label or "old name",
        activated_at=now - timedelta(seconds=50),
        overdraft=True,
        lease_expires_at=now + timedelta(seconds=60),
        counts=SeatCounts(used=2, entitled=1, hard_limit=3),
        lease_seconds=60,
        offline_grace_seconds=None,
        seqs=[],
    )
    assert Seat.objects.values_list(
        "label", "activated_at", "last_heartbeat_at", "lease_expires_at", "released_at"
    ).get(pk=first.pk) == (
        label or "old name",
        now - timedelta(seconds=50),
        now,
        now + timedelta(seconds=60),
        None,
    )
    assert Seat.objects.count() == 2
    assert (Event.objects.count(), UsageBucket.objects.count()) == written
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 2


def test_a_statement_is_sent_with_one_numbered_parameter_per_name() -> None:
    """As psycopg would convert it on each call (`%%` a literal `%`), converted once."""
    sql = "SELECT %(a)s::text, %(b)s, %(a)s || '%%'"

    assert statements._to_native(sql) == ("SELECT $1::text, $2, $1 || '%'", ("a", "b"))
    assert statements._native[sql] == ("SELECT $1::text, $2, $1 || '%'", ("a", "b"))


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
