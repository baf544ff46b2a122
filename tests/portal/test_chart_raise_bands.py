"""The chart data's temporary raises (`selectors.usage_chart`, "raises"): a band over the time
each lifted the lines, for raises that ran, run or will run inside the chart's range."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from licensing import selectors, services
from licensing.models import Entitlement

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def raised(make_entitlement: Callable[..., Entitlement]) -> Entitlement:
    """Seventy days of an entitlement with raises of every kind, the clock at T0:

    - ended long ago (T0-60d .. T0-59d): before the 30-day range;
    - ended (T0-8d .. T0-6d, by the job);
    - ended early (T0-5d .. T0-4d 12:00, of a raise planned until T0-3d 12:00);
    - cancelled before it started (planned T0-4d+1h .. T0-4d+2h);
    - missed: its whole time passed while the job was not running (T0-3d+1h .. +2h);
    - running (since T0-3d+6h, until T0+2h);
    - scheduled (T0+3h .. T0+2d).
    """
    with time_machine.travel(T0 - 70 * DAY, tick=False) as clock:
        entitlement = make_entitlement(seats=100, hard_limit=120)

        def grant(**kwargs: Any) -> Any:
            return services.raise_grant(
                entitlement=entitlement, extra_seats=10, extra_hard_limit=10, **kwargs
            )

        clock.move_to(T0 - 60 * DAY)
        grant(ends_at=T0 - 59 * DAY)
        clock.move_to(T0 - 59 * DAY)
        services.raises_apply()

        clock.move_to(T0 - 8 * DAY)
        grant(ends_at=T0 - 6 * DAY, reason="month end")
        clock.move_to(T0 - 6 * DAY)
        services.raises_apply()

        clock.move_to(T0 - 5 * DAY)
        early = grant(ends_at=T0 - 3 * DAY + 12 * HOUR)
        clock.move_to(T0 - 4 * DAY + 12 * HOUR)
        services.raise_end(raise_=early)

        clock.move_to(T0 - 4 * DAY + 13 * HOUR)
        cancelled = grant(starts_at=T0 - 3 * DAY + HOUR, ends_at=T0 - 3 * DAY + 2 * HOUR)
        services.raise_end(raise_=cancelled)
        grant(starts_at=T0 - 3 * DAY + 3 * HOUR, ends_at=T0 - 3 * DAY + 4 * HOUR)
        clock.move_to(T0 - 3 * DAY + 5 * HOUR)
        services.raises_apply()  # the missed one ends, never having started

        clock.move_to(T0 - 3 * DAY + 6 * HOUR)
        grant(ends_at=T0 + 2 * HOUR, reason="quarter close")

        clock.move_to(T0)
        services.raise_grant(
            entitlement=entitlement,
            extra_seats=5,
            starts_at=T0 + 3 * HOUR,
            ends_at=T0 + 2 * DAY,
        )
    return entitlement


def _chart(entitlement: Entitlement, key: str) -> dict[str, Any]:
    usage_range = selectors.usage_range(key)
    start, end = usage_range.bounds(T0)
    usage = selectors.usage_history(
        entitlement, start=start, end=end, bucket=usage_range.bucket, now=T0
    )
    return selectors.usage_chart(usage)


def _band(start: datetime, until: datetime, status: str, summary: str) -> dict[str, str]:
    return {
        "from": start.isoformat(),
        "until": until.isoformat(),
        "status": status,
        "summary": summary,
    }


def test_the_chart_has_a_band_for_each_raise_that_lifts_the_lines_in_its_range(
    raised: Entitlement,
) -> None:
    both = "+10 seats and +10 hard limit"

    assert _chart(raised, "30d")["raises"] == [
        _band(T0 - 8 * DAY, T0 - 6 * DAY, "ended", both),
        # Ended early: the band ends when it did, not when it was planned to.
        _band(T0 - 5 * DAY, T0 - 4 * DAY + 12 * HOUR, "ended", both),
        # Running: until its planned end.
        _band(T0 - 3 * DAY + 6 * HOUR, T0 + 2 * HOUR, "running", both),
        # Scheduled later today: inside the range's last (partial) day.
        _band(T0 + 3 * HOUR, T0 + 2 * DAY, "scheduled", "+5 seats"),
    ]


def test_a_shorter_range_holds_only_the_raises_over_it(raised: Entitlement) -> None:
    # The last 24 hours (hourly, ending with the hour of T0): the running raise only; the
    # scheduled one starts after the range.
    assert [band["status"] for band in _chart(raised, "24h")["raises"]] == ["running"]


def test_the_bands_are_one_query(raised: Entitlement, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        bands = selectors.raise_bands(raised, start=T0 - 30 * DAY, end=T0 + DAY)
    assert len(bands) == 4


def test_an_entitlement_without_raises_has_no_bands(entitlement: Entitlement) -> None:
    usage = selectors.usage_history(entitlement, start=T0 - DAY, end=T0)

    assert selectors.usage_chart(usage)["raises"] == []
