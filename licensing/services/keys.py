"""License keys: rotate one, with a grace period during which the old key still works."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from licensing import keys
from licensing.models import AuditEntry, Entitlement, Event, generate_license_key
from licensing.services._rows import write_events
from licensing.services.audit import SYSTEM, Actor, audit_record
from licensing.zones import SeatCounts


def license_key_rotate(
    *,
    entitlement: Entitlement,
    grace: timedelta = keys.DEFAULT_GRACE,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> Entitlement:
    """Give `entitlement` a new key; the current one keeps working for `grace` (none: it stops
    at once). A key still in an earlier rotation's grace period stops now: two keys at most.
    Seats held stay held whatever key took them. Writes `license_key.rotated` (with key hints,
    never a key) and an audit entry."""
    if not timedelta(0) <= grace <= keys.MAX_GRACE:
        raise ValidationError(
            {"grace": [f"The grace period must be from 0 to {keys.MAX_GRACE.days} days."]}
        )
    now = now or timezone.now()
    with transaction.atomic():
        current = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
        old_key = current.license_key
        current.license_key = generate_license_key()
        current.previous_license_key = old_key if grace else None
        current.previous_key_valid_until = now + grace if grace else None
        current.updated_at = now
        current.save(
            update_fields=[
                "license_key",
                "previous_license_key",
                "previous_key_valid_until",
                "updated_at",
            ]
        )
        until = current.previous_key_valid_until
        details = {
            "key_hint": keys.hint(current.license_key),
            "previous_key_hint": keys.hint(old_key),
            "previous_key_valid_until": until.isoformat() if until else None,
        }
        write_events(
            current, now, [(Event.Type.LICENSE_KEY_ROTATED, details)], SeatCounts.of(current)
        )
        audit_record(
            action=AuditEntry.Action.LICENSE_KEY_ROTATED,
            target=current,
            actor=actor,
            changes={"license_key": [keys.hint(old_key), keys.hint(current.license_key)]},
        )
    for name in ("license_key", "previous_license_key", "previous_key_valid_until", "updated_at"):
        setattr(entitlement, name, getattr(current, name))
    return entitlement
