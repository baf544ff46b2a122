"""Entitlements: create one, change its terms, suspend and resume it.

Each change records the terms in force from that moment (EntitlementTerms: the usage history
judges every hour by the terms of its time) and writes its Event rows (entitlement.created /
entitlement.updated and the zone changes it caused, licensing.zones) and its audit entry, in
one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from licensing import zones
from licensing.models import (
    AuditEntry,
    BillingPeriod,
    Customer,
    Entitlement,
    EntitlementTerms,
    Event,
    Product,
)
from licensing.services._rows import write_events, zone_events
from licensing.services.accounts import product_create
from licensing.services.audit import SYSTEM, Actor, audit_diff, audit_record
from licensing.zones import SeatCounts


def _lowered_below(value: int, before: int | None, used: int) -> int | None:
    """The floor a line may not be lowered below (the seats in use, or the line as it was if
    that is lower), or None when `value` is fine. A line already below the seats in use (seats
    held over after a temporary raise) may stay, or rise; `before` None is a new line."""
    if value >= used:
        return None
    if before is not None and value >= before:
        return None
    return used if before is None else min(used, before)


def _line(before: SeatCounts | None, name: str) -> int | None:
    """A limit as it was: None for a new entitlement, and for no limit (a finite line is
    lower than none)."""
    return None if before is None else getattr(before, name)


def check_entitlement_limits(
    seats: int,
    hard_limit: int | None,
    used: int,
    *,
    before: SeatCounts | None = None,
    customer_cap: int | None = None,
) -> None:
    """Refuse limits that make no sense or that the seats in use already break.

    A line may stay below the seats in use (entitled seats: that is the overdraft; a limit:
    seats held over after a temporary raise ended), only not be lowered below them: pass the
    counts `before` the change when updating, or any change to an entitlement in overdraft
    (even suspending it) would be refused.
    """
    problems: dict[str, list[str]] = {}
    if seats < 0:
        problems["seats"] = ["Seats cannot be negative."]
    elif (
        floor := _lowered_below(seats, None if before is None else before.entitled, used)
    ) is not None:
        problems["seats"] = [
            f"{used} seats are in use, so the entitled seats cannot go below {floor}."
            " Release or revoke seats first."
        ]
    if hard_limit is not None:
        if hard_limit < seats:
            problems["hard_limit"] = [
                f"The hard limit ({hard_limit}) cannot be below the entitled seats ({seats})."
            ]
        elif (floor := _lowered_below(hard_limit, _line(before, "hard_limit"), used)) is not None:
            problems["hard_limit"] = [
                f"{used} seats are in use, so the hard limit cannot go below {floor}."
                " Release or revoke seats first."
            ]
    if customer_cap is not None:
        if customer_cap < seats:
            problems["customer_cap"] = [
                f"A cap below the {seats} entitled seats would deny seats you are entitled to;"
                f" set {seats} or more."
            ]
        elif hard_limit is not None and customer_cap > hard_limit:
            problems["customer_cap"] = [
                f"The vendor's hard limit is {hard_limit}; a cap can be at most {hard_limit}."
            ]
        elif (
            floor := _lowered_below(customer_cap, _line(before, "customer_cap"), used)
        ) is not None:
            problems["customer_cap"] = [
                f"{used} seats are in use, so the cap cannot go below {floor}. Release seats first."
            ]
    if problems:
        raise ValidationError(problems)


_EDITABLE: Final = (
    "seats",
    "hard_limit",
    "customer_cap",
    "lease_seconds",
    "status",
    "starts_at",
    "ends_at",
    "billing_period",
    "free_overdraft_seat_hours",
    "offline_grace_seconds",
)


def entitlement_snapshot(entitlement: Entitlement) -> dict[str, Any]:
    """The editable terms of an entitlement, JSON-ready (events and audit entries)."""
    values: dict[str, Any] = {}
    for name in _EDITABLE:
        value = getattr(entitlement, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _record_terms(entitlement: Entitlement, moment: datetime, actor: Actor) -> None:
    """The terms as they are now, in force from `moment` (licensing.models.EntitlementTerms)."""
    EntitlementTerms.objects.create(
        entitlement=entitlement,
        effective_from=moment,
        changed_by=actor.label,
        **{name: getattr(entitlement, name) for name in _EDITABLE},
    )


def entitlement_create(
    *,
    customer: Customer,
    product: Product | None = None,
    new_product: str = "",
    seats: int,
    hard_limit: int | None,
    lease_seconds: int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    billing_period: str = BillingPeriod.MONTHLY,
    free_overdraft_seat_hours: int = 0,
    offline_grace_seconds: int | None = None,
    actor: Actor = SYSTEM,
) -> Entitlement:
    """Create an entitlement of `product`, or of a product named `new_product` created with it
    (in one transaction: a refused entitlement leaves no product behind)."""
    check_entitlement_limits(seats, hard_limit, 0)
    now = timezone.now()
    entitlement = Entitlement(
        customer=customer,
        seats=seats,
        hard_limit=hard_limit,
        lease_seconds=lease_seconds,
        starts_at=starts_at or now,
        ends_at=ends_at,
        billing_period=billing_period,
        free_overdraft_seat_hours=free_overdraft_seat_hours,
        offline_grace_seconds=offline_grace_seconds,
        created_at=now,
        updated_at=now,
    )
    entitlement.full_clean(exclude=["product"])
    with transaction.atomic():
        entitlement.product = product or product_create(name=new_product)
        entitlement.save(force_insert=True)
        _record_terms(entitlement, now, actor)
        terms = entitlement_snapshot(entitlement)
        write_events(
            entitlement,
            now,
            [(Event.Type.ENTITLEMENT_CREATED, {"changes": terms})],
            SeatCounts.of(entitlement),
        )
        audit_record(
            action=AuditEntry.Action.ENTITLEMENT_CREATED,
            target=entitlement,
            actor=actor,
            changes=audit_diff({}, terms),
        )
    return entitlement


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def entitlement_update(
    *,
    entitlement: Entitlement,
    seats: int | _Unset = UNSET,
    hard_limit: int | _Unset | None = UNSET,
    customer_cap: int | _Unset | None = UNSET,
    lease_seconds: int | _Unset | None = UNSET,
    status: str | _Unset = UNSET,
    starts_at: datetime | _Unset = UNSET,
    ends_at: datetime | _Unset | None = UNSET,
    billing_period: str | _Unset = UNSET,
    free_overdraft_seat_hours: int | _Unset = UNSET,
    offline_grace_seconds: int | _Unset | None = UNSET,
    actor: Actor = SYSTEM,
    action: str = AuditEntry.Action.ENTITLEMENT_UPDATED,
    hold_over: bool = False,
) -> Entitlement:
    """Change limits, the customer's cap, lease, status or dates; refuses limits below the
    seats in use.

    Raising a limit takes effect at once; a change that moves the entitlement out of (or to)
    a zone writes the matching transition event. A change that changes nothing writes
    nothing, not even an audit entry. New seats or a new hard limit that leave the customer's
    cap outside them (not asked to change it too) remove the cap: it no longer says anything
    the lines do not, and its removal shows in the changes.

    `hold_over` (the end of a temporary raise, licensing.services.raises) lowers the lines
    below the seats in use instead of refusing: those seats stay until released
    (`Entitlement.seats_held_over`), and new activations are judged by the new lines.
    """
    requested = {
        "seats": seats,
        "hard_limit": hard_limit,
        "customer_cap": customer_cap,
        "lease_seconds": lease_seconds,
        "status": status,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "billing_period": billing_period,
        "free_overdraft_seat_hours": free_overdraft_seat_hours,
        "offline_grace_seconds": offline_grace_seconds,
    }
    now = timezone.now()
    with transaction.atomic():
        current = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
        before_values = entitlement_snapshot(current)
        before = SeatCounts.of(current)
        for name, value in requested.items():
            if not isinstance(value, _Unset):
                setattr(current, name, value)
        fits = zones.cap_fits(current.seats, current.hard_limit, current.customer_cap)
        if isinstance(customer_cap, _Unset) and not fits:
            current.customer_cap = None
        check_entitlement_limits(
            current.seats,
            current.hard_limit,
            0 if hold_over else current.seats_used,
            before=before,
            customer_cap=current.customer_cap,
        )
        current.seats_held_over = SeatCounts.of(current).held_over
        current.full_clean()
        changes = audit_diff(before_values, entitlement_snapshot(current))
        if changes:
            current.updated_at = now
            current.save()
            _record_terms(current, now, actor)
            after = SeatCounts.of(current)
            write_events(
                current,
                now,
                [
                    (Event.Type.ENTITLEMENT_UPDATED, {"changes": changes}),
                    *zone_events(before, after),
                ],
                after,
            )
            audit_record(action=action, target=current, actor=actor, changes=changes)
    for name in (*_EDITABLE, "seats_used", "seats_held_over", "updated_at"):
        setattr(entitlement, name, getattr(current, name))
    return entitlement


def entitlement_set_customer_cap(
    *, entitlement: Entitlement, customer_cap: int | None, actor: Actor = SYSTEM
) -> Entitlement:
    """The customer's own cap (None: none), from the entitled seats to the hard limit and not
    below the seats in use; in force at once, recorded in the terms history and audited."""
    return entitlement_update(
        entitlement=entitlement,
        customer_cap=customer_cap,
        actor=actor,
        action=AuditEntry.Action.CUSTOMER_CAP_CHANGED,
    )


def entitlement_suspend(*, entitlement: Entitlement, actor: Actor = SYSTEM) -> Entitlement:
    return entitlement_update(
        entitlement=entitlement,
        status=Entitlement.Status.SUSPENDED,
        actor=actor,
        action=AuditEntry.Action.ENTITLEMENT_SUSPENDED,
    )


def entitlement_resume(*, entitlement: Entitlement, actor: Actor = SYSTEM) -> Entitlement:
    return entitlement_update(
        entitlement=entitlement,
        status=Entitlement.Status.ACTIVE,
        actor=actor,
        action=AuditEntry.Action.ENTITLEMENT_RESUMED,
    )
