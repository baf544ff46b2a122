"""The usage chart in words (issue 24): each canvas is described by its figures and points to
the table of every bucket, which says what it holds in its caption."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.test import Client
from django.urls import reverse

from licensing.capacity import Capacity
from licensing.history import Point
from licensing.models import Entitlement
from portal.models import User
from portal.templatetags.usage_table import usage_summary

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def _capacity(*, peak: int, overdraft_hours: int, denials: int) -> Capacity:
    return Capacity(
        entitled=130,
        hard_limit=150,
        peak=peak,
        p95_daily_peak=peak,
        overdraft_hours=overdraft_hours,
        overdraft_seat_hours=0,
        denials=denials,
        activations=0,
        demand=peak,
        recommended=None,
    )


def test_the_summary_states_the_peak_the_lines_overdraft_and_denials() -> None:
    # Four days: 100/120 for two, expanded to 130/150 for two, a cap of 140 on the last;
    # 2 denials on the second day, 5 on the third. The figures are the capacity note's.
    points = [
        Point(start=DAY, peak=90, entitled=100, hard_limit=120),
        Point(start=DAY + timedelta(days=1), peak=120, denials=2, entitled=100, hard_limit=120),
        Point(start=DAY + timedelta(days=2), peak=125, denials=5, entitled=130, hard_limit=150),
        Point(
            start=DAY + timedelta(days=3), peak=110, entitled=130, hard_limit=150, customer_cap=140
        ),
    ]
    capacity = _capacity(peak=125, overdraft_hours=9, denials=7)

    summary = usage_summary(points, capacity, "last 7 days", "day")

    assert summary["seats"] == (
        "Peak 125 seats in use in the last 7 days. Lines: entitled seats 100, then 130;"
        " hard limit 120, then 150; customer's cap none, then 140. 9 hours in overdraft;"
        " 7 activations denied."
    )
    assert summary["denials"] == (
        "7 activations denied in the last 7 days, in 2 days of 4; at most 5 in one day."
    )


def test_the_summary_of_a_quiet_range_without_a_hard_limit() -> None:
    points = [Point(start=DAY + timedelta(hours=h), peak=3, entitled=10) for h in range(24)]

    summary = usage_summary(
        points, _capacity(peak=3, overdraft_hours=1, denials=0), "last 24 hours", "hour"
    )

    assert summary["seats"] == (
        "Peak 3 seats in use in the last 24 hours. Lines: entitled seats 10; hard limit none."
        " 1 hour in overdraft; no activation denied."
    )
    assert summary["denials"] == "No activation denied in the last 24 hours."


def test_the_canvases_are_described_and_point_to_the_table(
    client: Client,
    customer_admin: User,
    entitlement: Entitlement,
    make_history: Callable[..., Any],
) -> None:
    make_history(entitlement, hours=24 * 30)
    client.force_login(customer_admin)
    url = reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])
    html = client.get(url, {"range": "30d"}).content.decode()

    for canvas, summary in (("usage-chart", "usage-summary"), ("denials-chart", "denials-summary")):
        tag = re.search(rf'<canvas id="{canvas}"[^>]*>', html)
        assert tag is not None
        assert f'aria-describedby="{summary}"' in tag.group(0)
        assert 'aria-details="usage-table"' in tag.group(0)
        assert f'<p id="{summary}" class="visually-hidden">' in html
    figures = re.search(r'<p id="usage-summary"[^>]*>([^<]*)</p>', html)
    assert figures is not None
    assert figures.group(1).startswith(
        "Peak 120 seats in use in the last 30 days. Lines: entitled seats 100; hard limit 120."
    )
    assert "activations denied" in figures.group(1)
    assert '<details class="usage-table" id="usage-table">' in html
    assert "<caption>The charts' figures, last 30 days, per day (UTC):" in html
