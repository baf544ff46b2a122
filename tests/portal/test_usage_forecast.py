"""The forecast read from the database (`selectors.usage_forecast`), and what the entitlement
page, its chart and the leads say with it (licensing.forecast has its own DB-free tests)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from licensing import forecast, selectors, services
from licensing.models import Entitlement, UsageBucket
from portal.models import User

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # a Wednesday afternoon
TODAY = T0.date()
WEEKEND = (5, 6)


def weekly(day: date, *, start: int = 80) -> int:
    """Weekday peaks of `start` seats today, one more each day; weekends at 20% of that."""
    level = start + (day - TODAY).days
    return round(0.2 * level) if day.weekday() in WEEKEND else level


def record(entitlement: Entitlement, peaks: dict[date, int]) -> None:
    """One bucket a day at 14:00 with the day's peak; everyone has left by the next hour."""
    UsageBucket.objects.bulk_create(
        UsageBucket(
            entitlement=entitlement,
            hour=datetime.combine(day, time(14), UTC),
            peak_used=peak,
            closing_used=0,
            activations=peak,
            releases=peak,
        )
        for day, peak in peaks.items()
    )


def growing(
    make_entitlement: Callable[..., Entitlement], *, days: int = 70, seats: int = 100, **kw: Any
) -> tuple[Entitlement, dict[date, int]]:
    """An entitlement created `days` days before T0 whose use grows on weekdays (`weekly`),
    with its daily peaks up to today (14:00, before T0)."""
    with time_machine.travel(T0 - timedelta(days=days), tick=False):
        entitlement = make_entitlement(seats=seats, **kw)
    peaks = {TODAY - timedelta(n): weekly(TODAY - timedelta(n)) for n in range(days)}
    record(entitlement, peaks)
    return entitlement, peaks


@pytest.fixture
def growth(make_entitlement: Callable[..., Entitlement]) -> Entitlement:
    return growing(make_entitlement)[0]


def test_the_forecast_reads_the_daily_peaks_of_the_last_eight_weeks(
    make_entitlement: Callable[..., Entitlement],
) -> None:
    entitlement, peaks = growing(make_entitlement)

    found = selectors.usage_forecast(entitlement, now=T0)

    assert found == forecast.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert found.history_days == 56
    assert found.entitled is not None and found.entitled.expected == date(2026, 3, 31)
    assert found.limit is not None and found.limit.expected == date(2026, 4, 20)


def test_the_forecast_is_three_queries_with_the_terms_four_without(
    growth: Entitlement, django_assert_num_queries: Any
) -> None:
    terms = selectors.terms_history(growth)
    # The level before the window, its rolled-up days (none here), its hourly rows.
    with django_assert_num_queries(3):
        with_terms = selectors.usage_forecast(growth, now=T0, terms=terms)
    with django_assert_num_queries(4):
        assert selectors.usage_forecast(growth, now=T0) == with_terms


def test_days_before_the_entitlement_existed_are_not_days_without_use(
    make_entitlement: Callable[..., Entitlement],
) -> None:
    """Created 20 days before T0 at 15:30: its first whole day is the next, so 19 complete
    days; the 37 days of the window before them are not zeros dragging the trend."""
    entitlement, peaks = growing(make_entitlement, days=20)

    found = selectors.usage_forecast(entitlement, now=T0)

    assert found.history_days == 19
    whole = {day: peak for day, peak in peaks.items() if day > TODAY - timedelta(20)}
    assert found == forecast.forecast(whole, today=TODAY, entitled=100, limit=120)
    assert found.entitled is not None and found.entitled.expected == date(2026, 3, 31)


def test_a_new_entitlement_has_no_forecast_yet(entitlement: Entitlement) -> None:
    found = selectors.usage_forecast(entitlement)
    assert not found.available
    assert found.note() == "No forecast yet: it needs 14 complete days of use, there are 0."


def test_the_lines_are_those_in_force_at_now(
    growth: Entitlement, customer_admin: User, account_manager: User
) -> None:
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        services.entitlement_update(entitlement=growth, seats=90, hard_limit=130)
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        services.entitlement_set_customer_cap(
            entitlement=growth, customer_cap=110, actor=services.Actor.of(customer_admin)
        )

    before = selectors.usage_forecast(growth, now=T0 - timedelta(days=3))
    now = selectors.usage_forecast(growth, now=T0)

    assert before.entitled is not None and before.limit is not None
    assert (before.entitled.line, before.limit.name, before.limit.line) == (100, "hard limit", 120)
    assert now.entitled is not None and now.limit is not None
    assert (now.entitled.line, now.limit.name, now.limit.line) == (90, "cap", 110)
    assert "the cap of 110 around 10 Apr" in now.note()


def _page(client: Client, entitlement: Entitlement, range_key: str) -> Any:
    url = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/?range={range_key}"
    with time_machine.travel(T0, tick=False):
        response = client.get(url)
    assert response.status_code == 200
    return response


def test_the_capacity_note_says_when_use_reaches_the_lines(
    growth: Entitlement, client: Client, customer_admin: User
) -> None:
    client.force_login(customer_admin)
    notes = set()
    for range_key in selectors.USAGE_RANGES:
        response = _page(client, growth, range_key)
        assert response.context["forecast"] == selectors.usage_forecast(growth, now=T0)
        notes.add(response.context["forecast"].note())
    (note,) = notes  # whatever range the chart shows
    assert note.startswith(
        "At this rate use reaches the entitled 100 seats around 31 Mar, in ~3 weeks (between "
    )
    assert "and reaches the hard limit of 120 around 20 Apr, in ~6 weeks (between " in note
    html = response.content.decode()
    assert f'id="forecast-note">{note}</p>' in html


@pytest.mark.parametrize(("range_key", "days"), [("30d", 30), ("90d", 43), ("1y", 43)])
def test_daily_charts_draw_the_forecast_up_to_past_the_last_crossing(
    growth: Entitlement, client: Client, customer_admin: User, range_key: str, days: int
) -> None:
    """The limit is expected on day 40: drawn to day 43, or as many days as the range shows."""
    client.force_login(customer_admin)
    chart = _page(client, growth, range_key).context["chart"]
    drawn = chart["forecast"]
    assert len(drawn["days"]) == days
    assert drawn["days"][0]["t"] == "2026-03-12T00:00:00+00:00"
    second = selectors.usage_forecast(growth, now=T0).days[1]
    assert drawn["days"][1] == {
        "t": "2026-03-13T00:00:00+00:00",
        "expected": 82.0,
        "low": round(second.low, 1),
        "high": round(second.high, 1),
    }
    assert second.low < 82 < second.high
    assert drawn["crossings"] == [
        {
            "name": "entitled seats",
            "seats": 100,
            "reached": False,
            "t": "2026-03-31T00:00:00+00:00",
            "label": "31 Mar",
        },
        {
            "name": "hard limit",
            "seats": 120,
            "reached": False,
            "t": "2026-04-20T00:00:00+00:00",
            "label": "20 Apr",
        },
    ]


def test_hourly_charts_and_no_forecast_draw_none(
    growth: Entitlement, entitlement: Entitlement, client: Client, customer_admin: User
) -> None:
    client.force_login(customer_admin)
    assert _page(client, growth, "7d").context["chart"]["forecast"] is None
    assert _page(client, entitlement, "30d").context["chart"]["forecast"] is None


def test_flat_use_draws_the_forecast_over_the_range(
    make_entitlement: Callable[..., Entitlement], client: Client, customer_admin: User
) -> None:
    with time_machine.travel(T0 - timedelta(days=60), tick=False):
        flat = make_entitlement()
    record(flat, {TODAY - timedelta(n): 50 for n in range(60)})
    client.force_login(customer_admin)
    response = _page(client, flat, "90d")
    assert len(response.context["chart"]["forecast"]["days"]) == 90  # the horizon
    assert response.context["forecast"].note() == (
        "At this rate use will not reach the entitled 100 seats within 90 days"
        " and will not reach the hard limit of 120 within 90 days."
    )


def test_leads_carry_the_forecast_from_the_rows_they_read(
    make_entitlement: Callable[..., Entitlement],
    client: Client,
    account_manager: User,
    django_assert_num_queries: Any,
) -> None:
    """In overdraft over 70 entitled seats: a lead, reaching the hard limit on day 40."""
    lead_entitlement, _ = growing(make_entitlement, seats=70)
    growing(make_entitlement, seats=200, hard_limit=200)  # within: not a lead

    # Ranking: candidates, terms, the range's rolled-up days (none here), the level before the
    # range and its hourly rows. Then the leads read: their entitlements, the forecast window's
    # rolled-up days, level before and hourly rows, and their last statements (none here).
    with django_assert_num_queries(10):
        (lead,) = selectors.expansion_leads(now=T0)

    assert lead.entitlement_id == lead_entitlement.pk
    assert lead.forecast == selectors.usage_forecast(lead_entitlement, now=T0)
    assert lead.forecast is not None
    assert lead.forecast.summary() == [
        "Entitled 70: reached",
        "Hard limit 120: in ~6 weeks (20 Apr)",
    ]
    client.force_login(account_manager)
    with time_machine.travel(T0, tick=False):
        html = client.get("/team/leads/").content.decode()
    assert (
        "<small>Entitled 70: reached</small><br><small>Hard limit 120: in ~6 weeks (20 Apr)</small>"
        in html
    )
