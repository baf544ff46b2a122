"""Daily rollups of the hourly usage buckets (UsageDay), so a chart of months or a year reads a
row a day (licensing.selectors.usage_history).

A day is rolled up once it has ended and settled (`selectors.ROLLUP_SETTLE` after midnight,
UTC), from the same walk over its hours that a chart makes (licensing.history), judged by the
terms in force hour by hour: the stored day is the chart's day. Seat changes only ever write
the current hour's bucket, so a day that has ended never changes again. Each entitlement's
days are rolled up in order from its first bucket, so its rollups are one run of consecutive
days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from licensing import history, selectors
from licensing.models import Entitlement, UsageBucket, UsageDay

# Entitlements rolled up per transaction (and per query of their rows).
CHUNK: Final = 200


def usage_rollups_refresh(*, now: datetime | None = None) -> int:
    """Roll up every day that has ended and settled and is not rolled up yet; returns the
    number of days written. Safe to run twice, or at once from two processes (a day is
    written once: the unique (entitlement, day) row)."""
    now = now or timezone.now()
    until = selectors.rolled_up_until(now)
    ids = list(Entitlement.objects.order_by("pk").values_list("pk", flat=True))
    return sum(
        _roll_up(ids[n : n + CHUNK], until=until, now=now) for n in range(0, len(ids), CHUNK)
    )


def _roll_up(ids: list[Any], *, until: datetime, now: datetime) -> int:
    with transaction.atomic():
        last = dict(
            UsageDay.objects.filter(entitlement_id__in=ids)
            .values("entitlement_id")
            .annotate(last=Max("day"))
            .values_list("entitlement_id", "last")
        )
        closing = {
            pk: level
            for pk, day, level in UsageDay.objects.filter(
                entitlement_id__in=list(last), day__in=set(last.values())
            ).values_list("entitlement_id", "day", "closing")
            if last[pk] == day
        }
        first = dict(
            UsageBucket.objects.filter(entitlement_id__in=[pk for pk in ids if pk not in last])
            .values("entitlement_id")
            .annotate(first=Min("hour"))
            .values_list("entitlement_id", "first")
        )
        since = {pk: day + timedelta(days=1) for pk, day in last.items()}
        since |= {pk: history.floor_day(hour) for pk, hour in first.items()}
        due = {pk: day for pk, day in since.items() if day < until}
        if not due:
            return 0
        entitlements = Entitlement.objects.filter(pk__in=list(due))
        terms = selectors.terms_histories(entitlements)
        rows = selectors.bucket_rows(list(due), min(due.values()), until)
        days = [
            UsageDay(entitlement_id=pk, **selectors.rolled_up(point))
            for pk, day in due.items()
            for point in selectors.day_points(
                terms[pk],
                rows[pk],
                closing_before=closing.get(pk, 0),
                start=day,
                stop=until,
                now=now,
            )
        ]
        UsageDay.objects.bulk_create(days, ignore_conflicts=True, batch_size=2000)
    return len(days)
