"""The domain's periodic jobs (Celery beat: settings.CELERY_BEAT_SCHEDULE; in the embedded
default, `manage.py run_periodic`). Thin: each calls one service, and is safe to run twice (a
second run finds nothing left to do)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from licensing import partitions, services


@shared_task(name="licensing.expire_stale_seats")
def expire_stale_seats() -> int:
    """Release floating seats whose lease ran out (`seat.expired`)."""
    return services.seats_expire_stale()


@shared_task(name="licensing.prune_events")
def prune_events() -> int:
    """Delete raw events older than EVENT_RETENTION_DAYS (0: keep them all)."""
    days = settings.EVENT_RETENTION_DAYS
    if not days:
        return 0
    return services.events_prune(older_than=timedelta(days=days))


@shared_task(name="licensing.ensure_event_partitions")
def ensure_event_partitions() -> int:
    """Create the coming months' partitions of the events table (PostgreSQL)."""
    return len(partitions.ensure())


@shared_task(name="licensing.roll_up_usage")
def roll_up_usage() -> int:
    """Roll up the usage of the days that have ended (UsageDay)."""
    return services.usage_rollups_refresh()


@shared_task(name="licensing.apply_raises")
def apply_raises() -> int:
    """Start the temporary raises that are due and end those whose time is up."""
    return services.raises_apply()


@shared_task(name="licensing.issue_statements")
def issue_statements() -> int:
    """Issue the signed statements of the billing periods that closed."""
    return services.statements_issue_due()
