"""The leads' candidates (selectors._lead_candidates) once the days are rolled up: what happened
today, in hours not rolled up yet, still makes a lead, each way the level can go above the seats
entitled. Every lead is checked against its 30-day chart, and against the leads computed before
the rollups existed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from licensing import selectors, services
from licensing.models import Entitlement, UsageDay
from portal.models import User

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
TODAY = datetime(2026, 3, 20, tzinfo=UTC)


def activate(entitlement: Entitlement, count: int, at: datetime) -> list[Any]:
    """`count` new seats at `at`: the activation ids of those granted."""
    ids = []
    for n in range(count):
        result = services.seat_activate(
            entitlement=entitlement, fingerprint=f"{at:%d%H%M}-{n}", now=at
        )
        if result.seat is not None:
            ids.append(result.seat.pk)
    return ids


def release(entitlement: Entitlement, seat_ids: list[Any], at: datetime) -> None:
    for seat_id in seat_ids:
        services.seat_release(entitlement=entitlement, seat_id=seat_id, now=at)


@pytest.fixture
def steady(make_entitlement: Callable[..., Entitlement]) -> Callable[..., Entitlement]:
    """An entitlement created 40 days ago, `level` seats in use since 20 days ago (within its
    seats), whose days up to yesterday are rolled up; another one, quiet, beside it."""

    def make(level: int, **terms: Any) -> Entitlement:
        with time_machine.travel(NOW - timedelta(days=40), tick=False):
            entitlement = make_entitlement(**terms)
            make_entitlement(seats=5, hard_limit=6)
        activate(entitlement, level, NOW - timedelta(days=20))
        return entitlement

    return make


def leads_now() -> list[tuple[Any, int, int]]:
    return [
        (lead.entitlement_id, lead.overdraft_seat_hours, lead.denials)
        for lead in selectors.expansion_leads(now=NOW)
    ]


def chart_figures(entitlement: Entitlement) -> tuple[Any, int, int]:
    start, end = selectors.USAGE_RANGES[selectors.LEADS_RANGE].bounds(NOW)
    capacity = selectors.usage_history(
        entitlement, start=start, end=end, bucket="day", now=NOW
    ).capacity
    return (entitlement.pk, capacity.overdraft_seat_hours, capacity.denials)


def rolled_up_then_leads() -> list[tuple[Any, int, int]]:
    """The leads before the rollups, which must be the leads after them; the latter."""
    before = leads_now()
    services.usage_rollups_refresh(now=NOW)
    assert UsageDay.objects.filter(day=TODAY - timedelta(days=1)).exists()
    assert leads_now() == before
    return before


def test_an_activation_into_overdraft_today_makes_a_lead(
    steady: Callable[..., Entitlement],
) -> None:
    entitlement = steady(5, seats=10, hard_limit=12)
    seats = activate(entitlement, 6, TODAY + timedelta(hours=9, minutes=10))  # 11 of 10
    release(entitlement, seats, TODAY + timedelta(hours=10, minutes=5))

    found = rolled_up_then_leads()

    assert found == [chart_figures(entitlement)]
    assert found[0][1] > 0


def test_a_denial_today_makes_a_lead(steady: Callable[..., Entitlement]) -> None:
    entitlement = steady(10, seats=10, hard_limit=10)  # no overdraft: at the limit
    activate(entitlement, 1, TODAY + timedelta(hours=11))  # denied

    found = rolled_up_then_leads()

    assert found == [(entitlement.pk, 0, 1)] == [chart_figures(entitlement)]


def test_lines_lowered_today_under_the_level_make_a_lead_after_the_seats_went(
    steady: Callable[..., Entitlement],
) -> None:
    """Seats taken within a raise's 10 seats this morning, the raise ended under them (8
    seats), then the seats released: no activation went into overdraft, and the level is
    below the seats at midnight and now. Only the change of the terms tells."""
    entitlement = steady(5, seats=8, hard_limit=12)
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        granted = services.raise_grant(
            entitlement=entitlement, extra_seats=2, ends_at=NOW + timedelta(days=5)
        )
    morning = activate(entitlement, 4, TODAY + timedelta(hours=6))  # 9 of 10
    with time_machine.travel(TODAY + timedelta(hours=8), tick=False):
        services.raise_end(raise_=granted)  # 9 of 8
    release(entitlement, morning, TODAY + timedelta(hours=10, minutes=30))  # 5 of 8

    found = rolled_up_then_leads()

    assert found == [chart_figures(entitlement)]
    assert found[0][1] > 0


def test_a_level_carried_over_midnight_makes_a_lead(steady: Callable[..., Entitlement]) -> None:
    """In overdraft since yesterday evening, nothing today: today's hours have no rows."""
    entitlement = steady(5, seats=10, hard_limit=12)
    activate(entitlement, 7, TODAY - timedelta(hours=2))  # 12 of 10

    found = rolled_up_then_leads()

    assert found == [chart_figures(entitlement)]
    assert found[0][1] >= 2 * 2 + 15 * 2  # two hours yesterday, 15 and a half today


def test_entitlements_whose_rollups_lag_are_judged_by_their_hours(
    steady: Callable[..., Entitlement],
) -> None:
    """The rollup job ran two days ago, not since: the days before yesterday are rolled up,
    yesterday is not, and yesterday's overdraft still makes a lead."""
    entitlement = steady(5, seats=10, hard_limit=12)
    seats = activate(entitlement, 6, TODAY - timedelta(hours=20))  # 11 of 10, yesterday
    release(entitlement, seats, TODAY - timedelta(hours=17, minutes=30))
    before = leads_now()

    services.usage_rollups_refresh(now=NOW - timedelta(days=1))

    assert not UsageDay.objects.filter(day=TODAY - timedelta(days=1)).exists()
    assert UsageDay.objects.filter(entitlement=entitlement).exists()
    assert leads_now() == before == [chart_figures(entitlement)]
    assert before[0][1] > 0


def test_a_quiet_entitlement_is_no_candidate_once_rolled_up(
    steady: Callable[..., Entitlement],
) -> None:
    steady(5, seats=10, hard_limit=12)
    services.usage_rollups_refresh(now=NOW)

    start, end = selectors.USAGE_RANGES[selectors.LEADS_RANGE].bounds(NOW)
    assert selectors._lead_candidates(start=start, end=end, now=NOW) == []
    assert leads_now() == []


def test_the_leads_page_shows_the_ranking_a_page_at_a_time(
    make_entitlement: Callable[..., Entitlement], client: Client, account_manager: User
) -> None:
    """30 leads, each a seat-hour more than the one before: 25 on the first page, the rest on
    the second, in rank order; a page number that is not one shows the first page, one past
    the end the last."""
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        entitlements = [make_entitlement(seats=1, hard_limit=3) for _ in range(30)]
    for n, entitlement in enumerate(entitlements):
        seats = activate(entitlement, 2, TODAY - timedelta(days=3))  # 2 of 1
        release(entitlement, seats[1:], TODAY - timedelta(days=3) + timedelta(hours=n + 1))
    services.usage_rollups_refresh(now=NOW)
    ranked = list(reversed(entitlements))
    client.force_login(account_manager)

    def page(query: str) -> tuple[list[str], str]:
        with time_machine.travel(NOW, tick=False):
            html = client.get(f"/team/leads/{query}").content.decode()
        order = sorted(
            (html.index(f'/entitlements/{e.pk}/"'), str(e.pk))
            for e in entitlements
            if f'/entitlements/{e.pk}/"' in html
        )
        return [pk for _, pk in order], html

    first, html = page("")
    assert first == [str(e.pk) for e in ranked[:25]]
    assert "Page 1 of 2 · 30 in all" in html
    second, html = page("?page=2")
    assert second == [str(e.pk) for e in ranked[25:]]
    assert page("?page=x")[0] == first
    assert page("?page=9")[0] == second
    assert [lead.entitlement_id for lead in selectors.expansion_leads(now=NOW)] == [
        e.pk for e in ranked
    ]
