"""What an activation answers and writes, case by case, on both of its paths.

On PostgreSQL a new seat below the hard limit is one statement (licensing.statements); every
other case (SQLite always) goes through one transaction. The answers here hold on both: each
test that does not name its path runs on both databases, and the races that only the
transaction meets run on PostgreSQL with the statement switched off.
"""

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from licensing import errors, hooks, leases, services, signing, statements
from licensing.models import Entitlement, Event, Seat, UsageBucket
from licensing.services.seats import ActivationResult
from licensing.zones import SeatCounts
from tests.conftest import client_for, record_statements

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
SINCE = T0 - timedelta(days=1)
HELD = "This fingerprint already holds a seat."

MakeEntitlement = Callable[..., Entitlement]


def _activate(entitlement: Entitlement, fingerprint: str, at: datetime, **extra: Any) -> Any:
    return services.seat_activate(entitlement=entitlement, fingerprint=fingerprint, now=at, **extra)


def _common(entitlement: Entitlement, used: int, entitled: int, hard: int | None) -> dict[str, Any]:
    """What every Event of `entitlement` carries, with the counts after the change."""
    return {
        "entitlement_id": str(entitlement.pk),
        "customer_id": str(entitlement.customer_id),
        "product_id": str(entitlement.product_id),
        "seats": {
            "used": used,
            "entitled": entitled,
            "hard_limit": hard,
            "customer_cap": None,
            "available": None if hard is None else hard - used,
        },
    }


def _events(entitlement: Entitlement) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.type, event.data)
        for event in Event.objects.filter(entitlement=entitlement)
        .exclude(type=Event.Type.ENTITLEMENT_CREATED)
        .order_by("seq")
    ]


def _bucket(entitlement: Entitlement, hour: datetime) -> tuple[int, ...]:
    """(peak, closing, activations, overdraft activations, denials, releases) of one hour."""
    return UsageBucket.objects.values_list(
        "peak_used", "closing_used", "activations", "overdraft_activations", "denials", "releases"
    ).get(entitlement=entitlement, hour=hour)


def _row(seat_id: Any) -> tuple[Any, ...]:
    return Seat.objects.values_list(
        "entitlement_id",
        "fingerprint",
        "label",
        "activated_at",
        "last_heartbeat_at",
        "lease_expires_at",
        "released_at",
        "overdraft",
    ).get(pk=seat_id)


def _fields(seat: Seat) -> tuple[Any, ...]:
    """What `_row` reads, of a Seat as a service returned it."""
    return (
        seat.entitlement_id,
        seat.fingerprint,
        seat.label,
        seat.activated_at,
        seat.last_heartbeat_at,
        seat.lease_expires_at,
        seat.released_at,
        seat.overdraft,
    )


# --- granted --------------------------------------------------------------------------------


def test_a_seat_within_the_entitled_seats_is_granted_ok_with_the_row_it_wrote(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4, lease_seconds=60, starts_at=SINCE)

    result = _activate(entitlement, "laptop-7", T0, label="Ada's laptop")

    assert (result.status, result.created, result.retry_after) == ("ok", True, None)
    assert result.counts == SeatCounts(used=1, entitled=2, hard_limit=4)
    assert result.message == "Seat granted: 1 of 2 entitled seats in use."
    seat = result.seat
    assert seat is not None
    row = (entitlement.pk, "laptop-7", "Ada's laptop", T0, T0, T0 + timedelta(seconds=60), None)
    assert _row(seat.pk) == (*row, False)
    assert _fields(seat) == (*row, False)
    # The seat comes back attached to the entitlement passed in, and as the saved row it is.
    assert seat.entitlement is entitlement
    seat.full_clean()
    assert _events(entitlement) == [
        (
            "seat.activated",
            {
                **_common(entitlement, 1, 2, 4),
                "activation_id": str(seat.pk),
                "fingerprint": "laptop-7",
                "label": "Ada's laptop",
                "overdraft": False,
            },
        )
    ]
    assert _bucket(entitlement, T0.replace(minute=0)) == (1, 1, 1, 0, 0, 0)


def test_a_seat_taken_by_license_key_comes_back_as_written(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4, lease_seconds=60, starts_at=SINCE)

    result = services.seat_activate(
        license_key=entitlement.license_key, fingerprint="laptop-7", label="Ada's laptop", now=T0
    )

    assert (result.status, result.created) == ("ok", True)
    seat = result.seat
    assert seat is not None
    lease = T0 + timedelta(seconds=60)
    expected = (entitlement.pk, "laptop-7", "Ada's laptop", T0, T0, lease, None, False)
    assert _row(seat.pk) == expected
    assert _fields(seat) == expected
    seat.full_clean()


def test_a_seat_activated_without_a_label_has_none(make_entitlement: MakeEntitlement) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4, starts_at=SINCE)

    result = _activate(entitlement, "laptop-7", T0)

    assert result.seat is not None
    assert result.seat.label == ""
    assert Seat.objects.get(pk=result.seat.pk).label == ""


def test_a_seat_past_the_entitled_seats_is_granted_in_overdraft_below_the_hard_limit(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4, starts_at=SINCE)
    _activate(entitlement, "a", T0)
    _activate(entitlement, "b", T0)

    result = _activate(entitlement, "c", T0)

    assert (result.status, result.created, result.retry_after) == ("overdraft", True, None)
    assert result.counts == SeatCounts(used=3, entitled=2, hard_limit=4)
    assert result.message == "Seat granted in overdraft: 3 in use, 2 entitled, hard limit 4."


def test_a_seat_in_overdraft_without_a_hard_limit_says_there_is_none(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=None, starts_at=SINCE)
    _activate(entitlement, "a", T0)
    _activate(entitlement, "b", T0)

    result = _activate(entitlement, "c", T0)

    assert (result.status, result.created) == ("overdraft", True)
    assert result.counts == SeatCounts(used=3, entitled=2, hard_limit=None)
    assert result.message == "Seat granted in overdraft: 3 in use, 2 entitled, no hard limit."


def test_committed_events_of_an_activation_reach_the_listeners(
    make_entitlement: MakeEntitlement,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    entitlement = make_entitlement(seats=0, hard_limit=2, starts_at=SINCE)
    monkeypatch.setattr(hooks, "_listeners", [])
    heard: list[int] = []
    hooks.on_events_committed(heard.extend)

    with django_capture_on_commit_callbacks(execute=True):
        _activate(entitlement, "first", T0)

    written = list(
        Event.objects.filter(entitlement=entitlement)
        .exclude(type=Event.Type.ENTITLEMENT_CREATED)
        .order_by("seq")
        .values_list("type", "seq")
    )
    assert [kind for kind, _ in written] == ["seat.activated", "entitlement.overdraft_started"]
    assert heard == [seq for _, seq in written]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_seat_below_the_hard_limit_is_one_statement(
    make_entitlement: MakeEntitlement,
    django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """statements.run goes past Django's cursor: any query counted here is the general path.
    (The listeners, such as the webhooks' outbox, run after the commit and are not counted.)"""
    entitlement = make_entitlement(seats=2, hard_limit=4, starts_at=SINCE)
    monkeypatch.setattr(hooks, "_listeners", [])

    with django_assert_num_queries(0):
        by_key = services.seat_activate(
            license_key=entitlement.license_key, fingerprint="a", now=T0
        )
        by_entitlement = _activate(entitlement, "b", T0)

    assert (by_key.status, by_key.created) == ("ok", True)
    assert (by_entitlement.status, by_entitlement.created) == ("ok", True)
    assert Seat.objects.filter(entitlement=entitlement, released_at=None).count() == 2


# --- held -----------------------------------------------------------------------------------


@pytest.fixture(params=["statement", "transaction"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A held seat is renewed by the statement where PostgreSQL has it, else by the
    transaction (SQLite; and on PostgreSQL a race, or a lease that ran out): both, here."""
    if request.param == "transaction":
        monkeypatch.setattr(statements, "available", lambda: False)
    return str(request.param)


def test_reactivating_a_held_fingerprint_renews_it_and_takes_its_new_label(
    make_entitlement: MakeEntitlement, path: str
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4, lease_seconds=60, starts_at=SINCE)
    first = _activate(entitlement, "laptop-7", T0, label="old name")
    assert first.seat is not None
    later = T0 + timedelta(seconds=20)

    again = _activate(entitlement, "laptop-7", later, label="new name")

    assert (again.status, again.created, again.retry_after) == ("ok", False, None)
    assert again.counts == SeatCounts(used=1, entitled=2, hard_limit=4)
    assert again.message == HELD
    assert again.seat is not None
    assert again.seat.pk == first.seat.pk
    lease = later + timedelta(seconds=60)
    row = (entitlement.pk, "laptop-7", "new name", T0, later, lease, None, False)
    assert _row(first.seat.pk) == row
    assert [kind for kind, _ in _events(entitlement)] == ["seat.activated"]


def test_reactivating_without_a_label_keeps_the_held_seats_label(
    make_entitlement: MakeEntitlement, path: str
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4, starts_at=SINCE)
    first = _activate(entitlement, "laptop-7", T0, label="Ada's laptop").seat
    assert first is not None
    later = T0 + timedelta(seconds=20)

    again = _activate(entitlement, "laptop-7", later)

    assert again.seat is not None
    assert (again.seat.pk, again.seat.label) == (first.pk, "Ada's laptop")
    assert _row(first.pk) == (
        entitlement.pk,
        "laptop-7",
        "Ada's laptop",
        T0,
        later,
        None,
        None,
        False,
    )


def test_reactivating_a_held_overdraft_seat_says_overdraft(
    make_entitlement: MakeEntitlement, path: str
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=2, starts_at=SINCE)
    _activate(entitlement, "a", T0)
    _activate(entitlement, "b", T0)

    again = _activate(entitlement, "b", T0 + timedelta(seconds=5))

    assert (again.status, again.created, again.message) == ("overdraft", False, HELD)
    assert again.counts == SeatCounts(used=2, entitled=1, hard_limit=2)
    assert again.seat is not None
    assert again.seat.overdraft is True


@pytest.mark.parametrize(
    ("lease_seconds", "offline_grace_seconds", "grace"),
    [(60, None, 0), (None, None, 72 * 3600), (60, 3600, 3600), (None, 600, 600)],
    ids=["floating", "named", "floating with a grace", "named with a grace"],
)
def test_a_granted_seat_new_or_held_comes_with_the_offline_grace_of_its_entitlement(
    make_entitlement: MakeEntitlement,
    path: str,
    lease_seconds: int | None,
    offline_grace_seconds: int | None,
    grace: int,
) -> None:
    """How long its lease token licenses it offline past the lease (licensing.leases): the
    entitlement's grace, else none for a floating seat and 72 hours for a named one."""
    entitlement = make_entitlement(
        seats=2,
        hard_limit=4,
        lease_seconds=lease_seconds,
        offline_grace_seconds=offline_grace_seconds,
        starts_at=SINCE,
    )

    new = _activate(entitlement, "laptop-7", T0)
    held = _activate(entitlement, "laptop-7", T0 + timedelta(seconds=10))

    assert (new.created, new.offline_grace) == (True, grace)
    assert (held.created, held.offline_grace) == (False, grace)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reactivating_a_held_seat_is_one_statement_and_answers_the_seat_as_stored(
    make_entitlement: MakeEntitlement,
    django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same statement as a new seat's (licensing.statements.ACTIVATE), and no other query:
    no lookup of the key, no read of the seat or of the counts (issue 22)."""
    entitlement = make_entitlement(seats=1, hard_limit=4, lease_seconds=60, starts_at=SINCE)
    _activate(entitlement, "other", T0)
    first = _activate(entitlement, "laptop-7", T0, label="old name").seat
    assert first is not None
    ran = record_statements(monkeypatch)
    later = T0 + timedelta(seconds=30)

    with django_assert_num_queries(0):
        by_key = services.seat_activate(
            license_key=entitlement.license_key, fingerprint="laptop-7", now=later
        )
        by_entitlement = _activate(entitlement, "laptop-7", later, label="new name")

    assert ran == [statements.ACTIVATE, statements.ACTIVATE]
    assert (by_key.status, by_key.created, by_key.message, by_key.retry_after) == (
        "overdraft",
        False,
        HELD,
        None,
    )
    assert by_key.counts == SeatCounts(used=2, entitled=1, hard_limit=4)
    seat = by_entitlement.seat
    assert seat is not None
    lease = later + timedelta(seconds=60)
    row = (entitlement.pk, "laptop-7", "new name", T0, later, lease, None, True)
    assert _row(first.pk) == row
    assert (seat.pk, *_fields(seat)) == (first.pk, *row)
    assert seat.entitlement is entitlement
    seat.full_clean()
    assert by_key.seat is not None
    assert (by_key.seat.pk, by_key.seat.label) == (first.pk, "old name")


def test_reactivation_through_the_api_answers_200_with_the_held_message(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=4)
    client = client_for(entitlement)
    first = client.post("/api/v1/activations", {"fingerprint": "laptop-7"}, format="json")

    again = client.post("/api/v1/activations", {"fingerprint": "laptop-7"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    body = again.json()
    lease, valid_until = body.pop("lease"), body.pop("lease_valid_until")
    claims = leases.verify(lease, signing.jwks(), fingerprint="laptop-7")
    assert (claims["sub"], claims["zone"]) == (first.json()["id"], "ok")
    assert valid_until == datetime.fromtimestamp(claims["exp"], UTC).isoformat()
    assert body == {
        "id": first.json()["id"],
        "status": "ok",
        "fingerprint": "laptop-7",
        "overdraft": False,
        "seats": {"used": 1, "entitled": 2, "hard_limit": 4, "customer_cap": None, "available": 3},
        "lease_expires_at": None,
        "message": HELD,
    }


# --- the transaction: a held seat whose lease ran out, a released one ------------------------


def test_a_fingerprint_whose_lease_ran_out_gets_a_new_seat_and_no_zone_event(
    make_entitlement: MakeEntitlement,
) -> None:
    """3 in use of 1 entitled: c's seat expires (3 -> 2) and c takes a new one (2 -> 3), all in
    overdraft, so neither change crosses a line."""
    entitlement = make_entitlement(seats=1, hard_limit=5, lease_seconds=60, starts_at=SINCE)
    for fingerprint in ["a", "b"]:
        _activate(entitlement, fingerprint, T0)
    old = _activate(entitlement, "c", T0, label="c first").seat
    assert old is not None
    later = T0 + timedelta(seconds=90)

    result = _activate(entitlement, "c", later, label="c again")

    assert (result.status, result.created, result.retry_after) == ("overdraft", True, None)
    assert result.counts == SeatCounts(used=3, entitled=1, hard_limit=5)
    assert result.message == "Seat granted in overdraft: 3 in use, 1 entitled, hard limit 5."
    new = result.seat
    assert new is not None
    assert new.pk != old.pk
    assert new.entitlement is entitlement
    lease = later + timedelta(seconds=60)
    assert _row(new.pk) == (entitlement.pk, "c", "c again", later, later, lease, None, True)
    assert Seat.objects.values_list("released_at", "release_reason").get(pk=old.pk) == (
        later,
        "expired",
    )
    assert _events(entitlement)[-2:] == [
        (
            "seat.expired",
            {
                **_common(entitlement, 2, 1, 5),
                "activation_id": str(old.pk),
                "fingerprint": "c",
                "label": "c first",
                "overdraft": True,
                "reason": "expired",
            },
        ),
        (
            "seat.activated",
            {
                **_common(entitlement, 3, 1, 5),
                "activation_id": str(new.pk),
                "fingerprint": "c",
                "label": "c again",
                "overdraft": True,
            },
        ),
    ]
    assert [kind for kind, _ in _events(entitlement)] == [
        "seat.activated",
        "seat.activated",
        "entitlement.overdraft_started",
        "seat.activated",
        "seat.expired",
        "seat.activated",
    ]
    assert _bucket(entitlement, T0.replace(minute=0)) == (3, 3, 4, 3, 0, 1)


def test_a_released_seat_does_not_let_its_fingerprint_past_a_full_entitlement(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=2, starts_at=SINCE)
    gone = _activate(entitlement, "a", T0).seat
    assert gone is not None
    services.seat_release(entitlement=entitlement, seat_id=gone.pk, now=T0)
    _activate(entitlement, "b", T0)
    _activate(entitlement, "c", T0)

    result = _activate(entitlement, "a", T0)

    assert (result.status, result.seat, result.created) == ("denied", None, False)
    assert result.counts == SeatCounts(used=2, entitled=1, hard_limit=2)


# --- denied ---------------------------------------------------------------------------------


def test_a_denial_at_the_hard_limit_names_the_overdraft_and_writes_its_event(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=3, starts_at=SINCE)
    for fingerprint in ["a", "b", "c"]:
        _activate(entitlement, fingerprint, T0)

    result = _activate(entitlement, "d", T0, label="build box")

    assert (result.status, result.granted, result.seat, result.created) == (
        "denied",
        False,
        None,
        False,
    )
    assert result.retry_after is None  # named seats: nothing frees itself
    assert result.counts == SeatCounts(used=3, entitled=2, hard_limit=3)
    assert result.message == (
        "Activation denied: all 3 seats (2 entitled + 1 overdraft) are in use."
        " Release a seat or ask your vendor for more."
    )
    assert _events(entitlement)[-1] == (
        "seat.denied",
        {
            **_common(entitlement, 3, 2, 3),
            "fingerprint": "d",
            "label": "build box",
            "code": "hard_limit_reached",
        },
    )
    assert _bucket(entitlement, T0.replace(minute=0)) == (3, 3, 3, 1, 1, 0)
    assert Seat.objects.filter(entitlement=entitlement).count() == 3


def test_a_denial_without_overdraft_names_only_the_seats(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=2, hard_limit=2, starts_at=SINCE)
    _activate(entitlement, "a", T0)
    _activate(entitlement, "b", T0)

    result = _activate(entitlement, "c", T0)

    assert result.status == "denied"
    assert result.message == (
        "Activation denied: all 2 seats are in use. Release a seat or ask your vendor for more."
    )
    assert _events(entitlement)[-1] == (
        "seat.denied",
        {
            **_common(entitlement, 2, 2, 2),
            "fingerprint": "c",
            "label": "",
            "code": "hard_limit_reached",
        },
    )


def test_a_denial_on_an_entitlement_of_no_seats(make_entitlement: MakeEntitlement) -> None:
    entitlement = make_entitlement(seats=0, hard_limit=0, starts_at=SINCE)

    result = _activate(entitlement, "a", T0)

    assert result.status == "denied"
    assert result.counts == SeatCounts(used=0, entitled=0, hard_limit=0)
    assert result.message == (
        "Activation denied: all 0 seats are in use. Release a seat or ask your vendor for more."
    )


def test_a_denial_through_the_api_is_409_with_the_message(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=2)
    client = client_for(entitlement)
    for fingerprint in ["a", "b"]:
        client.post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")

    denied = client.post("/api/v1/activations", {"fingerprint": "c"}, format="json")

    assert denied.status_code == 409
    assert denied.json() == {
        "status": "denied",
        "code": "hard_limit_reached",
        "message": "Activation denied: all 2 seats (1 entitled + 1 overdraft) are in use."
        " Release a seat or ask your vendor for more.",
        "seats": {"used": 2, "entitled": 1, "hard_limit": 2, "customer_cap": None, "available": 0},
        "retry_after": None,
    }


def test_a_denial_tries_the_counter_of_a_full_named_entitlement_once(
    make_entitlement: MakeEntitlement,
) -> None:
    """A full entitlement is not retried: the retry is for a read that finds room."""
    entitlement = make_entitlement(seats=1, hard_limit=1, starts_at=SINCE)
    _activate(entitlement, "a", T0)

    with CaptureQueriesContext(connection) as captured:
        result = _activate(entitlement, "b", T0)

    assert result.status == "denied"
    bumps = [q for q in captured if "SET seats_used = seats_used + 1" in q["sql"]]
    assert len(bumps) == 1


def test_a_floating_denial_says_when_the_next_held_lease_of_its_own_ends(
    make_entitlement: MakeEntitlement,
) -> None:
    """Held: b (lease to +70 s) and c (+80 s). Not counted: a, released with its lease to +60 s,
    and another entitlement's seat whose lease ends at +35 s."""
    entitlement = make_entitlement(seats=1, hard_limit=2, lease_seconds=60, starts_at=SINCE)
    other = make_entitlement(seats=1, hard_limit=1, lease_seconds=35, starts_at=SINCE)
    _activate(other, "x", T0)
    a = _activate(entitlement, "a", T0).seat
    assert a is not None
    _activate(entitlement, "b", T0 + timedelta(seconds=10))
    services.seat_release(entitlement=entitlement, seat_id=a.pk, now=T0 + timedelta(seconds=20))
    _activate(entitlement, "c", T0 + timedelta(seconds=20))

    result = _activate(entitlement, "d", T0 + timedelta(seconds=30))

    assert (result.status, result.retry_after) == ("denied", 40)


def test_a_floating_denial_a_second_before_a_lease_ends_says_retry_after_one_second(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=1, lease_seconds=60, starts_at=SINCE)
    _activate(entitlement, "a", T0)

    result = _activate(entitlement, "b", T0 + timedelta(seconds=59))

    assert (result.status, result.retry_after) == ("denied", 1)


def test_a_late_denial_never_overwrites_the_closing_level_a_seat_change_wrote(
    make_entitlement: MakeEntitlement,
) -> None:
    """A denial holds no lock on the counter, so the level it read may be newer than its hour's
    last seat change (here: its clock was read at 09:40, c's seat was taken at 10:05)."""
    entitlement = make_entitlement(seats=2, hard_limit=3, starts_at=SINCE)
    _activate(entitlement, "a", T0)
    _activate(entitlement, "b", T0)
    _activate(entitlement, "c", T0.replace(hour=10, minute=5))

    result = _activate(entitlement, "d", T0.replace(minute=40))

    assert result.status == "denied"
    closing, activations, denials = UsageBucket.objects.values_list(
        "closing_used", "activations", "denials"
    ).get(entitlement=entitlement, hour=T0.replace(minute=0))
    assert (closing, activations, denials) == (2, 2, 1)


# --- refused before any seat ------------------------------------------------------------------


def test_an_unknown_license_key_is_refused_with_its_message(db: Any) -> None:
    with pytest.raises(errors.UnknownLicenseKey) as refused:
        services.seat_activate(license_key="NOT-A-KEY", fingerprint="laptop-7", now=T0)

    assert str(refused.value) == "This license key is not valid."
    assert refused.value.message == "This license key is not valid."
    assert refused.value.code == "invalid_license_key"


def test_an_activation_on_an_entitlement_deleted_meanwhile_fails_and_says_why(
    make_entitlement: MakeEntitlement,
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=1, starts_at=SINCE)
    Entitlement.objects.filter(pk=entitlement.pk).delete()

    with pytest.raises(AssertionError) as failed:
        _activate(entitlement, "laptop-7", T0)

    assert str(failed.value) == "entitlement vanished during an activation"
    assert not Seat.objects.exists()


# --- races the transaction settles (PostgreSQL, real threads and connections) -----------------


class _Held:
    """Thread A activates `fingerprint` and keeps its transaction open; thread B activates the
    same fingerprint and blocks on A's row lock; A commits once B waits (or is done)."""

    def __init__(self, entitlement: Entitlement, fingerprint: str) -> None:
        self.entitlement = entitlement
        self.fingerprint = fingerprint
        self.holding = threading.Event()
        self.go = threading.Event()
        self.b_done = threading.Event()
        self.b_pid: list[int] = []
        self.results: dict[str, Any] = {}

    def _a(self) -> None:
        try:
            with transaction.atomic():
                self.results["a"] = _activate(self.entitlement, self.fingerprint, T0)
                self.holding.set()
                self.go.wait(timeout=30)
        except Exception as exc:  # reported by the test's assertions
            self.results["a"] = exc
            self.holding.set()
        finally:
            connection.close()

    def _b(self, at: datetime, label: str) -> None:
        try:
            connection.ensure_connection()
            self.b_pid.append(connection.connection.info.backend_pid)
            self.results["b"] = _activate(self.entitlement, self.fingerprint, at, label=label)
        except Exception as exc:  # reported by the test's assertions
            self.results["b"] = exc
        finally:
            self.b_done.set()
            connection.close()

    def _b_waits_for_a_lock(self) -> bool:
        if not self.b_pid:
            return False
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [self.b_pid[0]]
            )
            row = cursor.fetchone()
        return row is not None and row[0] == "Lock"

    def run(self, *, b_at: datetime, b_label: str) -> tuple[Any, Any]:
        a = threading.Thread(target=self._a)
        b = threading.Thread(target=self._b, args=(b_at, b_label))
        a.start()
        assert self.holding.wait(timeout=30), "A never took its seat"
        b.start()
        deadline = time.monotonic() + 20
        while not (self.b_done.is_set() or self._b_waits_for_a_lock()):
            assert time.monotonic() < deadline, "B neither waited for A's lock nor finished"
            time.sleep(0.01)
        self.go.set()
        a.join(timeout=30)
        b.join(timeout=30)
        assert not (a.is_alive() or b.is_alive()), "a thread hung"
        return self.results["a"], self.results["b"]


@pytest.fixture
def general_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The transaction alone, as on SQLite: the races below happen between its steps."""
    monkeypatch.setattr(statements, "available", lambda: False)
    yield


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_fingerprint_taken_meanwhile_is_returned_held_rather_than_twice(
    make_entitlement: MakeEntitlement, general_path: None
) -> None:
    """B found no seat for the fingerprint, then took a seat when A's commit let it: its insert
    then breaks the one-seat-per-fingerprint constraint, and it answers with A's seat."""
    entitlement = make_entitlement(seats=2, hard_limit=3, starts_at=SINCE)
    later = T0 + timedelta(seconds=10)

    a, b = _Held(entitlement, "laptop-7").run(b_at=later, b_label="from b")

    assert isinstance(a, ActivationResult) and a.seat is not None
    assert isinstance(b, ActivationResult), b
    assert (b.status, b.created, b.message, b.retry_after) == ("ok", False, HELD, None)
    assert b.counts == SeatCounts(used=1, entitled=2, hard_limit=3)
    assert b.offline_grace == 72 * 3600  # a named seat's
    assert b.seat is not None
    assert b.seat.pk == a.seat.pk
    assert _row(a.seat.pk) == (entitlement.pk, "laptop-7", "", T0, T0, None, None, False)
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 1
    assert [kind for kind, _ in _events(entitlement)] == ["seat.activated"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_fingerprint_that_took_the_last_seat_meanwhile_is_renewed_not_denied(
    make_entitlement: MakeEntitlement, general_path: None
) -> None:
    """A takes the last seat (in overdraft) for the fingerprint; B, for the same fingerprint,
    finds the entitlement full once A commits, and then finds A's seat: it renews that."""
    entitlement = make_entitlement(seats=1, hard_limit=2, starts_at=SINCE)
    _activate(entitlement, "other", T0)
    later = T0 + timedelta(seconds=10)

    a, b = _Held(entitlement, "laptop-7").run(b_at=later, b_label="from b")

    assert isinstance(a, ActivationResult) and a.seat is not None
    assert isinstance(b, ActivationResult), b
    assert (b.status, b.created, b.message, b.retry_after) == ("overdraft", False, HELD, None)
    assert b.counts == SeatCounts(used=2, entitled=1, hard_limit=2)
    assert b.seat is not None
    assert b.seat.pk == a.seat.pk
    assert _row(a.seat.pk) == (entitlement.pk, "laptop-7", "from b", T0, later, None, None, True)
    assert not Event.objects.filter(type=Event.Type.SEAT_DENIED).exists()
