"""Seats: activate, heartbeat, release, revoke, expire (the periodic sweep, and before a read).

Each is one function with one path. Where a single PostgreSQL statement serves the common cases
(a new seat below the hard limit or the re-activation of a held seat, a heartbeat of a held
seat, a release of a held seat: licensing.statements), it is the function's first step;
whatever it does not cover (SQLite, a held seat whose lease ran out, a full entitlement, a seat
not held) continues in one transaction below it, which writes the same rows
(tests/licensing/test_statements.py).

Lock order, to keep concurrent transactions free of deadlocks: seat rows first (in pk order),
then the entitlement row. An activation touches the entitlement row first, but after that it
only inserts a new seat row, which no other transaction can hold.

A floating seat whose lease ran out is no longer in use, but it counts in `seats_used` until it
is released (`seat.expired`). Releasing it is the one way it stops counting: an activation that
finds the entitlement full, a heartbeat of it, the periodic sweep (`seats_expire_stale`), and
every page and API read that shows seats in use or zones (`seats_expire_due` first), so no read
shows the counter with such a seat in it (docs/decisions.md, "Live counts").
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Min, QuerySet
from django.utils import timezone

from licensing import errors, hooks, leases, selectors, statements, zones
from licensing.models import AuditEntry, Entitlement, Event, Seat
from licensing.services._rows import (
    COUNT_COLUMNS,
    entitlement_pk,
    fetch_counts,
    give_back_seats,
    hour_of,
    record_usage,
    write_events,
    zone_events,
)
from licensing.services.audit import SYSTEM, Actor, audit_record
from licensing.services.validation import clean_fingerprint, clean_label
from licensing.zones import SeatCounts

Status = Literal["ok", "overdraft", "denied"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ActivationResult:
    status: Status
    counts: SeatCounts
    message: str
    seat: Seat | None = None
    created: bool = False
    retry_after: int | None = None
    # Seconds a granted seat stays licensed offline past its lease (licensing.leases).
    offline_grace: int = 0

    @property
    def granted(self) -> bool:
        return self.status != "denied"


# --- activation ---------------------------------------------------------------------------


def seat_activate(
    *,
    entitlement: Entitlement | None = None,
    license_key: str = "",
    fingerprint: str,
    label: str = "",
    now: datetime | None = None,
) -> ActivationResult:
    """Grant a seat to `fingerprint` on `entitlement`, or on the one `license_key` names: ok,
    overdraft, or denied at the hard limit.

    Re-activating a fingerprint that holds a seat returns that seat (and renews its lease).
    A full entitlement first reclaims floating seats whose lease ran out.
    Raises UnknownLicenseKey, EntitlementSuspended / EntitlementExpired /
    EntitlementNotStarted.
    """
    now = now or timezone.now()
    fingerprint = clean_fingerprint(fingerprint)
    label = clean_label(label)
    key = entitlement.license_key if entitlement is not None else license_key
    granted = _take_or_renew_seat(key, fingerprint, label, now)
    if granted is not None:
        if entitlement is not None and granted.seat is not None:
            granted.seat.entitlement = entitlement
        return granted
    entitlement = _entitlement_of(entitlement, key)
    zones.check_usable(entitlement, now)
    try:
        return _activate_in_transaction(entitlement, fingerprint, label, now)
    except IntegrityError:
        # Another request for the same fingerprint committed its seat first: return that one.
        seat = _seat_in_use(entitlement, fingerprint)
        if seat is None:
            raise
        return _held(seat, _counts_now(entitlement), _offline_grace(entitlement))


def _take_or_renew_seat(
    license_key: str, fingerprint: str, label: str, now: datetime
) -> ActivationResult | None:
    """The common cases in one statement, on an entitlement that takes seats now: the seat the
    fingerprint holds, renewed as `_renew` does, or else a new seat below the limit. None when
    neither applies (or on SQLite)."""
    if not statements.available():
        return None
    try:
        taken = statements.activate(
            license_key=license_key,
            seat_id=uuid.uuid4(),
            fingerprint=fingerprint,
            label=label,
            now=now,
            hour=hour_of(now),
        )
    except IntegrityError:
        return None  # the same fingerprint's seat was committed first: it holds a seat now
    if taken is None:
        return None
    hooks.events_written(taken.seqs)
    seat = _written_seat(
        id=taken.seat_id,
        entitlement_id=taken.entitlement_id,
        fingerprint=fingerprint,
        label=taken.label,
        activated_at=taken.activated_at,
        last_heartbeat_at=now,
        lease_expires_at=taken.lease_expires_at,
        overdraft=taken.overdraft,
    )
    grace = leases.offline_grace(taken.lease_seconds, taken.offline_grace_seconds)
    if taken.created:
        return _granted(seat, taken.counts, grace)
    return _held(seat, taken.counts, grace)


def _written_seat(**fields: Any) -> Seat:
    """A Seat for the row a statement just wrote, without reading it back."""
    seat = Seat(**fields)
    seat._state.adding, seat._state.db = False, connection.alias
    return seat


def _activate_in_transaction(
    entitlement: Entitlement, fingerprint: str, label: str, now: datetime
) -> ActivationResult:
    with transaction.atomic():
        seat = _seat_in_use(entitlement, fingerprint)
        if seat is not None and not _lease_expired(seat, now):
            renewed = _renew(entitlement, seat, label, now)
            if renewed is not None:
                return renewed
        elif seat is not None:  # its lease ran out: it goes, and the fingerprint starts anew
            _release_seats(entitlement, [seat], Seat.ReleaseReason.EXPIRED, now)
        counts, taken = _take_seat(entitlement)
        if not taken and entitlement.is_floating:
            stale = _stale_seats(entitlement, now)
            _release_seats(entitlement, stale, Seat.ReleaseReason.EXPIRED, now)
            counts, taken = _take_seat(entitlement)
        if not taken:
            # Full. A concurrent request for this fingerprint may have taken the last seat: its
            # commit released the row lock `_take_seat` waited on, so its seat is visible now.
            seat = _seat_in_use(entitlement, fingerprint)
            renewed = None if seat is None else _renew(entitlement, seat, label, now)
            return renewed or _deny(entitlement, counts, fingerprint, label, now)
        overdraft = counts.in_overdraft
        seat = Seat.objects.create(
            entitlement=entitlement,
            fingerprint=fingerprint,
            label=label,
            activated_at=now,
            last_heartbeat_at=now,
            lease_expires_at=_lease_end(entitlement, now),
            overdraft=overdraft,
        )
        before = dataclasses.replace(counts, used=counts.used - 1)
        write_events(
            entitlement,
            now,
            [(Event.Type.SEAT_ACTIVATED, _seat_data(seat)), *zone_events(before, counts)],
            counts,
        )
        record_usage(
            entitlement.pk,
            now,
            before=before.used,
            after=counts.used,
            activations=1,
            overdraft_activations=int(overdraft),
        )
    return _granted(seat, counts, _offline_grace(entitlement))


def _take_seat(entitlement: Entitlement) -> tuple[SeatCounts, bool]:
    """Add one seat to the counter unless the entitlement is at its hard limit: the counts
    after, and whether a seat was taken.

    One conditional UPDATE: the database checks the limit and bumps the counter atomically,
    and the row lock it takes, held until commit, orders every seat change of one
    entitlement. It judges the row as it was when the statement began, so it may miss a seat
    that a release committing meanwhile gave back: it is tried again while a fresh read finds
    room, and the entitlement counts as full only when that read finds it full.
    """
    table = Entitlement._meta.db_table
    has_room = zones.sql_has_room("seats_used", "hard_limit", "customer_cap")
    pk = entitlement_pk(entitlement.pk)
    for _ in range(4):
        taken = fetch_counts(
            f"UPDATE {table} SET seats_used = seats_used + 1 WHERE id = %s AND {has_room}"
            f" RETURNING {COUNT_COLUMNS}",
            [pk],
        )
        if taken is not None:
            return taken, True
        counts = _counts_now(entitlement)
        if not counts.has_room:
            return counts, False
    return counts, False


def _counts_now(entitlement: Entitlement) -> SeatCounts:
    table = Entitlement._meta.db_table
    counts = fetch_counts(
        f"SELECT {COUNT_COLUMNS} FROM {table} WHERE id = %s",
        [entitlement_pk(entitlement.pk)],
    )
    assert counts is not None, "entitlement vanished during an activation"
    return counts


def _granted(seat: Seat, counts: SeatCounts, offline_grace: int) -> ActivationResult:
    return ActivationResult(
        status="overdraft" if seat.overdraft else "ok",
        counts=counts,
        message=_granted_message(counts),
        seat=seat,
        created=True,
        offline_grace=offline_grace,
    )


def _held(seat: Seat, counts: SeatCounts, offline_grace: int) -> ActivationResult:
    return ActivationResult(
        status="overdraft" if seat.overdraft else "ok",
        counts=counts,
        message="This fingerprint already holds a seat.",
        seat=seat,
        offline_grace=offline_grace,
    )


def _offline_grace(entitlement: Entitlement) -> int:
    return leases.offline_grace(entitlement.lease_seconds, entitlement.offline_grace_seconds)


def _renew(
    entitlement: Entitlement, seat: Seat, label: str, now: datetime
) -> ActivationResult | None:
    """Renew the lease (and the label) of a seat read as held; None when a release committed
    since the read: the fingerprint holds no seat then, and the release stands."""
    fields: dict[str, Any] = {
        "last_heartbeat_at": now,
        "lease_expires_at": _lease_end(entitlement, now),
    }
    if label and label != seat.label:
        fields["label"] = label
    if not Seat.objects.filter(pk=seat.pk, released_at__isnull=True).update(**fields):
        return None
    for name, value in fields.items():
        setattr(seat, name, value)
    return _held(seat, _counts_now(entitlement), _offline_grace(entitlement))


def _deny(
    entitlement: Entitlement, counts: SeatCounts, fingerprint: str, label: str, now: datetime
) -> ActivationResult:
    retry_after = None
    if entitlement.is_floating:
        next_expiry = Seat.objects.filter(
            entitlement_id=entitlement.pk, released_at__isnull=True
        ).aggregate(next=Min("lease_expires_at"))["next"]
        if next_expiry is not None:
            retry_after = max(1, int((next_expiry - now).total_seconds() + 0.999))
    write_events(
        entitlement,
        now,
        [
            (
                Event.Type.SEAT_DENIED,
                {"fingerprint": fingerprint, "label": label, "code": counts.denial_code},
            )
        ],
        counts,
    )
    # A denial holds no lock on the entitlement row (its UPDATE matched none): the level it
    # read fills a new bucket's closing level and never overwrites one a seat change wrote.
    record_usage(
        entitlement.pk, now, before=counts.used, after=counts.used, denials=1, holds_lock=False
    )
    return ActivationResult(
        status="denied", counts=counts, message=_denied_message(counts), retry_after=retry_after
    )


def _granted_message(counts: SeatCounts) -> str:
    limit = "no hard limit" if counts.hard_limit is None else f"hard limit {counts.hard_limit}"
    if counts.in_overdraft:
        return (
            f"Seat granted in overdraft: {counts.used} in use, {counts.entitled} entitled, {limit}."
        )
    return f"Seat granted: {counts.used} of {counts.entitled} entitled seats in use."


def _denied_message(counts: SeatCounts) -> str:
    if counts.at_customer_cap:
        return (
            f"Activation denied: your organisation's own cap of {counts.customer_cap} seats is"
            f" reached ({counts.entitled} entitled). Release a seat, or an admin of your"
            " organisation can raise the cap."
        )
    overdraft = (counts.hard_limit or 0) - counts.entitled
    extra = f" ({counts.entitled} entitled + {overdraft} overdraft)" if overdraft else ""
    return (
        f"Activation denied: all {counts.hard_limit} seats{extra} are in use."
        " Release a seat or ask your vendor for more."
    )


def _lease_end(entitlement: Entitlement, now: datetime) -> datetime | None:
    if entitlement.lease_seconds is None:
        return None
    return now + timedelta(seconds=entitlement.lease_seconds)


def _seat_in_use(entitlement: Entitlement, fingerprint: str) -> Seat | None:
    return Seat.objects.filter(
        entitlement_id=entitlement.pk, fingerprint=fingerprint, released_at__isnull=True
    ).first()


def _lease_expired(seat: Seat, now: datetime) -> bool:
    """Whether a seat's lease ran out by `now`: `_due_seats` for one seat in memory."""
    return seat.lease_expires_at is not None and seat.lease_expires_at <= now


def _due_seats(now: datetime) -> QuerySet[Seat]:
    """Seats held whose lease ran out by `now`: no longer in use, to be released (expired).

    Served by the partial indexes `licensing_seat_lease_in_use` (per entitlement) and
    `licensing_seat_lease_due` (all entitlements, in lease order).
    """
    return Seat.objects.filter(released_at__isnull=True, lease_expires_at__lte=now)


def _stale_seats(entitlement: Entitlement, now: datetime) -> list[Seat]:
    return list(_due_seats(now).filter(entitlement_id=entitlement.pk))


def _seat_data(seat: Seat) -> dict[str, Any]:
    return {
        "activation_id": str(seat.pk),
        "fingerprint": seat.fingerprint,
        "label": seat.label,
        "overdraft": seat.overdraft,
    }


# --- heartbeat, release, revoke, expiry -------------------------------------------------------


def seat_get(*, entitlement: Entitlement, seat_id: Any) -> Seat:
    seat = Seat.objects.filter(pk=seat_id, entitlement_id=entitlement.pk).first()
    if seat is None:
        raise errors.SeatNotFound("No activation with this id exists for this license key.")
    seat.entitlement = entitlement  # already loaded: saves heartbeat and release a query
    return seat


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    seat: Seat
    counts: SeatCounts
    # Seconds the seat stays licensed offline past its lease (licensing.leases).
    offline_grace: int


def seat_heartbeat(
    *,
    entitlement: Entitlement | None = None,
    license_key: str = "",
    seat_id: Any,
    now: datetime | None = None,
) -> Heartbeat:
    """Extend the lease of a seat of `entitlement`, or of the one `license_key` names; the
    seat and the entitlement's counts. Raises UnknownLicenseKey, SeatNotFound, or SeatNotHeld
    when it was released or its lease ran out (it is then expired)."""
    now = now or timezone.now()
    key = entitlement.license_key if entitlement is not None else license_key
    renewed = (
        statements.heartbeat(license_key=key, seat_id=seat_id, now=now)
        if statements.available()
        else None
    )
    if renewed is not None:
        seat = _written_seat(
            id=seat_id,
            entitlement_id=renewed.entitlement_id,
            fingerprint=renewed.fingerprint,
            label=renewed.label,
            activated_at=renewed.activated_at,
            last_heartbeat_at=now,
            lease_expires_at=renewed.lease_expires_at,
            overdraft=renewed.overdraft,
        )
        grace = leases.offline_grace(renewed.lease_seconds, renewed.offline_grace_seconds)
        return Heartbeat(seat, renewed.counts, grace)
    entitlement = _entitlement_of(entitlement, key)
    seat = seat_get(entitlement=entitlement, seat_id=seat_id)
    if seat.released_at is None and _lease_expired(seat, now):
        _release_in_transaction(entitlement, [seat], Seat.ReleaseReason.EXPIRED, now)
        seat.refresh_from_db()
    if seat.released_at is not None:
        raise _not_held(seat)
    lease_expires_at = _lease_end(entitlement, now)
    updated = Seat.objects.filter(pk=seat.pk, released_at__isnull=True).update(
        last_heartbeat_at=now, lease_expires_at=lease_expires_at
    )
    if not updated:  # released between our read and the update
        seat.refresh_from_db()
        raise _not_held(seat)
    seat.last_heartbeat_at = now
    seat.lease_expires_at = lease_expires_at
    return Heartbeat(seat, _counts_now(entitlement), _offline_grace(entitlement))


def _entitlement_of(entitlement: Entitlement | None, license_key: str) -> Entitlement:
    """`entitlement`, or the one `license_key` names; UnknownLicenseKey when none does."""
    if entitlement is None:
        entitlement = selectors.entitlement_by_license_key(license_key)
        if entitlement is None:
            raise errors.UnknownLicenseKey("This license key is not valid.")
    return entitlement


def _not_held(seat: Seat) -> errors.SeatNotHeld:
    why = {
        Seat.ReleaseReason.RELEASED: "it was released",
        Seat.ReleaseReason.EXPIRED: "its lease expired without a heartbeat",
        Seat.ReleaseReason.REVOKED: "the vendor revoked it",
    }[Seat.ReleaseReason(seat.release_reason)]
    return errors.SeatNotHeld(
        f"This seat is no longer held: {why}. Activate again to get a seat.",
        reason=seat.release_reason,
    )


def seat_release(
    *,
    entitlement: Entitlement | None = None,
    license_key: str = "",
    seat_id: Any,
    now: datetime | None = None,
) -> bool:
    """A client gives back a seat of `entitlement`, or of the one `license_key` names.
    Idempotent: False when it was released already. Raises UnknownLicenseKey, or SeatNotFound
    for a seat the entitlement never had."""
    now = now or timezone.now()
    key = entitlement.license_key if entitlement is not None else license_key
    if statements.available():
        seqs = statements.release(
            license_key=key,
            seat_id=seat_id,
            reason=Seat.ReleaseReason.RELEASED.value,
            now=now,
            hour=hour_of(now),
        )
        if seqs is not None:
            hooks.events_written(seqs)
            return True
    entitlement = _entitlement_of(entitlement, key)
    seat = seat_get(entitlement=entitlement, seat_id=seat_id)
    return _release_in_transaction(entitlement, [seat], Seat.ReleaseReason.RELEASED, now) > 0


def seat_revoke(*, seat: Seat, actor: Actor = SYSTEM, now: datetime | None = None) -> bool:
    """Take a seat back (a customer admin or the account team), with its audit entry.
    Idempotent: False, and nothing recorded, when it was released already."""
    now = now or timezone.now()
    entitlement = seat.entitlement
    with transaction.atomic():
        if not _release_seats(entitlement, [seat], Seat.ReleaseReason.REVOKED, now):
            return False
        audit_record(
            action=AuditEntry.Action.SEAT_REVOKED,
            target=seat,
            actor=actor,
            customer=entitlement.customer,
            label=f"{seat.fingerprint} on {entitlement.product}",
            changes={"released_at": [None, now.isoformat()]},
        )
    return True


def seats_expire_stale(
    *, entitlement: Entitlement | None = None, now: datetime | None = None
) -> int:
    """Release floating seats whose lease ran out (`seat.expired`); returns how many.

    With no entitlement, sweeps them all, one transaction per entitlement.
    """
    now = now or timezone.now()
    if entitlement is not None:
        return _expire([entitlement], now)
    ids = _due_seats(now).order_by().values_list("entitlement_id", flat=True).distinct()
    return _expire(Entitlement.objects.filter(pk__in=list(ids)), now)


# How long an expiry before a read waits for a row lock another transaction holds (an
# activation holds its entitlement's row for a statement, or a short transaction). Past it the
# read goes on with the counter as it is; the next read, a full entitlement's next activation or
# the periodic sweep releases those seats.
READ_LOCK_WAIT_MS: Final = 200


def seats_expire_due(
    *,
    entitlements: QuerySet[Entitlement] | Iterable[Entitlement] | None = None,
    now: datetime | None = None,
) -> int:
    """Before a read shows seats in use or zones: release the seats whose lease ran out, of
    `entitlements` (instances or a queryset) or of all; returns how many.

    Costs one indexed query when none is due (the common case). Otherwise it is the sweep of
    `seats_expire_stale`, for the entitlements that have seats due, with lock waits bounded by
    READ_LOCK_WAIT_MS (PostgreSQL): an entitlement whose rows stay locked is left for later,
    and the read is not failed. Instances passed in get their new `seats_used`.
    """
    now = now or timezone.now()
    due = _due_seats(now)
    given: list[Entitlement] | None = None
    if isinstance(entitlements, QuerySet):
        due = due.filter(entitlement__in=entitlements)
    elif entitlements is not None:
        given = list(entitlements)
        due = due.filter(entitlement_id__in=[entitlement.pk for entitlement in given])
    # Ordered by the lease, so PostgreSQL reads the due end of an index on it rather than
    # scanning the table: its statistics cannot tell that few seats held are due (released
    # seats keep their past leases).
    if due.order_by("lease_expires_at").values_list("pk", flat=True).first() is None:
        return 0
    ids = set(due.order_by().values_list("entitlement_id", flat=True).distinct())
    if given is not None:
        found = [entitlement for entitlement in given if entitlement.pk in ids]
    else:
        found = list(Entitlement.objects.filter(pk__in=ids))
    return _expire(found, now, lock_wait_ms=READ_LOCK_WAIT_MS)


# PostgreSQL's lock_not_available (lock_timeout ran out) and deadlock_detected.
_LOCK_FAILURES: Final = frozenset({"55P03", "40P01"})


def _expire(
    entitlements: Iterable[Entitlement], now: datetime, *, lock_wait_ms: int | None = None
) -> int:
    """Release the seats due of each entitlement, in one transaction each. One whose rows are
    locked past `lock_wait_ms` (or caught in a deadlock) keeps them until the next sweep."""
    expired = 0
    for entitlement in entitlements:
        stale = _stale_seats(entitlement, now)
        try:
            expired += _release_in_transaction(
                entitlement, stale, Seat.ReleaseReason.EXPIRED, now, lock_wait_ms=lock_wait_ms
            )
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) not in _LOCK_FAILURES:
                raise
            logger.info("seats of entitlement %s not expired yet: %s", entitlement.pk, exc)
    return expired


def _release_in_transaction(
    entitlement: Entitlement,
    seats: list[Seat],
    reason: Seat.ReleaseReason,
    now: datetime,
    *,
    lock_wait_ms: int | None = None,
) -> int:
    nested = connection.in_atomic_block
    with transaction.atomic():
        if lock_wait_ms is None or not seats:
            return _release_seats(entitlement, seats, reason, now)
        with _lock_wait(lock_wait_ms, restore=nested):
            return _release_seats(entitlement, seats, reason, now)


@contextmanager
def _lock_wait(ms: int, *, restore: bool) -> Iterator[None]:
    """Inside a transaction: a statement that waits more than `ms` for a lock fails with
    lock_not_available (PostgreSQL's `lock_timeout`, local to the transaction; `restore` puts
    the previous value back for the rest of an enclosing one). SQLite queues writers on its
    busy timeout instead."""
    if connection.vendor != "postgresql":
        yield
        return
    previous = None
    with connection.cursor() as cursor:
        if restore:
            cursor.execute("SELECT current_setting('lock_timeout')")
            (previous,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{ms}ms"])
    yield
    if previous is not None:  # after an error the rollback restores it
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _release_seats(
    entitlement: Entitlement, seats: list[Seat], reason: Seat.ReleaseReason, now: datetime
) -> int:
    """Release the given seats that are still in use; must run inside a transaction."""
    if not seats:
        return 0
    # Lock the seats (pk order) before the entitlement row: see the module docstring.
    locked = list(
        Seat.objects.select_for_update()
        .filter(pk__in=[seat.pk for seat in seats], released_at__isnull=True)
        .order_by("pk")
    )
    if not locked:
        return 0
    Seat.objects.filter(pk__in=[seat.pk for seat in locked]).update(
        released_at=now, release_reason=reason
    )
    after = give_back_seats(entitlement.pk, len(locked))
    entitlement.seats_used = after.used  # a caller showing the entitlement shows the new count
    before = dataclasses.replace(after, used=after.used + len(locked))
    event_type = (
        Event.Type.SEAT_EXPIRED
        if reason == Seat.ReleaseReason.EXPIRED
        else Event.Type.SEAT_RELEASED
    )
    items = [(event_type, {**_seat_data(seat), "reason": str(reason)}) for seat in locked]
    write_events(entitlement, now, [*items, *zone_events(before, after)], after)
    record_usage(entitlement.pk, now, before=before.used, after=after.used, releases=len(locked))
    released = {seat.pk for seat in locked}
    for seat in seats:
        if seat.pk in released:
            seat.released_at = now
            seat.release_reason = reason
    return len(locked)
