"""The periodic sweep releases floating seats whose lease ran out."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from licensing import services, tasks
from licensing.models import Event, Seat, UsageBucket


def test_sweep_expires_only_seats_whose_lease_ran_out(make_entitlement, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    floating = make_entitlement(seats=3, hard_limit=4, lease_seconds=60)
    other = make_entitlement(seats=1, hard_limit=2, lease_seconds=60)
    named = make_entitlement(seats=5, hard_limit=5)
    for n in range(4):  # the fourth is in overdraft
        services.seat_activate(entitlement=floating, fingerprint=f"f-{n}")
    services.seat_activate(entitlement=other, fingerprint="o-0")
    services.seat_activate(entitlement=named, fingerprint="n-0")
    time_machine.shift(30)
    fresh = services.seat_activate(entitlement=floating, fingerprint="f-0").seat  # renews
    time_machine.shift(31)

    expired = services.seats_expire_stale()

    assert expired == 4  # f-1, f-2, f-3 and o-0; f-0 renewed its lease, n-0 never expires
    assert fresh is not None
    assert Seat.objects.get(pk=fresh.pk).released_at is None
    assert Seat.objects.filter(release_reason=Seat.ReleaseReason.EXPIRED).count() == 4
    for entitlement, used in ((floating, 1), (other, 0), (named, 1)):
        entitlement.refresh_from_db()
        in_use = Seat.objects.filter(entitlement=entitlement, released_at=None).count()
        assert entitlement.seats_used == used == in_use
    assert Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count() == 4
    assert Event.objects.filter(type=Event.Type.OVERDRAFT_ENDED, entitlement=floating).count() == 1
    bucket = UsageBucket.objects.filter(entitlement=floating).latest("hour")
    assert bucket.closing_used == 1

    assert services.seats_expire_stale() == 0  # a second sweep finds nothing
    assert Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count() == 4


def test_sweep_of_one_entitlement_leaves_the_others_alone(make_entitlement, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    mine = make_entitlement(seats=1, hard_limit=1, lease_seconds=60)
    theirs = make_entitlement(seats=1, hard_limit=1, lease_seconds=60)
    services.seat_activate(entitlement=mine, fingerprint="a")
    services.seat_activate(entitlement=theirs, fingerprint="b")

    expired = services.seats_expire_stale(
        entitlement=mine, now=timezone.now() + timedelta(seconds=61)
    )

    assert expired == 1
    assert Seat.objects.get(fingerprint="a").release_reason == Seat.ReleaseReason.EXPIRED
    assert Seat.objects.get(fingerprint="b").released_at is None


def test_beat_runs_the_licensing_task_that_expires_stale_seats(make_entitlement):
    entitlement = make_entitlement(lease_seconds=60, starts_at=timezone.now() - timedelta(days=1))
    services.seat_activate(
        entitlement=entitlement, fingerprint="f", now=timezone.now() - timedelta(minutes=5)
    )
    entry = settings.CELERY_BEAT_SCHEDULE["licensing-expire-stale-seats"]
    assert entry["task"] == tasks.expire_stale_seats.name == "licensing.expire_stale_seats"
    assert tasks.expire_stale_seats.apply().get() == 1
    assert tasks.expire_stale_seats.apply().get() == 0  # safe to run twice
    assert Event.objects.filter(type="seat.expired").count() == 1
