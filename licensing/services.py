"""Every write to the licensing domain.

Each service owns its transaction and writes the domain rows, their Event rows and the hourly
UsageBucket together. Side effects (webhooks, emails) happen after commit through
`licensing.hooks`.

Lock order, to keep concurrent transactions free of deadlocks: seat rows first (in pk order),
then the entitlement row. The activation path touches the entitlement row first, but after that
it only inserts a new seat row, which no other transaction can hold.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.text import slugify

from licensing import errors, hooks, statements
from licensing.models import (
    ApiToken,
    AuditEntry,
    Customer,
    Entitlement,
    Event,
    Membership,
    Product,
    Seat,
    UsageBucket,
)

Status = Literal["ok", "overdraft", "denied"]
Zone = Literal["within", "overdraft", "at_hard_limit"]

FINGERPRINT_MAX_LENGTH: Final = 255
LABEL_MAX_LENGTH: Final = 255
# Control characters (NUL above all, which PostgreSQL refuses in text) never belong in an id.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Unpaired surrogates (JSON allows "\ud800") cannot be encoded as UTF-8, so never stored.
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclasses.dataclass(frozen=True)
class SeatCounts:
    used: int
    entitled: int
    hard_limit: int | None

    @property
    def available(self) -> int | None:
        """Seats that can still be granted, overdraft included; None when unlimited."""
        return None if self.hard_limit is None else max(self.hard_limit - self.used, 0)

    @property
    def zone(self) -> Zone:
        return zone_of(self.used, self.entitled, self.hard_limit)

    def as_dict(self) -> dict[str, int | None]:
        return {
            "used": self.used,
            "entitled": self.entitled,
            "hard_limit": self.hard_limit,
            "available": self.available,
        }


@dataclasses.dataclass(frozen=True)
class ActivationResult:
    status: Status
    counts: SeatCounts
    message: str
    seat: Seat | None = None
    created: bool = False
    retry_after: int | None = None

    @property
    def granted(self) -> bool:
        return self.status != "denied"


def zone_of(used: int, entitled: int, hard_limit: int | None) -> Zone:
    if hard_limit is not None and used >= hard_limit:
        return "at_hard_limit"
    if used > entitled:
        return "overdraft"
    return "within"


def counts_of(entitlement: Entitlement) -> SeatCounts:
    return SeatCounts(entitlement.seats_used, entitlement.seats, entitlement.hard_limit)


# --- validation shared by the APIs and the portal ------------------------------------------


def check_characters(name: str, value: str) -> None:
    """Refuse text that cannot be stored or searched for: PostgreSQL refuses NUL in text.

    Every text input shares this check, stored (fingerprints, labels) or only searched for
    (the portal's search and filter boxes, `portal.team_forms.FilterTextField`).
    """
    if _CONTROL_CHARS.search(value):
        raise ValidationError(f"{name} must not contain control characters.", code="invalid")
    if _SURROGATES.search(value):
        raise ValidationError(f"{name} must not contain unpaired surrogates.", code="invalid")


def clean_fingerprint(value: object) -> str:
    """Return the fingerprint, stripped, or raise ValidationError with a clear message."""
    if not isinstance(value, str):
        raise ValidationError("Fingerprint must be a string.", code="invalid")
    value = value.strip()
    if not value:
        raise ValidationError("Fingerprint must not be empty.", code="blank")
    if len(value) > FINGERPRINT_MAX_LENGTH:
        raise ValidationError(
            f"Fingerprint must be at most {FINGERPRINT_MAX_LENGTH} characters"
            f" (it has {len(value)}).",
            code="max_length",
        )
    check_characters("Fingerprint", value)
    return value


def clean_label(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("Label must be a string.", code="invalid")
    value = value.strip()
    if len(value) > LABEL_MAX_LENGTH:
        raise ValidationError(
            f"Label must be at most {LABEL_MAX_LENGTH} characters (it has {len(value)}).",
            code="max_length",
        )
    check_characters("Label", value)
    return value


# --- low-level writes shared by the services --------------------------------------------------


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _fetch_counts(sql: str, params: Iterable[Any]) -> SeatCounts | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    return None if row is None else SeatCounts(used=row[0], entitled=row[1], hard_limit=row[2])


def _entitlement_pk(entitlement_id: Any) -> Any:
    return Entitlement._meta.pk.get_db_prep_value(entitlement_id, connection)


def _take_seat(entitlement_id: Any, fingerprint: str) -> SeatCounts | None:
    """Add one seat to the counter unless it is at the hard limit or `fingerprint` already
    holds a seat; None then.

    A single conditional UPDATE: the database checks the limit and bumps the counter
    atomically, and the row lock it takes is held until commit, which orders every seat
    change of one entitlement. Checking for a held seat in the same statement saves a
    new activation (the common case) a round trip; the caller looks the seat up only when
    no seat was taken.
    """
    table = Entitlement._meta.db_table
    seats = Seat._meta.db_table
    pk = _entitlement_pk(entitlement_id)
    return _fetch_counts(
        f"UPDATE {table} SET seats_used = seats_used + 1"
        " WHERE id = %s AND (hard_limit IS NULL OR seats_used < hard_limit)"
        f" AND NOT EXISTS (SELECT 1 FROM {seats} WHERE entitlement_id = %s"
        " AND fingerprint = %s AND released_at IS NULL)"
        " RETURNING seats_used, seats, hard_limit",
        [pk, pk, fingerprint],
    )


def _give_back_seats(entitlement_id: Any, count: int) -> SeatCounts:
    table = Entitlement._meta.db_table
    counts = _fetch_counts(
        f"UPDATE {table} SET seats_used = seats_used - %s WHERE id = %s"
        " RETURNING seats_used, seats, hard_limit",
        [count, _entitlement_pk(entitlement_id)],
    )
    assert counts is not None, "entitlement vanished while seats were being released"
    return counts


def _record_usage(
    entitlement_id: Any,
    moment: datetime,
    *,
    before: int,
    after: int,
    activations: int = 0,
    overdraft_activations: int = 0,
    denials: int = 0,
    releases: int = 0,
    holds_lock: bool = True,
) -> None:
    """Upsert this hour's bucket: peak is the highest level seen, closing the latest.

    Seat changes of one entitlement are serialised by its row lock, so `closing_used`
    written last is the level at commit. A denial does not hold that lock (its UPDATE
    matched no row), so the level it read may be stale by now: it only fills a new bucket's
    `closing_used` and never overwrites one that a seat change wrote.
    """
    table = UsageBucket._meta.db_table
    hour_field = UsageBucket._meta.get_field("hour")
    sql = (
        f"INSERT INTO {table} (entitlement_id, hour, peak_used, closing_used, activations,"
        " overdraft_activations, denials, releases) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (entitlement_id, hour) DO UPDATE SET"
        f" peak_used = CASE WHEN excluded.peak_used > {table}.peak_used"
        f" THEN excluded.peak_used ELSE {table}.peak_used END,"
        f" closing_used = {'excluded' if holds_lock else table}.closing_used,"
        f" activations = {table}.activations + excluded.activations,"
        f" overdraft_activations = {table}.overdraft_activations"
        " + excluded.overdraft_activations,"
        f" denials = {table}.denials + excluded.denials,"
        f" releases = {table}.releases + excluded.releases"
    )
    params = [
        _entitlement_pk(entitlement_id),
        hour_field.get_db_prep_value(_hour(moment), connection),
        max(before, after),
        after,
        activations,
        overdraft_activations,
        denials,
        releases,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _transition_events(
    before: SeatCounts, after: SeatCounts
) -> list[tuple[Event.Type, dict[str, Any]]]:
    """The zone changes between two counter readings, each exactly once."""
    found: list[tuple[Event.Type, dict[str, Any]]] = []
    was_over = before.used > before.entitled
    is_over = after.used > after.entitled
    if not was_over and is_over:
        found.append((Event.Type.OVERDRAFT_STARTED, {}))
    was_at_limit = before.zone == "at_hard_limit"
    is_at_limit = after.zone == "at_hard_limit"
    if not was_at_limit and is_at_limit:
        found.append((Event.Type.HARD_LIMIT_REACHED, {}))
    if was_over and not is_over:
        found.append((Event.Type.OVERDRAFT_ENDED, {}))
    return found


def _write_events(
    entitlement: Entitlement,
    moment: datetime,
    items: list[tuple[Event.Type, dict[str, Any]]],
    counts: SeatCounts,
) -> list[Event]:
    """Insert Event rows; each carries the entitlement's counts after the change."""
    if not items:
        return []
    common = {
        "entitlement_id": str(entitlement.pk),
        "customer_id": str(entitlement.customer_id),
        "product_id": str(entitlement.product_id),
        "seats": counts.as_dict(),
    }
    events = Event.objects.bulk_create(
        [
            Event(
                type=event_type,
                entitlement_id=entitlement.pk,
                customer_id=entitlement.customer_id,
                occurred_at=moment,
                data={**common, **data},
            )
            for event_type, data in items
        ]
    )
    hooks.events_written([event.pk for event in events])
    return events


def _seat_data(seat: Seat) -> dict[str, Any]:
    return {
        "activation_id": str(seat.pk),
        "fingerprint": seat.fingerprint,
        "label": seat.label,
        "overdraft": seat.overdraft,
    }


# --- activation ---------------------------------------------------------------------------


def _check_usable(entitlement: Entitlement, now: datetime) -> None:
    if entitlement.status == Entitlement.Status.SUSPENDED:
        raise errors.EntitlementSuspended(
            "This entitlement is suspended; contact your vendor to resume it."
        )
    if entitlement.ends_at is not None and entitlement.ends_at <= now:
        raise errors.EntitlementExpired(
            f"This entitlement ended on {entitlement.ends_at:%Y-%m-%d %H:%M} UTC."
        )
    if entitlement.starts_at > now:
        raise errors.EntitlementNotStarted(
            f"This entitlement starts on {entitlement.starts_at:%Y-%m-%d %H:%M} UTC."
        )


def _granted_message(counts: SeatCounts) -> str:
    limit = "no hard limit" if counts.hard_limit is None else f"hard limit {counts.hard_limit}"
    if counts.used > counts.entitled:
        return (
            f"Seat granted in overdraft: {counts.used} in use, {counts.entitled} entitled, {limit}."
        )
    return f"Seat granted: {counts.used} of {counts.entitled} entitled seats in use."


def _denied_message(counts: SeatCounts) -> str:
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
    return seat.lease_expires_at is not None and seat.lease_expires_at <= now


class _Reclaim(Exception):
    """The entitlement is full but holds floating seats whose lease ran out."""


def seat_activate(
    *, entitlement: Entitlement, fingerprint: str, label: str = "", now: datetime | None = None
) -> ActivationResult:
    """Grant a seat to `fingerprint`: ok, overdraft, or denied at the hard limit.

    Re-activating a fingerprint that holds a seat returns that seat (and renews its lease).
    A full entitlement first reclaims floating seats whose lease ran out.
    Raises EntitlementSuspended / EntitlementExpired / EntitlementNotStarted.
    """
    now = now or timezone.now()
    fingerprint = clean_fingerprint(fingerprint)
    label = clean_label(label)
    _check_usable(entitlement, now)
    try:
        try:
            return _activate_once(entitlement, fingerprint, label, now, may_reclaim=True)
        except _Reclaim:
            seats_expire_stale(entitlement=entitlement, now=now)
            # The same fingerprint may race here too, hence the IntegrityError handler outside.
            return _activate_once(entitlement, fingerprint, label, now, may_reclaim=False)
    except IntegrityError:
        # Another request for the same fingerprint committed its seat first: return that one.
        seat = _seat_in_use(entitlement, fingerprint)
        if seat is None:
            raise
        entitlement.refresh_from_db(fields=["seats_used", "seats", "hard_limit"])
        counts = counts_of(entitlement)
        return ActivationResult(
            status="overdraft" if seat.overdraft else "ok",
            counts=counts,
            message="This fingerprint already holds a seat.",
            seat=seat,
        )


def _written_seat(**fields: Any) -> Seat:
    """A Seat for a row a statement just wrote, without reading it back."""
    seat = Seat(**fields)
    seat._state.adding, seat._state.db = False, connection.alias
    return seat


def seat_activate_common(
    *, license_key: str, fingerprint: str, label: str, now: datetime | None = None
) -> ActivationResult | None:
    """The common case of `seat_activate` by license key alone, in one statement on PostgreSQL
    (`licensing.statements`): a usable entitlement below its hard limit, a fingerprint that
    holds no seat. `fingerprint` and `label` must be cleaned already (`clean_*`).

    None when that is not the case (or on SQLite): `seat_activate` then decides.
    """
    if not statements.available():
        return None
    now = now or timezone.now()
    seat_id = uuid.uuid4()
    try:
        taken = statements.activate(
            license_key=license_key,
            seat_id=seat_id,
            fingerprint=fingerprint,
            label=label,
            now=now,
            hour=_hour(now),
        )
    except IntegrityError:
        return None  # the same fingerprint's seat was committed first: it holds a seat now
    if taken is None:
        return None
    entitlement_id, used, entitled, hard_limit, overdraft, lease_expires_at, seqs = taken
    hooks.events_written(seqs)
    seat = _written_seat(
        id=seat_id,
        entitlement_id=entitlement_id,
        fingerprint=fingerprint,
        label=label,
        activated_at=now,
        last_heartbeat_at=now,
        lease_expires_at=lease_expires_at,
        overdraft=overdraft,
    )
    counts = SeatCounts(used=used, entitled=entitled, hard_limit=hard_limit)
    return ActivationResult(
        status="overdraft" if overdraft else "ok",
        counts=counts,
        message=_granted_message(counts),
        seat=seat,
        created=True,
    )


def _activate_once(
    entitlement: Entitlement, fingerprint: str, label: str, now: datetime, *, may_reclaim: bool
) -> ActivationResult:
    if may_reclaim:  # the first attempt
        result = seat_activate_common(
            license_key=entitlement.license_key, fingerprint=fingerprint, label=label, now=now
        )
        if result is not None:
            return result
    with transaction.atomic():
        counts = _take_seat(entitlement.pk, fingerprint)
        retries = 3
        while counts is None:
            # No seat taken: this fingerprint holds one (renew it, or release it as expired
            # and try again), or the entitlement looked full. The UPDATE judged the row as it
            # was when the statement began, so it misses seats that a release or reclaim
            # committing meanwhile gave back, and a concurrent request for this fingerprint
            # may have taken the last seat. Deny only when a fresh read, taken after the
            # stale-lease check, still finds the entitlement full.
            seat = _seat_in_use(entitlement, fingerprint)
            if seat is not None and _lease_expired(seat, now):
                _release_seats(entitlement, [seat], Seat.ReleaseReason.EXPIRED, now)
                counts = _take_seat(entitlement.pk, fingerprint)
                continue
            if seat is not None:
                return _renew(entitlement, seat, label, now)
            stale = may_reclaim and entitlement.is_floating and _has_stale_seats(entitlement, now)
            entitlement.refresh_from_db(fields=["seats_used", "seats", "hard_limit"])
            if counts_of(entitlement).zone != "at_hard_limit" and retries:
                retries -= 1
                counts = _take_seat(entitlement.pk, fingerprint)
                continue
            if stale:
                raise _Reclaim
            return _deny(entitlement, fingerprint, label, now)

        overdraft = counts.used > counts.entitled
        seat = Seat.objects.create(
            entitlement_id=entitlement.pk,
            fingerprint=fingerprint,
            label=label,
            activated_at=now,
            last_heartbeat_at=now,
            lease_expires_at=_lease_end(entitlement, now),
            overdraft=overdraft,
        )
        before = dataclasses.replace(counts, used=counts.used - 1)
        _write_events(
            entitlement,
            now,
            [(Event.Type.SEAT_ACTIVATED, _seat_data(seat)), *_transition_events(before, counts)],
            counts,
        )
        _record_usage(
            entitlement.pk,
            now,
            before=before.used,
            after=counts.used,
            activations=1,
            overdraft_activations=int(overdraft),
        )
    return ActivationResult(
        status="overdraft" if overdraft else "ok",
        counts=counts,
        message=_granted_message(counts),
        seat=seat,
        created=True,
    )


def _renew(entitlement: Entitlement, seat: Seat, label: str, now: datetime) -> ActivationResult:
    seat.last_heartbeat_at = now
    seat.lease_expires_at = _lease_end(entitlement, now)
    fields = ["last_heartbeat_at", "lease_expires_at"]
    if label and label != seat.label:
        seat.label = label
        fields.append("label")
    seat.save(update_fields=fields)
    entitlement.refresh_from_db(fields=["seats_used", "seats", "hard_limit"])
    return ActivationResult(
        status="overdraft" if seat.overdraft else "ok",
        counts=counts_of(entitlement),
        message="This fingerprint already holds a seat.",
        seat=seat,
    )


def _has_stale_seats(entitlement: Entitlement, now: datetime) -> bool:
    return Seat.objects.filter(
        entitlement_id=entitlement.pk, released_at__isnull=True, lease_expires_at__lte=now
    ).exists()


def _deny(
    entitlement: Entitlement, fingerprint: str, label: str, now: datetime
) -> ActivationResult:
    entitlement.refresh_from_db(fields=["seats_used", "seats", "hard_limit"])
    counts = counts_of(entitlement)
    retry_after = None
    if entitlement.is_floating:
        next_expiry = Seat.objects.filter(
            entitlement_id=entitlement.pk, released_at__isnull=True
        ).aggregate(next=Min("lease_expires_at"))["next"]
        if next_expiry is not None:
            retry_after = max(1, int((next_expiry - now).total_seconds() + 0.999))
    _write_events(
        entitlement,
        now,
        [(Event.Type.SEAT_DENIED, {"fingerprint": fingerprint, "label": label})],
        counts,
    )
    _record_usage(
        entitlement.pk, now, before=counts.used, after=counts.used, denials=1, holds_lock=False
    )
    return ActivationResult(
        status="denied", counts=counts, message=_denied_message(counts), retry_after=retry_after
    )


# --- heartbeat, release, revoke, expiry -------------------------------------------------------


def seat_get(*, entitlement: Entitlement, seat_id: Any) -> Seat:
    seat = Seat.objects.filter(pk=seat_id, entitlement_id=entitlement.pk).first()
    if seat is None:
        raise errors.SeatNotFound("No activation with this id exists for this license key.")
    seat.entitlement = entitlement  # already loaded: saves heartbeat and release a query
    return seat


def seat_heartbeat_common(
    *, license_key: str, seat_id: Any, now: datetime | None = None
) -> tuple[Seat, SeatCounts] | None:
    """Renew a held seat whose lease has not run out, by license key alone, in one statement
    on PostgreSQL; the seat and its entitlement's counts. None otherwise (or on SQLite):
    `seat_heartbeat` then decides."""
    if not statements.available():
        return None
    now = now or timezone.now()
    renewed = statements.heartbeat(license_key=license_key, seat_id=seat_id, now=now)
    if renewed is None:
        return None
    fingerprint, label, activated_at, overdraft, lease_expires_at, used, entitled, hard = renewed
    seat = _written_seat(
        id=seat_id,
        fingerprint=fingerprint,
        label=label,
        activated_at=activated_at,
        last_heartbeat_at=now,
        lease_expires_at=lease_expires_at,
        overdraft=overdraft,
    )
    return seat, SeatCounts(used=used, entitled=entitled, hard_limit=hard)


def seat_heartbeat_by_id(
    *, entitlement: Entitlement, seat_id: Any, now: datetime | None = None
) -> Seat:
    """`seat_get` then `seat_heartbeat`; one statement on PostgreSQL when the seat is held."""
    now = now or timezone.now()
    renewed = seat_heartbeat_common(license_key=entitlement.license_key, seat_id=seat_id, now=now)
    if renewed is not None:
        seat = renewed[0]
        seat.entitlement = entitlement
        return seat
    return seat_heartbeat(seat=seat_get(entitlement=entitlement, seat_id=seat_id), now=now)


def seat_release_common(*, license_key: str, seat_id: Any, now: datetime | None = None) -> bool:
    """Release a held seat by license key alone, in one statement on PostgreSQL. False when
    it released nothing (seat not held, unknown, or SQLite): `seat_release` then decides."""
    if not statements.available():
        return False
    now = now or timezone.now()
    seqs = statements.release(
        license_key=license_key,
        seat_id=seat_id,
        reason=Seat.ReleaseReason.RELEASED.value,
        now=now,
        hour=_hour(now),
    )
    if seqs is None:
        return False
    hooks.events_written(seqs)
    return True


def seat_release_by_id(
    *, entitlement: Entitlement, seat_id: Any, now: datetime | None = None
) -> bool:
    """`seat_get` then `seat_release`; one statement on PostgreSQL when the seat is held."""
    now = now or timezone.now()
    if seat_release_common(license_key=entitlement.license_key, seat_id=seat_id, now=now):
        return True
    return seat_release(seat=seat_get(entitlement=entitlement, seat_id=seat_id), now=now)


def seat_heartbeat(*, seat: Seat, now: datetime | None = None) -> Seat:
    """Extend a seat's lease. Raises SeatNotHeld when it was released or its lease ran out."""
    now = now or timezone.now()
    entitlement = seat.entitlement
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
    return seat


def _not_held(seat: Seat) -> errors.SeatNotHeld:
    why = {
        Seat.ReleaseReason.RELEASED: "it was released",
        Seat.ReleaseReason.EXPIRED: "its lease expired without a heartbeat",
        Seat.ReleaseReason.REVOKED: "the vendor revoked it",
    }.get(Seat.ReleaseReason(seat.release_reason), "it was released")
    return errors.SeatNotHeld(
        f"This seat is no longer held: {why}. Activate again to get a seat.",
        reason=seat.release_reason,
    )


def seat_release(*, seat: Seat, now: datetime | None = None) -> bool:
    """Release a seat held by a client. Idempotent: False when it was already released."""
    return (
        _release_in_transaction(
            seat.entitlement, [seat], Seat.ReleaseReason.RELEASED, now or timezone.now()
        )
        > 0
    )


def seat_revoke(*, seat: Seat, now: datetime | None = None) -> bool:
    """Take a seat back (vendor or customer admin). Idempotent: False when already released."""
    return (
        _release_in_transaction(
            seat.entitlement, [seat], Seat.ReleaseReason.REVOKED, now or timezone.now()
        )
        > 0
    )


def seats_expire_stale(
    *, entitlement: Entitlement | None = None, now: datetime | None = None
) -> int:
    """Release floating seats whose lease ran out (`seat.expired`); returns how many.

    With no entitlement, sweeps them all, one transaction per entitlement.
    """
    now = now or timezone.now()
    stale = Seat.objects.filter(released_at__isnull=True, lease_expires_at__lte=now)
    if entitlement is not None:
        stale = stale.filter(entitlement_id=entitlement.pk)
        entitlements = [entitlement]
    else:
        ids = stale.values_list("entitlement_id", flat=True).distinct()
        entitlements = list(Entitlement.objects.filter(pk__in=list(ids)))
    expired = 0
    for ent in entitlements:
        seats = list(stale.filter(entitlement_id=ent.pk))
        expired += _release_in_transaction(ent, seats, Seat.ReleaseReason.EXPIRED, now)
    return expired


def _release_in_transaction(
    entitlement: Entitlement, seats: list[Seat], reason: Seat.ReleaseReason, now: datetime
) -> int:
    with transaction.atomic():
        return _release_seats(entitlement, seats, reason, now)


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
    after = _give_back_seats(entitlement.pk, len(locked))
    before = dataclasses.replace(after, used=after.used + len(locked))
    event_type = (
        Event.Type.SEAT_EXPIRED
        if reason == Seat.ReleaseReason.EXPIRED
        else Event.Type.SEAT_RELEASED
    )
    items = [(event_type, {**_seat_data(seat), "reason": str(reason)}) for seat in locked]
    _write_events(entitlement, now, [*items, *_transition_events(before, after)], after)
    _record_usage(entitlement.pk, now, before=before.used, after=after.used, releases=len(locked))
    for seat in seats:
        if any(seat.pk == done.pk for done in locked):
            seat.released_at = now
            seat.release_reason = reason
    return len(locked)


# --- customers, products, entitlements -------------------------------------------------------


# Creates of one name that race each find the same free slug; each loser takes the next one.
# Every loss is another create's win, so this many concurrent creates of one name all succeed.
SLUG_ATTEMPTS: Final = 20


def _unique_slug(model: type[Customer] | type[Product], field: str, name: str) -> str:
    base = slugify(name)[:90] or "item"
    slug, n = base, 2
    while model.objects.filter(**{field: slug}).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _insert_with_slug(obj: Customer | Product, field: str, name: str, given: str = "") -> None:
    """Insert `obj` with the slug `given`, or else the first free slug of `name`, in `field`.

    Between looking for a free slug and inserting, a concurrent create may take it: the unique
    constraint refuses the insert (in a savepoint, so a caller's transaction carries on) and a
    generated slug is looked for again. A given slug that is taken is the ValidationError
    `full_clean` gives when it is taken beforehand.
    """
    model = type(obj)
    setattr(obj, field, given)
    # The database judges a generated slug's uniqueness: checking here would only race again.
    obj.full_clean(exclude=None if given else [field])
    for _ in range(SLUG_ATTEMPTS):
        slug = given or _unique_slug(model, field, name)
        setattr(obj, field, slug)
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            # Read committed: the row that won is visible now. Anything else is not ours.
            if not model.objects.filter(**{field: slug}).exists():
                raise
            if given:
                raise ValidationError({field: obj.unique_error_message(model, (field,))}) from None
        else:
            return
    raise ValidationError(
        f"Too many {model._meta.verbose_name_plural} named “{name.strip()}” are being created"
        " at once; try again.",
        code="busy",
    )


def customer_create(*, name: str, account_manager: Any = None) -> Customer:
    customer = Customer(name=name.strip(), account_manager=account_manager)
    _insert_with_slug(customer, "slug", name)
    return customer


def product_create(*, name: str, code: str = "") -> Product:
    product = Product(name=name.strip())
    _insert_with_slug(product, "code", name, given=code)
    return product


def check_entitlement_limits(
    seats: int, hard_limit: int | None, used: int, *, seats_before: int | None = None
) -> None:
    """Refuse limits that make no sense or that the seats in use already break.

    Entitled seats may stay below the seats in use (that is the overdraft), only not be
    lowered below them: pass `seats_before` when updating, or any change to an entitlement
    in overdraft (even suspending it) would be refused.
    """
    problems: dict[str, list[str]] = {}
    if seats < 0:
        problems["seats"] = ["Seats cannot be negative."]
    elif seats < used and (seats_before is None or seats < seats_before):
        floor = used if seats_before is None else min(used, seats_before)
        problems["seats"] = [
            f"{used} seats are in use, so the entitled seats cannot go below {floor}."
            " Release or revoke seats first."
        ]
    if hard_limit is not None:
        if hard_limit < seats:
            problems["hard_limit"] = [
                f"The hard limit ({hard_limit}) cannot be below the entitled seats ({seats})."
            ]
        elif hard_limit < used:
            problems["hard_limit"] = [
                f"{used} seats are in use, so the hard limit cannot go below {used}."
                " Release or revoke seats first."
            ]
    if problems:
        raise ValidationError(problems)


def entitlement_create(
    *,
    customer: Customer,
    product: Product,
    seats: int,
    hard_limit: int | None,
    lease_seconds: int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Entitlement:
    check_entitlement_limits(seats, hard_limit, 0)
    now = timezone.now()
    entitlement = Entitlement(
        customer=customer,
        product=product,
        seats=seats,
        hard_limit=hard_limit,
        lease_seconds=lease_seconds,
        starts_at=starts_at or now,
        ends_at=ends_at,
        created_at=now,
        updated_at=now,
    )
    entitlement.full_clean()
    with transaction.atomic():
        entitlement.save(force_insert=True)
        _write_events(
            entitlement,
            now,
            [(Event.Type.ENTITLEMENT_CREATED, {"changes": _snapshot(entitlement)})],
            counts_of(entitlement),
        )
    return entitlement


_EDITABLE: Final = ("seats", "hard_limit", "lease_seconds", "status", "starts_at", "ends_at")


def _snapshot(entitlement: Entitlement) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _EDITABLE:
        value = getattr(entitlement, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def entitlement_update(
    *,
    entitlement: Entitlement,
    seats: int | _Unset = UNSET,
    hard_limit: int | _Unset | None = UNSET,
    lease_seconds: int | _Unset | None = UNSET,
    status: str | _Unset = UNSET,
    starts_at: datetime | _Unset = UNSET,
    ends_at: datetime | _Unset | None = UNSET,
) -> Entitlement:
    """Change limits, lease, status or dates; refuses limits below the seats in use.

    Raising a limit takes effect at once; a change that moves the entitlement out of (or to)
    a zone writes the matching transition event.
    """
    requested = {
        "seats": seats,
        "hard_limit": hard_limit,
        "lease_seconds": lease_seconds,
        "status": status,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    now = timezone.now()
    with transaction.atomic():
        current = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
        before_values = _snapshot(current)
        before = counts_of(current)
        for name, value in requested.items():
            if not isinstance(value, _Unset):
                setattr(current, name, value)
        check_entitlement_limits(
            current.seats, current.hard_limit, current.seats_used, seats_before=before.entitled
        )
        current.full_clean()
        after_values = _snapshot(current)
        changes = {
            name: [before_values[name], after_values[name]]
            for name in _EDITABLE
            if before_values[name] != after_values[name]
        }
        if changes:
            current.updated_at = now
            current.save()
            after = counts_of(current)
            _write_events(
                current,
                now,
                [
                    (Event.Type.ENTITLEMENT_UPDATED, {"changes": changes}),
                    *_transition_events(before, after),
                ],
                after,
            )
    for name in (*_EDITABLE, "seats_used", "updated_at"):
        setattr(entitlement, name, getattr(current, name))
    return entitlement


def entitlement_suspend(*, entitlement: Entitlement) -> Entitlement:
    return entitlement_update(entitlement=entitlement, status=Entitlement.Status.SUSPENDED)


def entitlement_resume(*, entitlement: Entitlement) -> Entitlement:
    return entitlement_update(entitlement=entitlement, status=Entitlement.Status.ACTIVE)


# --- memberships ------------------------------------------------------------------------------


def membership_set_notifications(
    *, membership: Membership, notify_overdraft: bool, notify_denials: bool
) -> Membership:
    """Turn a member's overdraft and denial emails on or off."""
    membership.notify_overdraft = notify_overdraft
    membership.notify_denials = notify_denials
    membership.save(update_fields=["notify_overdraft", "notify_denials"])
    return membership


# --- retention --------------------------------------------------------------------------------


def events_prune(
    *, older_than: timedelta, batch_size: int = 5000, now: datetime | None = None
) -> int:
    """Delete raw events older than `older_than`, oldest first, `batch_size` per transaction.

    Charts, figures and denial counts read UsageBucket rows, which are never pruned, so they keep
    their whole history; the event log, the event feed and the "recent denials" list lose what
    is older. Events the outbox has not dispatched yet are kept whatever their age. A pruned
    event's webhook deliveries (and their attempts) and email records go with it (they cascade).
    Short transactions keep locks brief next to live traffic. Returns how many events went.
    """
    if older_than <= timedelta(0):
        raise ValueError("older_than must be positive")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = (now or timezone.now()) - older_than
    prunable = Event.objects.filter(occurred_at__lt=cutoff, dispatched_at__isnull=False)
    deleted = 0
    while True:
        with transaction.atomic():
            seqs = list(prunable.order_by("seq").values_list("seq", flat=True)[:batch_size])
            if not seqs:
                break
            _total, per_model = Event.objects.filter(seq__in=seqs).delete()
        deleted += per_model.get(Event._meta.label, 0)
        if len(seqs) < batch_size:
            break
    return deleted


# --- audit ------------------------------------------------------------------------------------


def _audit_actor(actor: Any, request: Any) -> tuple[Any, str]:
    """The user to record and how to show them: an email, an API token, or the system."""
    if actor is None and request is not None:
        token = getattr(request, "auth", None)
        actor = token if isinstance(token, ApiToken) else getattr(request, "user", None)
    if isinstance(actor, ApiToken):
        return actor.user, f"token {actor.prefix} ({actor.user.email})"
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor, actor.email
    return None, "system"


def _audit_ip(request: Any) -> str | None:
    # The peer address, as the API throttles see it: behind a proxy, the proxy's last hop must
    # set REMOTE_ADDR; X-Forwarded-For is not trusted.
    if request is None:
        return None
    raw = str(request.META.get("REMOTE_ADDR") or "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def audit_snapshot(entitlement: Entitlement) -> dict[str, Any]:
    """The editable fields of an entitlement, JSON-ready, for `audit_record(changes=...)`."""
    return _snapshot(entitlement)


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value changed."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def audit_record(
    *,
    action: str,
    target: Any,
    actor: Any = None,
    customer: Customer | None = None,
    changes: dict[str, Any] | None = None,
    request: Any = None,
    label: str = "",
) -> AuditEntry:
    """Record who did `action` to `target`. Call it right after the change succeeded.

    `actor` is a user, an ApiToken or None (then taken from `request`: its API token or its
    logged-in user; without either, "system"). `customer` defaults to the target's own;
    `label` to `str(target)`.
    """
    user, actor_label = _audit_actor(actor, request)
    if customer is None:
        customer = target if isinstance(target, Customer) else getattr(target, "customer", None)
    entry = AuditEntry(
        actor=user,
        actor_label=actor_label[:255],
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        target_label=(label or str(target))[:255],
        customer=customer,
        changes=changes or {},
        ip=_audit_ip(request),
    )
    entry.save(force_insert=True)
    return entry


def audit_seat_revoked(*, seat: Seat, request: Any) -> AuditEntry:
    """A seat taken back by a customer admin (portal) or the account team (vendor API)."""
    entitlement = seat.entitlement
    released = seat.released_at.isoformat() if seat.released_at else None
    return audit_record(
        action=AuditEntry.Action.SEAT_REVOKED,
        target=seat,
        customer=entitlement.customer,
        label=f"{seat.fingerprint} on {entitlement.product}",
        changes={"released_at": [None, released]},
        request=request,
    )
