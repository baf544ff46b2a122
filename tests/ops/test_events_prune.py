"""Retention: raw events older than the configured age go; usage buckets and charts stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from licensing import selectors, services, tasks
from licensing.models import Entitlement, Event, UsageBucket
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=500)  # beyond the default 400 days
RECENTLY = NOW - timedelta(days=10)


def _fill(entitlement: Entitlement, when: datetime, prefix: str, count: int) -> None:
    """`count` activations at `when`: with 2 seats and a hard limit of 3, the rest are denied."""
    with time_machine.travel(when, tick=False):
        for n in range(count):
            services.seat_activate(entitlement=entitlement, fingerprint=f"{prefix}-{n}")
        for seat in entitlement.seat_records.filter(released_at__isnull=True):
            services.seat_release(entitlement=seat.entitlement, seat_id=seat.pk)


@pytest.fixture
def history(make_entitlement: Callable[..., Entitlement]) -> Entitlement:
    """Overdraft and denials long ago and recently; every event already fanned out."""
    with time_machine.travel(LONG_AGO - timedelta(hours=1), tick=False):
        entitlement = make_entitlement(seats=2, hard_limit=3)
    _fill(entitlement, LONG_AGO, "old", 5)
    _fill(entitlement, RECENTLY, "new", 4)
    Event.objects.update(dispatched_at=timezone.now())
    return entitlement


def _chart_points(entitlement: Entitlement) -> list[selectors.UsagePoint]:
    return selectors.usage_series(
        entitlement, start=NOW - timedelta(days=600), end=NOW, bucket="day"
    )


def _capacity(entitlement: Entitlement) -> Any:
    return selectors.usage_history(
        entitlement, start=NOW - timedelta(days=600), end=NOW, bucket="day"
    ).capacity


def _chart(entitlement: Entitlement) -> list[dict[str, Any]]:
    return [point.as_dict() for point in _chart_points(entitlement)]


def test_old_events_go_while_buckets_and_chart_numbers_stay(history: Entitlement) -> None:
    chart_before = _chart(history)
    figures_before = _capacity(history)
    buckets_before = list(UsageBucket.objects.order_by("hour").values())
    old_events = Event.objects.filter(occurred_at__lt=NOW - timedelta(days=400)).count()
    recent_events = Event.objects.filter(occurred_at__gte=NOW - timedelta(days=400)).count()
    assert old_events and recent_events

    deleted = services.events_prune(older_than=timedelta(days=400), now=NOW)

    assert deleted == old_events
    assert not Event.objects.filter(occurred_at__lt=NOW - timedelta(days=400)).exists()
    assert Event.objects.count() == recent_events
    assert list(UsageBucket.objects.order_by("hour").values()) == buckets_before
    assert _chart(history) == chart_before
    figures_after = _capacity(history)
    assert figures_after == figures_before
    assert figures_after.denials == 2 + 1  # 5 tries long ago and 4 recently on 3 seats
    # The long-ago denials still show in the chart although their events are gone.
    old_day = next(p for p in chart_before if p["start"].startswith(LONG_AGO.date().isoformat()))
    assert old_day["denials"] == 2 and old_day["peak"] == 3


def test_undispatched_events_are_kept_whatever_their_age(history: Entitlement) -> None:
    owed = Event.objects.filter(occurred_at__lt=RECENTLY - timedelta(days=100)).first()
    assert owed is not None
    Event.objects.filter(pk=owed.pk).update(dispatched_at=None)

    services.events_prune(older_than=timedelta(days=400), now=NOW)

    assert list(Event.objects.filter(occurred_at__lt=RECENTLY - timedelta(days=100))) == [owed]


def test_pruning_runs_in_batches_until_nothing_old_is_left(history: Entitlement) -> None:
    old = Event.objects.filter(occurred_at__lt=NOW - timedelta(days=400)).count()
    assert old > 3
    assert services.events_prune(older_than=timedelta(days=400), batch_size=2, now=NOW) == old
    assert services.events_prune(older_than=timedelta(days=400), batch_size=2, now=NOW) == 0


def test_deliveries_of_pruned_events_go_with_them(history: Entitlement) -> None:
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    old, new = (
        Event.objects.filter(occurred_at__lt=NOW - timedelta(days=400)).first(),
        Event.objects.filter(occurred_at__gte=RECENTLY).first(),
    )
    assert old is not None and new is not None
    for event in (old, new):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=event, event_type=event.type, status="succeeded"
        )
        DeliveryAttempt.objects.create(delivery=delivery, succeeded=True)

    services.events_prune(older_than=timedelta(days=400), now=NOW)

    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == [new.pk]
    assert DeliveryAttempt.objects.count() == 1


def test_a_non_positive_age_is_refused(db: Any) -> None:
    with pytest.raises(ValueError):
        services.events_prune(older_than=timedelta(0))


def test_the_daily_task_uses_event_retention_days(history: Entitlement, settings: Any) -> None:
    total = Event.objects.count()
    settings.EVENT_RETENTION_DAYS = 0  # keep everything
    with time_machine.travel(NOW, tick=False):
        assert tasks.prune_events() == 0
        assert Event.objects.count() == total

        settings.EVENT_RETENTION_DAYS = 400
        deleted = tasks.prune_events()
    assert deleted > 0
    assert Event.objects.count() == total - deleted


def test_beat_runs_the_prune_task_daily() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["licensing-prune-events"]
    assert entry["task"] == tasks.prune_events.name
    assert entry["schedule"].remaining_estimate(timezone.now()) <= timedelta(days=1)
