"""Daily rollups (UsageDay, services.usage_rollups_refresh): a chart of day buckets reads them
for the days they cover and gives the same points, terms history included, as the hourly walk."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from licensing import selectors, services
from licensing.models import Entitlement, UsageBucket, UsageDay

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # midnight UTC
DAYS = 100
NOW = T0 + timedelta(days=DAYS, hours=13, minutes=20)  # the middle of day 100


@pytest.fixture
def busy(make_entitlement: Callable[..., Entitlement]) -> Entitlement:
    """100 days of random hourly use of 10 seats (hard limit 12), with denials, over terms that
    change: expanded to 14/16 at 10:30 on day 20 (inside an hour), capped at 15 on day 50,
    lowered to 8/10 at midnight of day 70."""
    with time_machine.travel(T0 - timedelta(hours=3), tick=False):
        entitlement = make_entitlement(seats=10, hard_limit=12)
    changes: list[tuple[timedelta, dict[str, Any]]] = [
        (timedelta(days=20, hours=10, minutes=30), {"seats": 14, "hard_limit": 16}),
        (timedelta(days=50, hours=6), {"customer_cap": 15}),
        (timedelta(days=70), {"seats": 8, "hard_limit": 10, "customer_cap": None}),
    ]
    for offset, terms in changes:
        with time_machine.travel(T0 + offset, tick=False):
            entitlement.refresh_from_db()
            services.entitlement_update(entitlement=entitlement, **terms)
    rng = random.Random(7)
    rows, level = [], 0
    for hour in range(DAYS * 24 + 14):
        if rng.random() < 0.45:
            continue  # no change this hour: the level carries forward
        peak = min(16, level + rng.randint(0, 4))
        level = rng.randint(0, peak)
        rows.append(
            UsageBucket(
                entitlement=entitlement,
                hour=T0 + timedelta(hours=hour),
                peak_used=peak,
                closing_used=level,
                activations=rng.randint(0, 5),
                overdraft_activations=rng.randint(0, 2),
                denials=rng.choice([0, 0, 0, 3]),
                releases=rng.randint(0, 5),
            )
        )
    UsageBucket.objects.bulk_create(rows)
    return entitlement


RANGES = [
    (T0 - timedelta(days=30), T0 + timedelta(days=DAYS + 1)),  # before the first bucket, to today
    (T0 + timedelta(days=15), T0 + timedelta(days=75)),  # across two changes of the terms
    (T0 + timedelta(days=60), T0 + timedelta(days=DAYS + 1)),
    (T0 + timedelta(days=99), T0 + timedelta(days=DAYS + 1)),  # yesterday and today
]


def _chart(entitlement: Entitlement, start: datetime, end: datetime, now: datetime = NOW) -> Any:
    usage = selectors.usage_history(entitlement, start=start, end=end, bucket="day", now=now)
    return [point.as_dict() for point in usage.points], usage.capacity


# A moment in the past: the day that holds it is partial then, so no later rollup may serve.
PAST = T0 + timedelta(days=40, hours=5)


def test_a_chart_of_rolled_up_days_is_the_chart_of_the_hours(busy: Entitlement) -> None:
    before = [_chart(busy, start, end) for start, end in RANGES]
    before_then = _chart(busy, T0, T0 + timedelta(days=60), now=PAST)

    written = services.usage_rollups_refresh(now=NOW)

    # Days 0..99 have ended (and settled); day 100 holds NOW.
    assert written == DAYS
    assert UsageDay.objects.filter(entitlement=busy).count() == DAYS
    assert [_chart(busy, start, end) for start, end in RANGES] == before
    assert _chart(busy, T0, T0 + timedelta(days=60), now=PAST) == before_then
    assert before_then[0][-1]["partial"] is True


def test_the_chart_reads_the_rollups(busy: Entitlement) -> None:
    services.usage_rollups_refresh(now=NOW)
    UsageDay.objects.filter(entitlement=busy, day=T0 + timedelta(days=30)).update(peak=999)
    year = (NOW - timedelta(days=365), NOW + timedelta(days=1))  # the chart's 1y range

    with CaptureQueriesContext(connection) as queries:
        points, _ = _chart(busy, *year)

    assert [p["peak"] for p in points if p["start"] == (T0 + timedelta(days=30)).isoformat()] == [
        999
    ]
    reads = [query["sql"] for query in queries.captured_queries if "usagebucket" in query["sql"]]
    # The level before the range, the hours before the first rolled-up day, and today's.
    assert len(reads) == 3
    assert sum("usageday" in query["sql"] for query in queries.captured_queries) == 1


def test_rollups_go_on_from_where_they_stopped_and_only_once(busy: Entitlement) -> None:
    # Day 99 closes at 16 seats and day 100 has no bucket before 06:00: its first hours carry
    # day 99's closing level.
    day_100 = T0 + timedelta(days=DAYS)
    buckets = UsageBucket.objects.filter(entitlement=busy)
    buckets.filter(hour__gte=day_100, hour__lt=day_100 + timedelta(hours=6)).delete()
    buckets.filter(pk=buckets.filter(hour__lt=day_100).latest("hour").pk).update(
        peak_used=16, closing_used=16
    )
    later = T0 + timedelta(days=DAYS + 1, hours=1)
    chart = _chart(busy, T0, later, now=later)
    assert chart[0][DAYS]["peak"] == 16
    assert services.usage_rollups_refresh(now=NOW) == DAYS
    assert services.usage_rollups_refresh(now=NOW) == 0
    # 00:30 the next day: day 100 has ended but not settled yet; at 01:00 it has.
    midnight = T0 + timedelta(days=DAYS + 1)
    assert services.usage_rollups_refresh(now=midnight + timedelta(minutes=30)) == 0
    assert services.usage_rollups_refresh(now=midnight + timedelta(hours=1)) == 1
    last = UsageDay.objects.filter(entitlement=busy).latest("day")
    assert last.day == T0 + timedelta(days=DAYS)
    # Its closing is that of the last bucket of the day (no bucket after 13:00).
    assert last.closing == UsageBucket.objects.filter(entitlement=busy).latest("hour").closing_used
    # Day 100 went on from day 99's closing level: the chart is still that of the hours.
    assert _chart(busy, T0, later, now=later) == chart


def test_an_entitlement_without_buckets_has_no_rollups(entitlement: Entitlement) -> None:
    assert services.usage_rollups_refresh(now=NOW) == 0
    assert not UsageDay.objects.exists()


def test_leads_and_forecasts_read_the_rollups_to_the_same_figures(busy: Entitlement) -> None:
    leads = selectors.expansion_leads(now=NOW)
    forecast = selectors.usage_forecast(busy, now=NOW)
    assert [lead.entitlement_id for lead in leads] == [busy.pk]

    services.usage_rollups_refresh(now=NOW)

    assert selectors.expansion_leads(now=NOW) == leads
    assert selectors.usage_forecast(busy, now=NOW) == forecast
    # ...and they did read them: a rolled-up day of the window, changed, changes the lead.
    UsageDay.objects.filter(entitlement=busy, day=T0 + timedelta(days=90)).update(
        overdraft_seat_hours=F("overdraft_seat_hours") + 1000
    )
    (lead,) = selectors.expansion_leads(now=NOW)
    assert lead.capacity.overdraft_seat_hours == leads[0].capacity.overdraft_seat_hours + 1000


def test_a_lead_whose_only_overdraft_is_a_rolled_up_day_is_still_found(
    make_entitlement: Callable[..., Entitlement],
) -> None:
    with time_machine.travel(NOW - timedelta(days=40), tick=False):
        entitlement = make_entitlement(seats=10, hard_limit=12)
    # One hour at 12 seats ten days ago, back to none within it; nothing else.
    UsageBucket.objects.create(
        entitlement=entitlement,
        hour=T0 + timedelta(days=DAYS - 10, hours=9),
        peak_used=12,
        closing_used=0,
        activations=12,
        releases=12,
    )
    found = selectors.expansion_leads(now=NOW)
    assert [(lead.entitlement_id, lead.overdraft_seat_hours) for lead in found] == [
        (entitlement.pk, 2)
    ]

    services.usage_rollups_refresh(now=NOW)

    assert selectors.expansion_leads(now=NOW) == found
