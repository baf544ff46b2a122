"""Periodic housekeeping tasks of the portal (Celery beat; settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from licensing import services


@shared_task(name="portal.prune_events")
def prune_events() -> int:
    """Delete raw events older than EVENT_RETENTION_DAYS (0: keep them all)."""
    days = settings.EVENT_RETENTION_DAYS
    if not days:
        return 0
    return services.events_prune(older_than=timedelta(days=days))
