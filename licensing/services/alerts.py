"""Threshold alerts: choose thresholds, subscribe to them, and check them against readings of
the seats in use (the rule: licensing.alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing import alerts
from licensing.models import AlertSubscription, AlertThreshold, AuditEntry, Entitlement, Event
from licensing.services._rows import write_events
from licensing.services.audit import SYSTEM, Actor, audit_record
from licensing.zones import SeatCounts


def threshold_add(
    *,
    entitlement: Entitlement,
    audience: str,
    kind: str,
    percent: int | None = None,
    actor: Actor = SYSTEM,
) -> AlertThreshold:
    """A threshold of `audience` (customer or vendor) on `entitlement`; refuses a kind it does
    not know, a share outside 1-200% and one the audience has already."""
    if audience not in AlertThreshold.Audience.values:
        raise ValidationError({"audience": [f"“{audience}” is not customer or vendor."]})
    if kind not in alerts.KINDS:
        raise ValidationError(
            {"kind": [f"“{kind}” is not a threshold: choose percent, overdraft or limit."]}
        )
    if kind == alerts.PERCENT and (percent is None or not 1 <= percent <= 200):
        raise ValidationError({"percent": ["Choose a share from 1% to 200% of the seats."]})
    if kind != alerts.PERCENT:
        percent = None
    threshold = AlertThreshold(
        entitlement=entitlement, audience=audience, kind=kind, percent=percent
    )
    try:
        with transaction.atomic():
            threshold.save(force_insert=True)
            audit_record(
                action=AuditEntry.Action.ALERT_THRESHOLD_ADDED,
                target=entitlement,
                actor=actor,
                changes={"alert_threshold": [None, f"{audience}: {threshold}"]},
            )
    except IntegrityError:
        raise ValidationError({"kind": [f"There is a threshold at {threshold} already."]}) from None
    return threshold


def threshold_remove(*, threshold: AlertThreshold, actor: Actor = SYSTEM) -> bool:
    """Remove a threshold; False when it was gone already."""
    with transaction.atomic():
        deleted, _ = AlertThreshold.objects.filter(pk=threshold.pk).delete()
        if deleted:
            audit_record(
                action=AuditEntry.Action.ALERT_THRESHOLD_REMOVED,
                target=threshold.entitlement,
                actor=actor,
                changes={"alert_threshold": [f"{threshold.audience}: {threshold}", None]},
            )
    return bool(deleted)


def alert_subscribe(*, user: Any, entitlement: Entitlement, audience: str, on: bool) -> bool:
    """Email `user` (or stop) when a threshold of `audience` on `entitlement` fires; returns
    whether they are subscribed now."""
    if on:
        AlertSubscription.objects.get_or_create(
            user=user, entitlement=entitlement, audience=audience
        )
    else:
        AlertSubscription.objects.filter(
            user=user, entitlement=entitlement, audience=audience
        ).delete()
    return on


def thresholds_check(
    *, entitlement_id: Any, readings: Sequence[int], now: datetime | None = None
) -> list[Event]:
    """Step every threshold of the entitlement with each reading of the seats in use (in the
    order they happened) and write `entitlement.threshold_crossed` for each that fires.

    Called by the fan-out with the readings its seat events carry, off the activation's path.
    The thresholds' rows are locked, so two fan-outs judge them one after the other.
    """
    now = now or timezone.now()
    with transaction.atomic():
        thresholds = list(
            AlertThreshold.objects.select_for_update()
            .filter(entitlement_id=entitlement_id)
            .order_by("audience", "kind", "percent", "pk")  # the customer's first
        )
        if not thresholds or not readings:
            return []
        entitlement = Entitlement.objects.get(pk=entitlement_id)
        counts = SeatCounts.of(entitlement)
        fired: list[tuple[AlertThreshold, int, int]] = []
        for threshold in thresholds:
            level = alerts.level_of(threshold.kind, threshold.percent, counts)
            state = alerts.State(threshold.armed, threshold.last_fired_at)
            for used in readings:
                state, fires = alerts.step(state, level=level, used=used, now=now)
                if fires and level is not None:
                    fired.append((threshold, level, used))
            if (state.armed, state.last_fired_at) != (threshold.armed, threshold.last_fired_at):
                threshold.armed, threshold.last_fired_at = state.armed, state.last_fired_at
                threshold.save(update_fields=["armed", "last_fired_at"])
        return write_events(
            entitlement,
            now,
            [
                (
                    Event.Type.THRESHOLD_CROSSED,
                    {
                        "threshold": {
                            "id": str(threshold.pk),
                            "audience": threshold.audience,
                            "kind": threshold.kind,
                            "percent": threshold.percent,
                            "level": level,
                            "name": alerts.describe(threshold.kind, threshold.percent),
                        },
                        "used": used,
                    },
                )
                for threshold, level, used in fired
            ],
            counts,
        )
