"""Retention of the raw event log."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from licensing import partitions
from licensing.models import Event


def events_prune(
    *, older_than: timedelta, batch_size: int = 5000, now: datetime | None = None
) -> int:
    """Delete raw events older than `older_than`. On PostgreSQL the table is partitioned by
    month (licensing.partitions): an event goes with its month, a DROP of the whole month once
    all of it is older, and only the default partition's old rows are deleted one by one. On
    SQLite, oldest first, `batch_size` per transaction.

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
    deleted = sum(month.events for month in partitions.drop_months_before(cutoff))
    # Rows below the months that remain are in the default partition (or, on SQLite, anywhere).
    oldest = partitions.oldest_month()
    prunable = Event.objects.filter(
        occurred_at__lt=min(cutoff, oldest) if oldest else cutoff, dispatched_at__isnull=False
    )
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
