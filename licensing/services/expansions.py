"""Requests for more seats: a customer admin asks, the account team grants or declines.

Each change writes its ExpansionRequest row, its Event (`expansion.requested`, `.granted`,
`.declined`: webhooks and emails, like every event) and its audit entry in one transaction.
A grant also changes the entitlement's terms through `entitlement_update`, in that same
transaction, so a refused change (limits below the seats in use) grants nothing.

The rules: the seats asked for are more than the entitlement has now; a hard limit is not
below them (by default the overdraft allowance stays on top); one open request per
entitlement at a time, a second one is refused (the first is answered first).
"""

from __future__ import annotations

from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import AuditEntry, Entitlement, Event, ExpansionRequest
from licensing.services._rows import write_events
from licensing.services.audit import SYSTEM, Actor, audit_record
from licensing.services.entitlements import UNSET, _Unset, entitlement_update
from licensing.services.validation import check_characters
from licensing.zones import SeatCounts

MESSAGE_MAX_LENGTH: Final = 1000


def default_seats(entitlement: Entitlement, recommended: int | None) -> int:
    """What the request form offers: the capacity model's recommendation, else 10% more
    seats, rounded up (and at least one more)."""
    if recommended is not None and recommended > entitlement.seats:
        return recommended
    return max(entitlement.seats + 1, -(-entitlement.seats * 11 // 10))


def default_hard_limit(entitlement: Entitlement, seats: int) -> int | None:
    """The hard limit that keeps today's overdraft allowance on top of `seats`."""
    if entitlement.hard_limit is None:
        return None
    return entitlement.hard_limit + (seats - entitlement.seats)


def clean_text(name: str, value: str) -> str:
    """A message or note: stripped, at most MESSAGE_MAX_LENGTH characters, storable."""
    value = value.strip()
    if len(value) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {name: [f"At most {MESSAGE_MAX_LENGTH} characters, please (this has {len(value)})."]}
        )
    try:
        check_characters(name.capitalize(), value, line_breaks=True)
    except ValidationError as exc:
        raise ValidationError({name: exc.messages}) from None
    return value


def _check_terms(entitlement: Entitlement, seats: int, hard_limit: int | None) -> None:
    if seats <= entitlement.seats:
        raise ValidationError(
            {
                "seats": [
                    f"The entitlement has {entitlement.seats} seats already: ask for more"
                    f" than {entitlement.seats}."
                ]
            }
        )
    if hard_limit is not None and hard_limit < seats:
        raise ValidationError(
            {"hard_limit": [f"The hard limit ({hard_limit}) cannot be below the {seats} seats."]}
        )


def _email(user: Any) -> str:
    return getattr(user, "email", "") or ""


def _label(request: ExpansionRequest) -> str:
    entitlement = request.entitlement
    return f"{request.seats} seats of {entitlement.product} for {entitlement.customer}"


def expansion_request(
    *,
    entitlement: Entitlement,
    seats: int,
    hard_limit: int | _Unset | None = UNSET,
    message: str = "",
    actor: Actor = SYSTEM,
) -> ExpansionRequest:
    """Ask for `seats` entitled seats (and `hard_limit`; by default the overdraft allowance
    stays on top of them). Refused while the entitlement has an open request."""
    message = clean_text("message", message)
    now = timezone.now()
    with transaction.atomic():
        # The entitlement's row lock serialises requests for it, so two at once cannot both
        # find no open request (the unique constraint is the last line).
        current = (
            Entitlement.objects.select_for_update(of=("self",))
            .select_related("customer", "product")
            .get(pk=entitlement.pk)
        )
        wanted = (
            default_hard_limit(current, seats) if isinstance(hard_limit, _Unset) else hard_limit
        )
        _check_terms(current, seats, wanted)
        pending = ExpansionRequest.objects.filter(
            entitlement_id=current.pk, status=ExpansionRequest.Status.OPEN
        ).first()
        if pending is not None:
            raise ValidationError(
                {
                    "seats": [
                        f"A request for {pending.seats} seats, made {pending.created_at.day}"
                        f" {pending.created_at:%b %Y}, is waiting for the account team:"
                        " they will answer it before a new one can be made."
                    ]
                }
            )
        request = ExpansionRequest(
            entitlement=current,
            requested_by=actor.user,
            seats=seats,
            hard_limit=wanted,
            message=message,
            created_at=now,
        )
        request.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                request.save(force_insert=True)
        except IntegrityError:  # pragma: no cover - the row lock above prevents it
            raise ValidationError(
                {"seats": ["A request is waiting for the account team already."]}
            ) from None
        write_events(
            current,
            now,
            [
                (
                    Event.Type.EXPANSION_REQUESTED,
                    {
                        "request_id": str(request.pk),
                        "requested_seats": seats,
                        "requested_hard_limit": wanted,
                        "message": message,
                        "requested_by": _email(actor.user),
                    },
                )
            ],
            SeatCounts.of(current),
        )
        audit_record(
            action=AuditEntry.Action.EXPANSION_REQUESTED,
            target=request,
            actor=actor,
            customer=current.customer,
            label=_label(request),
            changes={
                "seats": [current.seats, seats],
                "hard_limit": [current.hard_limit, wanted],
                "message": message,
            },
        )
    return request


def _open_request(request: ExpansionRequest) -> ExpansionRequest:
    """The request, locked, if it is still open; else a ValidationError saying what became of it."""
    locked = (
        ExpansionRequest.objects.select_for_update(of=("self",))
        .select_related("entitlement__customer", "entitlement__product", "requested_by")
        .get(pk=request.pk)
    )
    if locked.status != ExpansionRequest.Status.OPEN:
        raise ValidationError(f"This request was {locked.status} already.", code="resolved")
    return locked


def _resolved(request: ExpansionRequest, locked: ExpansionRequest) -> ExpansionRequest:
    for name in ("status", "resolved_by", "resolved_at", "resolution_note"):
        setattr(request, name, getattr(locked, name))
    return request


def expansion_grant(
    *, request: ExpansionRequest, note: str = "", actor: Actor = SYSTEM
) -> ExpansionRequest:
    """Give the entitlement the terms asked for and mark the request granted, in one
    transaction. Refused when the request is no longer open or the entitlement has as many
    seats already (decline it then); `entitlement_update`'s rules apply to the new terms."""
    note = clean_text("note", note)
    now = timezone.now()
    with transaction.atomic():
        locked = _open_request(request)
        entitlement = locked.entitlement
        before = (entitlement.seats, entitlement.hard_limit)
        _check_terms(entitlement, locked.seats, locked.hard_limit)
        entitlement_update(
            entitlement=entitlement,
            seats=locked.seats,
            hard_limit=locked.hard_limit,
            actor=actor,
            action=AuditEntry.Action.EXPANSION_GRANTED,
        )
        locked.status = ExpansionRequest.Status.GRANTED
        locked.resolved_by = actor.user
        locked.resolved_at = now
        locked.resolution_note = note
        locked.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
        write_events(
            entitlement,
            now,
            [
                (
                    Event.Type.EXPANSION_GRANTED,
                    {
                        "request_id": str(locked.pk),
                        "previous_seats": before[0],
                        "previous_hard_limit": before[1],
                        "granted_seats": locked.seats,
                        "granted_hard_limit": locked.hard_limit,
                        "note": note,
                        "requested_by": _email(locked.requested_by),
                        "resolved_by": _email(actor.user),
                    },
                )
            ],
            SeatCounts.of(entitlement),
        )
    return _resolved(request, locked)


def expansion_decline(
    *, request: ExpansionRequest, note: str = "", actor: Actor = SYSTEM
) -> ExpansionRequest:
    """Mark the request declined, with an optional note to the customer; the terms stay."""
    note = clean_text("note", note)
    now = timezone.now()
    with transaction.atomic():
        locked = _open_request(request)
        entitlement = locked.entitlement
        locked.status = ExpansionRequest.Status.DECLINED
        locked.resolved_by = actor.user
        locked.resolved_at = now
        locked.resolution_note = note
        locked.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
        write_events(
            entitlement,
            now,
            [
                (
                    Event.Type.EXPANSION_DECLINED,
                    {
                        "request_id": str(locked.pk),
                        "requested_seats": locked.seats,
                        "requested_hard_limit": locked.hard_limit,
                        "note": note,
                        "requested_by": _email(locked.requested_by),
                        "resolved_by": _email(actor.user),
                    },
                )
            ],
            SeatCounts.of(entitlement),
        )
        audit_record(
            action=AuditEntry.Action.EXPANSION_DECLINED,
            target=locked,
            actor=actor,
            customer=entitlement.customer,
            label=_label(locked),
            changes={"status": ["open", "declined"], "note": note},
        )
    return _resolved(request, locked)
