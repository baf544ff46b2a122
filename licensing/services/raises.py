"""Temporary raises: extra entitled seats and/or hard limit until a date, granted by the
account team ("+20 until 31 Dec for the quarter close").

A raise starts and ends by itself: `raises_apply` (a periodic job, every minute) starts the
raises that are due and ends those whose time is up; a raise granted to start now starts at
once. Starting adds the extras to the entitlement's terms, ending takes them off again; both
are changes of terms through `entitlement_update` (recorded in the terms history, so every
hour is judged by the lines in force then), each with its event (`entitlement.raise_started`,
`entitlement.raise_ended`: webhooks and an email) and audit entry, in one transaction.

Ending never revokes a seat: seats in use above the new lines stay until released
(`Entitlement.seats_held_over`), and new activations are judged by the new lines.

The customer's cap is kept, not removed: a start that lifts the seats above it moves it up to
them (`zones.cap_moved_within`), and the end puts back the cap the customer had, unless they
changed it during the raise.

The rules: a raise adds something; it ends after it starts, in the future, within
MAX_DURATION; a raised hard limit stays at or above the raised seats; one raise per
entitlement at a time (scheduled or running raises may not overlap).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from licensing import zones
from licensing.models import AuditEntry, Entitlement, Event, TemporaryRaise
from licensing.services._rows import write_events
from licensing.services.audit import SYSTEM, Actor, audit_record
from licensing.services.entitlements import entitlement_update
from licensing.services.validation import check_characters
from licensing.zones import SeatCounts

MAX_DURATION: Final = timedelta(days=366)
MAX_EXTRA: Final = 1_000_000
REASON_MAX_LENGTH: Final = 200
# Raises one run of the job starts or ends at most; the next run takes the rest.
BATCH: Final = 200

_OPEN: Final = (TemporaryRaise.Status.SCHEDULED, TemporaryRaise.Status.RUNNING)


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y %H:%M} UTC"


def _check_extras(entitlement: Entitlement, extra_seats: int, extra_hard_limit: int) -> None:
    problems: dict[str, list[str]] = {}
    for name, value in (("extra_seats", extra_seats), ("extra_hard_limit", extra_hard_limit)):
        if not 0 <= value <= MAX_EXTRA:
            problems[name] = [f"Give a number from 0 to {MAX_EXTRA:,}."]
    if problems:
        raise ValidationError(problems)
    if not extra_seats and not extra_hard_limit:
        raise ValidationError(
            {"extra_seats": ["A raise adds seats, hard limit or both: give a number above 0."]}
        )
    if entitlement.hard_limit is None:
        if extra_hard_limit:
            raise ValidationError(
                {
                    "extra_hard_limit": [
                        "This entitlement's overdraft is unlimited: there is no hard limit to"
                        " raise. Leave it at 0."
                    ]
                }
            )
        return
    seats = entitlement.seats + extra_seats
    hard_limit = entitlement.hard_limit + extra_hard_limit
    if hard_limit < seats:
        raise ValidationError(
            {
                "extra_hard_limit": [
                    f"The raised seats ({seats}) would be above the raised hard limit"
                    f" ({hard_limit}): raise the hard limit by at least"
                    f" {seats - entitlement.hard_limit}."
                ]
            }
        )


def _check_dates(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": ["The raise must end after it starts."]})
    if ends_at <= now:
        raise ValidationError({"ends_at": ["The raise must end in the future."]})
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationError(
            {
                "ends_at": [
                    f"A temporary raise lasts at most {MAX_DURATION.days} days; for a lasting"
                    " one, change the terms."
                ]
            }
        )


def _clean_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": [
                    f"At most {REASON_MAX_LENGTH} characters, please (this has {len(reason)})."
                ]
            }
        )
    try:
        check_characters("Reason", reason)
    except ValidationError as exc:
        raise ValidationError({"reason": exc.messages}) from None
    return reason


def _label(raise_: TemporaryRaise) -> str:
    entitlement = raise_.entitlement
    return f"{raise_.summary} for {entitlement.customer} · {entitlement.product}"


def _terms(entitlement: Entitlement) -> dict[str, int | None]:
    return {
        "seats": entitlement.seats,
        "hard_limit": entitlement.hard_limit,
        "customer_cap": entitlement.customer_cap,
    }


def _details(raise_: TemporaryRaise) -> dict[str, Any]:
    return {
        "raise_id": str(raise_.pk),
        "extra_seats": raise_.extra_seats,
        "extra_hard_limit": raise_.extra_hard_limit,
        "starts_at": raise_.starts_at.isoformat(),
        "ends_at": raise_.ends_at.isoformat(),
        "reason": raise_.reason,
    }


def raise_grant(
    *,
    entitlement: Entitlement,
    extra_seats: int = 0,
    extra_hard_limit: int = 0,
    ends_at: datetime,
    starts_at: datetime | None = None,
    reason: str = "",
    actor: Actor = SYSTEM,
) -> TemporaryRaise:
    """Grant a raise from `starts_at` (default: now; then it starts at once) until `ends_at`.
    Audited; refused when it overlaps a scheduled or running raise of the entitlement."""
    reason = _clean_reason(reason)
    now = timezone.now()
    starts_at = max(starts_at or now, now)
    _check_dates(starts_at, ends_at, now)
    with transaction.atomic():
        # The entitlement's row lock serialises grants for it, so two cannot both find no
        # overlapping raise.
        current = (
            Entitlement.objects.select_for_update(of=("self",))
            .select_related("customer", "product")
            .get(pk=entitlement.pk)
        )
        _check_extras(current, extra_seats, extra_hard_limit)
        overlapping = TemporaryRaise.objects.filter(
            entitlement_id=current.pk,
            status__in=_OPEN,
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
        ).first()
        if overlapping is not None:
            raise ValidationError(
                {
                    "starts_at": [
                        f"A raise ({overlapping.summary}) is {overlapping.status} from"
                        f" {_day(overlapping.starts_at)} to {_day(overlapping.ends_at)}: end it,"
                        " or pick dates after it."
                    ]
                }
            )
        raise_ = TemporaryRaise(
            entitlement=current,
            extra_seats=extra_seats,
            extra_hard_limit=extra_hard_limit,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            granted_by=actor.user,
            created_at=now,
        )
        raise_.full_clean(validate_constraints=False)
        raise_.save(force_insert=True)
        audit_record(
            action=AuditEntry.Action.RAISE_GRANTED,
            target=raise_,
            actor=actor,
            customer=current.customer,
            label=_label(raise_),
            changes={
                "extra_seats": extra_seats,
                "extra_hard_limit": extra_hard_limit,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "reason": reason,
            },
        )
        if starts_at <= now:
            _start(raise_, actor)
    return raise_


def _locked(raise_id: Any, *, skip_locked: bool = False) -> TemporaryRaise | None:
    return (
        TemporaryRaise.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("entitlement__customer", "entitlement__product")
        .filter(pk=raise_id)
        .first()
    )


def _start(raise_: TemporaryRaise, actor: Actor) -> None:
    """Add the extras to the entitlement's terms (the caller holds the raise's lock)."""
    now = timezone.now()
    entitlement = Entitlement.objects.select_for_update().get(pk=raise_.entitlement_id)
    previous = _terms(entitlement)
    seats = entitlement.seats + raise_.extra_seats
    hard_limit = (
        None if entitlement.hard_limit is None else entitlement.hard_limit + raise_.extra_hard_limit
    )
    # A raise of the seats alone past the hard limit (the terms changed since the grant)
    # takes the hard limit along.
    if hard_limit is not None:
        hard_limit = max(hard_limit, seats)
    cap = zones.cap_moved_within(seats, hard_limit, entitlement.customer_cap)
    entitlement_update(
        entitlement=entitlement,
        seats=seats,
        hard_limit=hard_limit,
        customer_cap=cap,
        actor=actor,
        action=AuditEntry.Action.RAISE_STARTED,
    )
    raise_.status = TemporaryRaise.Status.RUNNING
    raise_.started_at = now
    raise_.customer_cap_before = previous["customer_cap"]
    raise_.customer_cap_during = cap
    raise_.save(
        update_fields=["status", "started_at", "customer_cap_before", "customer_cap_during"]
    )
    write_events(
        entitlement,
        now,
        [
            (
                Event.Type.RAISE_STARTED,
                {**_details(raise_), "previous": previous, "raised": _terms(entitlement)},
            )
        ],
        SeatCounts.of(entitlement),
    )


def _finish(raise_: TemporaryRaise, actor: Actor, *, early: bool) -> None:
    """Take the extras off the entitlement's terms, keeping the seats in use (the caller holds
    the raise's lock)."""
    now = timezone.now()
    entitlement = Entitlement.objects.select_for_update().get(pk=raise_.entitlement_id)
    previous = _terms(entitlement)
    seats = max(entitlement.seats - raise_.extra_seats, 0)
    hard_limit = (
        None
        if entitlement.hard_limit is None
        else max(entitlement.hard_limit - raise_.extra_hard_limit, seats)
    )
    cap = entitlement.customer_cap
    if cap == raise_.customer_cap_during:  # the customer left it as the start left it
        cap = raise_.customer_cap_before
    cap = zones.cap_moved_within(seats, hard_limit, cap)
    entitlement_update(
        entitlement=entitlement,
        seats=seats,
        hard_limit=hard_limit,
        customer_cap=cap,
        actor=actor,
        action=AuditEntry.Action.RAISE_ENDED,
        hold_over=True,
    )
    raise_.status = TemporaryRaise.Status.ENDED
    raise_.ended_at = now
    raise_.save(update_fields=["status", "ended_at"])
    held = SeatCounts.of(entitlement).held_over
    write_events(
        entitlement,
        now,
        [
            (
                Event.Type.RAISE_ENDED,
                {
                    **_details(raise_),
                    "previous": previous,
                    "restored": _terms(entitlement),
                    "early": early,
                    "ended_by": actor.label,
                    # Seats in use above the restored lines: kept until released.
                    "seats_held_over": held or 0,
                },
            )
        ],
        SeatCounts.of(entitlement),
    )


def raise_end(*, raise_: TemporaryRaise, actor: Actor = SYSTEM) -> TemporaryRaise:
    """End a running raise now (its lines come off; no seat is revoked), or cancel a scheduled
    one. Refused for a raise that is over already."""
    with transaction.atomic():
        locked = _locked(raise_.pk)
        if locked is None or locked.status not in _OPEN:
            status = "gone" if locked is None else locked.status
            raise ValidationError(f"This raise is {status} already.", code="over")
        if locked.status == TemporaryRaise.Status.RUNNING:
            _finish(locked, actor, early=True)
        else:
            _close_unstarted(locked, TemporaryRaise.Status.CANCELLED, actor)
    for name in ("status", "started_at", "ended_at"):
        setattr(raise_, name, getattr(locked, name))
    return raise_


def raises_apply() -> int:
    """The periodic job: end the running raises whose time is up, start the scheduled ones
    that are due, and forget seats held over once use is back under the lines. Safe to run
    twice at once (each raise is taken under its lock, skipping one another run holds).
    Returns how many raises started or ended."""
    now = timezone.now()
    done = 0
    due_to_end = TemporaryRaise.objects.filter(
        status=TemporaryRaise.Status.RUNNING, ends_at__lte=now
    ).order_by("ends_at")
    for raise_id in list(due_to_end.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            locked = _locked(raise_id, skip_locked=True)
            if locked is not None and locked.status == TemporaryRaise.Status.RUNNING:
                _finish(locked, SYSTEM, early=False)
                done += 1
    due_to_start = TemporaryRaise.objects.filter(
        status=TemporaryRaise.Status.SCHEDULED, starts_at__lte=now
    ).order_by("starts_at")
    for raise_id in list(due_to_start.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            locked = _locked(raise_id, skip_locked=True)
            if locked is None or locked.status != TemporaryRaise.Status.SCHEDULED:
                continue
            if locked.ends_at <= timezone.now():
                # Its whole time passed while the job was not running: it never applied, so
                # it ends without changing the terms (and the audit log says so).
                _close_unstarted(locked, TemporaryRaise.Status.ENDED, SYSTEM, missed=True)
            else:
                _start(locked, SYSTEM)
            done += 1
    _forget_held_over()
    return done


def _close_unstarted(
    raise_: TemporaryRaise, status: str, actor: Actor, *, missed: bool = False
) -> None:
    """Close a raise that never started (cancelled, or missed), audited; the terms stay."""
    raise_.status = status
    raise_.ended_at = timezone.now()
    raise_.save(update_fields=["status", "ended_at"])
    changes: dict[str, Any] = {"status": ["scheduled", status]}
    if missed:
        changes["missed"] = True
    audit_record(
        action=(
            AuditEntry.Action.RAISE_CANCELLED
            if status == TemporaryRaise.Status.CANCELLED
            else AuditEntry.Action.RAISE_ENDED
        ),
        target=raise_,
        actor=actor,
        customer=raise_.entitlement.customer,
        label=_label(raise_),
        changes=changes,
    )


def _forget_held_over() -> None:
    """Clear `seats_held_over` where use is back under the lines (releases do not touch it)."""
    with transaction.atomic():
        for entitlement in Entitlement.objects.select_for_update(skip_locked=True).filter(
            seats_held_over__isnull=False
        ):
            held = SeatCounts.of(entitlement).held_over
            if held != entitlement.seats_held_over:
                entitlement.seats_held_over = held
                entitlement.save(update_fields=["seats_held_over"])
