"""Temporary raises (licensing.services.raises): granted by the account team, started and ended by
the periodic job with the clock held, and never revoking a seat when they end."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from licensing import services
from licensing.models import AuditEntry, Entitlement, EntitlementTerms, Event, Seat, TemporaryRaise

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T = Event.Type


def _lines(entitlement: Entitlement) -> tuple[int, int | None, int | None]:
    entitlement.refresh_from_db()
    return entitlement.seats, entitlement.hard_limit, entitlement.customer_cap


def _activate(entitlement: Entitlement, count: int, prefix: str) -> list[str]:
    return [
        services.seat_activate(entitlement=entitlement, fingerprint=f"{prefix}-{n}").status
        for n in range(count)
    ]


def test_a_raise_starts_and_ends_by_itself_and_never_revokes_a_seat(
    make_entitlement, customer_admin, account_manager, django_capture_on_commit_callbacks
):
    """10 seats, hard limit 12; +5 seats and +5 hard limit from 10:00 to the next day's 9:00.
    16 seats are in use when it ends: all stay; new activations follow 10/12."""
    run = django_capture_on_commit_callbacks
    with time_machine.travel(T0, tick=False) as clock:
        entitlement = make_entitlement(seats=10, hard_limit=12, starts_at=T0 - timedelta(days=1))
        with run(execute=True):
            granted = services.raise_grant(
                entitlement=entitlement,
                extra_seats=5,
                extra_hard_limit=5,
                starts_at=T0 + timedelta(hours=1),
                ends_at=T0 + timedelta(days=1),
                reason="quarter close",
                actor=services.Actor.of(account_manager),
            )
            assert services.raises_apply() == 0  # not due yet
        assert granted.status == TemporaryRaise.Status.SCHEDULED
        assert _lines(entitlement) == (10, 12, None)

        clock.move_to(T0 + timedelta(hours=1))
        with run(execute=True):
            assert services.raises_apply() == 1
            assert services.raises_apply() == 0  # a second run finds nothing to do
        assert _lines(entitlement) == (15, 17, None)
        with run(execute=True):
            statuses = _activate(entitlement, 16, "busy")
        assert statuses == ["ok"] * 15 + ["overdraft"]

        clock.move_to(T0 + timedelta(days=1))
        with run(execute=True):
            assert services.raises_apply() == 1
            assert services.raises_apply() == 0

        assert _lines(entitlement) == (10, 12, None)
        # None revoked: all 16 still held, 4 above the hard limit.
        assert Seat.objects.filter(entitlement=entitlement, released_at=None).count() == 16
        assert (entitlement.seats_used, entitlement.seats_held_over) == (16, 16)
        late = services.seat_activate(entitlement=entitlement, fingerprint="late-1")
        assert (late.status, late.counts.denial_code) == ("denied", "hard_limit_reached")
        # A held seat's client re-activating keeps its seat.
        again = services.seat_activate(entitlement=entitlement, fingerprint="busy-3")
        assert again.created is False

        # Released down to 11: the next activation is judged by the restored lines.
        for seat in Seat.objects.filter(entitlement=entitlement, released_at=None)[:5]:
            services.seat_release(entitlement=entitlement, seat_id=seat.pk)
        assert services.seat_activate(entitlement=entitlement, fingerprint="late-2").status == (
            "overdraft"
        )
        assert services.seat_activate(entitlement=entitlement, fingerprint="late-3").status == (
            "denied"
        )
        services.raises_apply()
        entitlement.refresh_from_db()
        assert (entitlement.seats_used, entitlement.seats_held_over) == (12, None)

    started = Event.objects.get(type=T.RAISE_STARTED)
    ended = Event.objects.get(type=T.RAISE_ENDED)
    assert started.occurred_at == T0 + timedelta(hours=1)
    assert (started.data["previous"], started.data["raised"]) == (
        {"seats": 10, "hard_limit": 12, "customer_cap": None},
        {"seats": 15, "hard_limit": 17, "customer_cap": None},
    )
    assert started.data["reason"] == "quarter close"
    assert ended.occurred_at == T0 + timedelta(days=1)
    assert ended.data["restored"] == {"seats": 10, "hard_limit": 12, "customer_cap": None}
    assert (ended.data["seats_held_over"], ended.data["early"]) == (16, False)
    assert ended.data["seats"]["used"] == 16

    # The terms history: each hour is judged by the lines in force then.
    assert [
        (t.effective_from, t.seats, t.hard_limit)
        for t in EntitlementTerms.objects.filter(entitlement=entitlement)
    ] == [
        (T0, 10, 12),
        (T0 + timedelta(hours=1), 15, 17),
        (T0 + timedelta(days=1), 10, 12),
    ]
    subjects = sorted(m.subject for m in mail.outbox if "temporary raise" in m.subject)
    assert subjects == [
        "Acme Corp: Design Studio has 15 seats until 2 Dec 2026 (temporary raise)",
        "Acme Corp: Design Studio has 15 seats until 2 Dec 2026 (temporary raise)",
        "Acme Corp: the temporary raise of Design Studio ended (10 seats again)",
        "Acme Corp: the temporary raise of Design Studio ended (10 seats again)",
    ]
    ended_to = sorted(m.to[0] for m in mail.outbox if "raise of" in m.subject)
    assert ended_to == sorted([customer_admin.email, account_manager.email])
    ended_mail = next(m for m in mail.outbox if "raise of" in m.subject)
    assert "16 seats are in use, above the lines now" in ended_mail.body
    audited = AuditEntry.objects.filter(target_type="temporaryraise").union(
        AuditEntry.objects.filter(action__startswith="raise.")
    )
    assert [a.action for a in audited.order_by("occurred_at", "action")] == [
        AuditEntry.Action.RAISE_GRANTED,
        AuditEntry.Action.RAISE_STARTED,
        AuditEntry.Action.RAISE_ENDED,
    ]
    raise_ = TemporaryRaise.objects.get()
    assert (raise_.status, raise_.started_at, raise_.ended_at) == (
        "ended",
        T0 + timedelta(hours=1),
        T0 + timedelta(days=1),
    )


def test_a_raise_granted_to_start_now_starts_at_once(make_entitlement):
    entitlement = make_entitlement(seats=100, hard_limit=None)
    with time_machine.travel(T0, tick=False):
        granted = services.raise_grant(
            entitlement=entitlement, extra_seats=20, ends_at=T0 + timedelta(days=30)
        )
    assert granted.status == TemporaryRaise.Status.RUNNING
    assert _lines(entitlement) == (120, None, None)
    assert Event.objects.filter(type=T.RAISE_STARTED).count() == 1


def test_the_customers_cap_is_kept_through_a_raise(make_entitlement, customer_admin):
    """Cap 11 on 10/12. Raised to 15/17 the cap moves up to the seats (15), and comes back to
    11 at the end. A cap the customer changed during the raise is theirs: kept (within the
    lines)."""
    entitlement = make_entitlement(seats=10, hard_limit=12, starts_at=T0 - timedelta(days=1))
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=11)
    with time_machine.travel(T0, tick=False) as clock:
        services.raise_grant(
            entitlement=entitlement,
            extra_seats=5,
            extra_hard_limit=5,
            ends_at=T0 + timedelta(hours=2),
        )
        assert _lines(entitlement) == (15, 17, 15)
        clock.move_to(T0 + timedelta(hours=2))
        services.raises_apply()
        assert _lines(entitlement) == (10, 12, 11)

        services.raise_grant(
            entitlement=entitlement,
            extra_seats=0,
            extra_hard_limit=8,
            ends_at=T0 + timedelta(hours=4),
        )
        assert _lines(entitlement) == (10, 20, 11)  # it fits: unchanged
        services.entitlement_set_customer_cap(
            entitlement=entitlement,
            customer_cap=18,
            actor=services.Actor.of(customer_admin),
        )
        clock.move_to(T0 + timedelta(hours=4))
        services.raises_apply()
        assert _lines(entitlement) == (10, 12, 12)  # theirs, brought down to the hard limit


def test_ending_a_raise_early_and_cancelling_a_scheduled_one(make_entitlement, account_manager):
    entitlement = make_entitlement(seats=10, hard_limit=12)
    actor = services.Actor.of(account_manager)
    with time_machine.travel(T0, tick=False):
        running = services.raise_grant(
            entitlement=entitlement, extra_seats=2, extra_hard_limit=2, ends_at=T0 + timedelta(1)
        )
        scheduled = services.raise_grant(
            entitlement=entitlement,
            extra_hard_limit=5,
            starts_at=T0 + timedelta(days=2),
            ends_at=T0 + timedelta(days=3),
        )
        services.raise_end(raise_=running, actor=actor)
        services.raise_end(raise_=scheduled, actor=actor)
        with pytest.raises(ValidationError) as over:
            services.raise_end(raise_=scheduled, actor=actor)
    assert over.value.messages == ["This raise is cancelled already."]
    assert (running.status, scheduled.status) == ("ended", "cancelled")
    assert _lines(entitlement) == (10, 12, None)
    ended = Event.objects.get(type=T.RAISE_ENDED)
    assert (ended.data["early"], ended.data["ended_by"]) == (True, account_manager.email)
    assert not Event.objects.filter(type=T.RAISE_STARTED, data__raise_id=str(scheduled.pk))
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RAISE_CANCELLED).count() == 1


def test_a_raise_whose_time_passed_unseen_ends_without_changing_the_terms(make_entitlement):
    entitlement = make_entitlement(seats=10, hard_limit=12)
    with time_machine.travel(T0, tick=False) as clock:
        services.raise_grant(
            entitlement=entitlement,
            extra_seats=3,
            extra_hard_limit=3,
            starts_at=T0 + timedelta(hours=1),
            ends_at=T0 + timedelta(hours=2),
        )
        clock.move_to(T0 + timedelta(hours=3))  # the job did not run meanwhile
        assert services.raises_apply() == 1
    assert TemporaryRaise.objects.get().status == "ended"
    assert _lines(entitlement) == (10, 12, None)
    assert not Event.objects.filter(type__in=[T.RAISE_STARTED, T.RAISE_ENDED]).exists()
    assert EntitlementTerms.objects.filter(entitlement=entitlement).count() == 1


@pytest.mark.parametrize(
    ("kwargs", "errors_"),
    [
        ({}, {"extra_seats": ["A raise adds seats, hard limit or both: give a number above 0."]}),
        ({"extra_seats": -1}, {"extra_seats": ["Give a number from 0 to 1,000,000."]}),
        (
            {"extra_seats": 10},
            {
                "extra_hard_limit": [
                    "The raised seats (110) would be above the raised hard limit (105): raise"
                    " the hard limit by at least 5."
                ]
            },
        ),
        (
            {"extra_seats": 1, "ends_at": T0 - timedelta(hours=1)},
            {"ends_at": ["The raise must end after it starts."]},
        ),
        (
            {"extra_seats": 1, "ends_at": T0 + timedelta(days=400)},
            {
                "ends_at": [
                    "A temporary raise lasts at most 366 days; for a lasting one, change the terms."
                ]
            },
        ),
        (
            {"extra_seats": 1, "reason": "x" * 201},
            {"reason": ["At most 200 characters, please (this has 201)."]},
        ),
        (
            {"extra_seats": 1, "starts_at": T0 + timedelta(days=2)},
            {
                "starts_at": [
                    "A raise (+1 seat) is scheduled from 2 Dec 2026 09:00 UTC to 4 Dec 2026 09:00"
                    " UTC: end it, or pick dates after it."
                ]
            },
        ),
    ],
)
def test_a_raise_that_makes_no_sense_is_refused_and_writes_nothing(
    make_entitlement, kwargs, errors_
):
    entitlement = make_entitlement(seats=100, hard_limit=105)
    with time_machine.travel(T0, tick=False):
        services.raise_grant(
            entitlement=entitlement,
            extra_seats=1,
            starts_at=T0 + timedelta(days=1),
            ends_at=T0 + timedelta(days=3),
        )
        before = (TemporaryRaise.objects.count(), AuditEntry.objects.count(), Event.objects.count())
        with pytest.raises(ValidationError) as refused:
            services.raise_grant(
                entitlement=entitlement,
                **{
                    "ends_at": T0 + timedelta(days=4),
                    "starts_at": T0 + timedelta(days=3),
                    **kwargs,
                },
            )
    assert refused.value.message_dict == errors_
    after = (TemporaryRaise.objects.count(), AuditEntry.objects.count(), Event.objects.count())
    assert after == before
    assert _lines(entitlement) == (100, 105, None)


def test_an_unlimited_overdraft_has_no_hard_limit_to_raise(make_entitlement):
    entitlement = make_entitlement(seats=100, hard_limit=None)
    with pytest.raises(ValidationError) as refused:
        services.raise_grant(
            entitlement=entitlement, extra_hard_limit=5, ends_at=T0 + timedelta(days=3)
        )
    assert list(refused.value.message_dict) == ["extra_hard_limit"]


def test_the_database_still_refuses_seats_above_the_limit_unless_held_over(make_entitlement):
    """The CHECK constraints are the zone rule's last line: only seats held over after a raise
    may stand above the hard limit or the cap."""
    entitlement = make_entitlement(seats=2, hard_limit=3)
    rows = Entitlement.objects.filter(pk=entitlement.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(seats_used=4)
    rows.update(seats_held_over=4, seats_used=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(seats_used=5)
