"""licensing.forecast on its own (no database): the weekly factors, the Theil-Sen line and its
range, the first touch of a line, the forecast of made-up histories (steady growth, flat,
quiet weekends, already over a line, too little history) and its sentences. Expected figures
worked out by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from licensing import forecast as fc
from licensing.forecast import Crossing, Forecast, ProjectedDay

TODAY = date(2026, 3, 11)  # a Wednesday
WEEKEND = (5, 6)


def history(value: Callable[[int], float], *, days: int = 56) -> dict[date, int]:
    """Daily peaks of the `days` complete days before TODAY; `value(t)` of day t (negative:
    days before today), rounded."""
    return {TODAY + timedelta(t): round(value(t)) for t in range(-days, 0)}


def weekly(t: int) -> float:
    """Weekday peaks of 80 seats today growing by one a day; weekends at 20% of that."""
    level = 80 + t
    return 0.2 * level if (TODAY + timedelta(t)).weekday() in WEEKEND else level


# --- the pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (-3, "today"),
        (0, "today"),
        (1, "tomorrow"),
        (2, "in 2 days"),
        (13, "in 13 days"),
        (14, "in ~2 weeks"),
        (17, "in ~2 weeks"),  # 2.43 weeks
        (18, "in ~3 weeks"),  # 2.57 weeks
        (59, "in ~8 weeks"),
        (60, "in ~2 months"),
        (74, "in ~2 months"),  # 2.47 months
        (75, "in ~3 months"),  # 2.5 months rounds up
    ],
)
def test_durations_are_humanised_in_one_place(days: int, said: str) -> None:
    assert fc.in_about(days) == said


def test_quantile_interpolates_between_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert fc.quantile(values, 0.0) == 1.0
    assert fc.quantile(values, 1.0) == 5.0
    assert fc.quantile(values, 0.5) == 3.0
    assert fc.quantile(values, 0.1) == pytest.approx(1.4)
    assert fc.quantile(values, 0.9) == pytest.approx(4.6)
    assert fc.quantile([7.0], 0.9) == 7.0


def test_weekday_factors_are_median_ratios_averaging_one() -> None:
    # Weekdays 10, weekends 5, against a level of 10: raw ratios 1 and 0.5 (sum 6), scaled by
    # 7/6 to average 1. One Monday at 40 is outvoted by the other Mondays' median.
    peaks = {
        TODAY + timedelta(t): 5.0 if (TODAY + timedelta(t)).weekday() in WEEKEND else 10.0
        for t in range(-21, 0)
    }
    peaks[date(2026, 3, 2)] = 40.0  # a Monday
    factors = fc.weekday_factors(peaks, lambda day: 10.0)
    assert factors == pytest.approx((7 / 6,) * 5 + (7 / 12,) * 2)
    assert sum(factors) == pytest.approx(7)


def test_weekday_factors_skip_days_without_a_positive_level() -> None:
    # Only Mondays have a positive level (one below a seat: still a level): the other
    # weekdays count 1 before scaling. A zero level gives no ratio (no division by zero).
    peaks = {date(2026, 3, 2): 1.0, date(2026, 3, 3): 30.0, date(2026, 3, 4): 30.0}
    levels = {date(2026, 3, 2): 0.5, date(2026, 3, 3): 0.0, date(2026, 3, 4): -1.0}
    factors = fc.weekday_factors(peaks, levels.__getitem__)
    assert factors == pytest.approx((2 / (8 / 7),) + (1 / (8 / 7),) * 6)


def test_weekday_factors_without_any_shape_are_all_one() -> None:
    peaks = {TODAY + timedelta(t): 0.0 for t in range(-14, 0)}
    assert fc.weekday_factors(peaks, lambda day: 1.0) == (1.0,) * 7


def test_theil_sen_worked_by_hand() -> None:
    """Points (x, x²), x = 0..4: the pairwise slopes are i + j, sorted 1 2 3 3 4 4 5 5 6 7:
    the slope is their median 4; the intercept the median of y - 4x (0 -3 -4 -3 0), -3. With
    n = 5, Sen's C = 1.645 * sqrt(5*4*15/18) = 6.72: ranks floor(1.64) = 1 and ceil(8.36) = 9."""
    trend = fc.theil_sen([0, 1, 2, 3, 4], [0.0, 1.0, 4.0, 9.0, 16.0])
    assert (trend.slope, trend.intercept) == (4.0, -3.0)
    assert (trend.slope_low, trend.slope_high) == (2.0, 7.0)
    assert trend.centre == 2.0
    assert trend.residuals == (3.0, 0.0, -1.0, 0.0, 3.0)
    assert trend.expected(5) == 17.0
    assert trend.at(5, 7.0) == pytest.approx(5.0 + 7.0 * 3)  # through (2, 5) at slope 7


def test_theil_sen_interval_ranks_for_ten_points() -> None:
    """x = 0..9, y = x²: slopes i + j, 45 of them; the median (rank 22) is 9. C = 1.645 *
    sqrt(10*9*25/18) = 18.39: ranks floor(13.3) = 13 and ceil(31.7) = 32, slopes 7 and 11
    (the sums up to 6 fill ranks 0-11, 7 fills 12-15; 11 fills 29-32)."""
    xs = list(range(10))
    trend = fc.theil_sen(xs, [float(x * x) for x in xs])
    assert (trend.slope_low, trend.slope, trend.slope_high) == (7.0, 9.0, 11.0)


def test_theil_sen_interval_of_three_points_is_the_extremes() -> None:
    """x = 0..2, y = x²: slopes 1 2 3; C = 1.645 * sqrt(3*2*11/18) = 3.15: ranks floor(-0.07)
    and ceil(3.07), held inside the list: the first and the last."""
    trend = fc.theil_sen([0, 1, 2], [0.0, 1.0, 4.0])
    assert (trend.slope_low, trend.slope, trend.slope_high) == (1.0, 2.0, 3.0)


def test_theil_sen_interval_ranks_for_26_points() -> None:
    """325 pairwise slopes; C = 1.645 * sqrt(26*25*57/18) = 74.63: ranks floor(125.18) = 125
    and ceil(199.82) = 200 of the sorted slopes (0-based)."""
    rng = random.Random(26)
    xs = list(range(26))
    ys = [rng.uniform(0, 100) for _ in xs]
    slopes = sorted((ys[j] - ys[i]) / (j - i) for i in xs for j in xs if i < j)
    trend = fc.theil_sen(xs, ys)
    assert trend.slope == slopes[162]
    assert (trend.slope_low, trend.slope_high) == (slopes[125], slopes[200])
    assert len({slopes[124], slopes[125], slopes[126], slopes[199], slopes[200], slopes[201]}) == 6


def test_theil_sen_ignores_an_outlier() -> None:
    xs = list(range(10))
    ys = [10.0 + 2 * x for x in xs]
    ys[4] = 500.0
    trend = fc.theil_sen(xs, ys)
    assert trend.slope == 2.0
    assert trend.intercept == 10.0


def test_first_touch_takes_each_day_as_a_draw() -> None:
    # A level of t, residuals 0 or 10, equally likely. Line 5: day 0 reaches it half the
    # time; by day 3 only 1/16 of the ways missed it every day.
    def peak(t: int, residual: float) -> float:
        return t + residual

    assert fc.first_touch(peak, [0.0, 10.0], 5, chance=0.5, horizon=90) == 0
    assert fc.first_touch(peak, [0.0, 10.0], 5, chance=0.9, horizon=90) == 3
    assert fc.first_touch(peak, [0.0, 10.0], 5, chance=0.95, horizon=90) == 4
    # Without spread: the first day the level reaches the line, if within the horizon.
    assert fc.first_touch(peak, [0.0], 5, chance=0.1, horizon=90) == 5
    assert fc.first_touch(peak, [0.0], 5, chance=0.1, horizon=5) == 5
    assert fc.first_touch(peak, [0.0], 5, chance=0.1, horizon=4) is None
    # A peak a rounding error short of the line reaches it.
    assert fc.first_touch(lambda t, r: 4.995, [0.0], 5, chance=0.5, horizon=0) == 0
    assert fc.first_touch(lambda t, r: 5 - fc.TOLERANCE, [0.0], 5, chance=0.5, horizon=0) == 0
    assert fc.first_touch(lambda t, r: 4.985, [0.0], 5, chance=0.5, horizon=0) is None


# --- forecasts of made-up histories ------------------------------------------------------------


def test_steady_growth_the_true_crossing_is_inside_the_range() -> None:
    rng = random.Random(19)
    level = {t: 90 + 0.5 * t + rng.gauss(0, 2) for t in range(-56, 120)}
    past = history(lambda t: level[t])

    result = fc.forecast(past, today=TODAY, entitled=100, limit=120)

    actual = {
        line: next(TODAY + timedelta(t) for t in range(120) if round(level[t]) >= line)
        for line in (100, 120)
    }
    for crossing in (result.entitled, result.limit):
        assert crossing is not None and not crossing.reached
        assert crossing.earliest and crossing.expected and crossing.latest
        assert crossing.earliest <= actual[crossing.line] <= crossing.latest, crossing
        assert crossing.earliest <= crossing.expected <= crossing.latest
        assert abs((crossing.expected - actual[crossing.line]).days) <= 7, crossing
    assert result.weekly_growth == pytest.approx(3.5, abs=0.5)


def test_growth_without_noise_is_forecast_to_the_day() -> None:
    result = fc.forecast(history(lambda t: 80 + t), today=TODAY, entitled=100, limit=120)
    assert result.entitled == Crossing(
        "entitled seats",
        100,
        expected=TODAY + timedelta(20),
        earliest=TODAY + timedelta(20),
        latest=TODAY + timedelta(20),
    )
    assert result.limit is not None and result.limit.expected == TODAY + timedelta(40)
    assert result.weekly_growth == pytest.approx(7)


def test_flat_use_reaches_no_line() -> None:
    rng = random.Random(3)
    result = fc.forecast(
        history(lambda t: 50 + rng.choice([-2, -1, 0, 1, 2])), today=TODAY, entitled=100, limit=120
    )
    assert result.available
    assert result.entitled == Crossing("entitled seats", 100)
    assert result.limit == Crossing("hard limit", 120)
    assert all(45 <= day.expected <= 55 for day in result.days)
    assert result.note() == (
        "At this rate use will not reach the entitled 100 seats within 90 days"
        " and will not reach the hard limit of 120 within 90 days."
    )


def test_quiet_weekends_do_not_drag_the_trend() -> None:
    """Weekday peaks grow by one a day from 80 today, weekends sit at 20% of them: the
    weekday crossing of 100 is day 20 (a Tuesday), of 120 day 40 (a Monday), exactly; a
    straight line through all the days would be dragged down by the weekends."""
    past = history(weekly)

    result = fc.forecast(past, today=TODAY, entitled=100, limit=120)

    assert result.entitled is not None and result.limit is not None
    assert result.entitled.expected == TODAY + timedelta(20) == date(2026, 3, 31)
    assert result.limit.expected == TODAY + timedelta(40) == date(2026, 4, 20)
    # Rounding the weekends to whole seats is all the noise there is.
    assert result.entitled.earliest == date(2026, 3, 30)
    assert result.entitled.latest == date(2026, 4, 1)
    for day in result.days[:28]:
        t = (day.day - TODAY).days
        assert day.expected == pytest.approx(weekly(t), abs=0.5), day
    assert result.weekly_growth == pytest.approx(7, abs=0.1)


def test_a_quiet_holiday_week_does_not_move_the_forecast() -> None:
    def with_holiday(t: int) -> float:
        return weekly(t) * (0.3 if -24 <= t < -17 else 1)

    result = fc.forecast(history(with_holiday), today=TODAY, entitled=100, limit=120)
    assert result.entitled is not None and result.entitled.expected is not None
    assert abs((result.entitled.expected - date(2026, 3, 31)).days) <= 2


def test_a_line_a_peak_reached_in_the_last_week_is_reached() -> None:
    peaks = history(lambda t: 80)
    peaks[TODAY - timedelta(6)] = 100  # six days ago: inside the last 7 days
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert result.entitled == Crossing("entitled seats", 100, reached=True)
    assert result.limit is not None and not result.limit.reached

    peaks[TODAY - timedelta(6)] = 80
    peaks[TODAY - timedelta(7)] = 100  # a week ago: not any more
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert result.entitled is not None and not result.entitled.reached
    # One day in 56 at the line: as likely as not again within 39 days (1 - (55/56)^39 > 0.5).
    assert result.entitled.expected == TODAY + timedelta(38)

    peaks[TODAY] = 120  # today so far counts too
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert result.entitled is not None and result.entitled.reached
    assert result.limit == Crossing("hard limit", 120, reached=True)
    assert result.note() == "Use already reaches the entitled 100 seats and the hard limit of 120."


def test_use_above_the_line_is_reached_and_the_next_line_is_forecast() -> None:
    result = fc.forecast(history(lambda t: 110 + 0.5 * t), today=TODAY, entitled=100, limit=120)
    assert result.entitled == Crossing("entitled seats", 100, reached=True)
    assert result.limit is not None and result.limit.expected == TODAY + timedelta(20)
    assert result.note().startswith(
        "Use already reaches the entitled 100 seats; at this rate it reaches the hard limit of"
        " 120 around 31 Mar, in ~3 weeks (between "
    )


def test_too_little_history_is_no_forecast() -> None:
    peaks = history(lambda t: 80 + t, days=13)
    peaks[TODAY] = 80  # today, partial, is not a complete day
    peaks[TODAY - timedelta(80)] = 10  # outside the 8 weeks
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert not result.available
    assert result == Forecast(
        today=TODAY,
        history_days=13,
        reason="it needs 14 complete days of use, there are 13",
    )
    assert result.note() == "No forecast yet: it needs 14 complete days of use, there are 13."
    assert result.summary() == ["no forecast (too little history)"]
    assert result.crossings == []

    peaks[TODAY - timedelta(14)] = 66
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert result.available and result.history_days == 14

    shorter = fc.forecast({}, today=TODAY, entitled=100, limit=120, horizon=30)
    assert (shorter.history_days, shorter.horizon_days) == (0, 30)
    assert shorter.note() == "No forecast yet: it needs 14 complete days of use, there are 0."


def test_a_history_that_stopped_a_while_ago_reached_nothing_lately() -> None:
    """No peak in the last week: nothing is `reached`, not even a line of 1 (an idle
    entitlement's 0 seats never reach it either)."""
    peaks = {TODAY + timedelta(t): 0 for t in range(-40, -10)}
    result = fc.forecast(peaks, today=TODAY, entitled=1, limit=None)
    assert result.entitled == Crossing("entitled seats", 1)


def test_only_the_last_eight_weeks_count() -> None:
    """A year of decline before the window does not slow the growth inside it."""
    peaks = history(lambda t: 80 + t)
    peaks.update({TODAY + timedelta(t): 300 for t in range(-400, -56)})
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert result.history_days == 56
    assert result.entitled is not None and result.entitled.expected == TODAY + timedelta(20)


def test_missing_days_are_unknown_not_zero() -> None:
    peaks = history(weekly)
    for t in (-40, -33, -20, -19, -5):
        del peaks[TODAY + timedelta(t)]
    result = fc.forecast(peaks, today=TODAY, entitled=100, limit=120)
    assert result.history_days == 51
    assert result.entitled is not None and result.entitled.expected == date(2026, 3, 31)
    # Zeros in their place would say the use dropped on those days.
    zeros = fc.forecast(
        {**peaks, **{TODAY + timedelta(t): 0 for t in (-40, -33, -20, -19, -5)}},
        today=TODAY,
        entitled=100,
        limit=120,
    )
    assert zeros.entitled is not None and zeros.entitled.expected != date(2026, 3, 31)


def test_a_weekday_never_used_says_nothing_about_the_level() -> None:
    """Sundays always 0: a factor of 0, left out of the trend, projected at 0."""
    result = fc.forecast(
        history(lambda t: 0 if (TODAY + timedelta(t)).weekday() == 6 else 80 + t),
        today=TODAY,
        entitled=100,
        limit=None,
    )
    assert result.entitled is not None and result.entitled.expected == date(2026, 3, 31)
    sundays = [day for day in result.days if day.day.weekday() == 6]
    assert sundays and all(day.expected == day.low == day.high == 0 for day in sundays)


def test_declining_use_is_never_projected_below_zero() -> None:
    result = fc.forecast(history(lambda t: -t), today=TODAY, entitled=10, limit=20)
    assert all(day.low >= 0 and day.expected >= 0 for day in result.days)
    assert result.days[-1].expected == 0.0
    assert result.entitled == Crossing("entitled seats", 10)  # the last week peaked at 6
    assert result.weekly_growth == pytest.approx(-7)


def test_no_projected_peak_goes_past_the_limit() -> None:
    result = fc.forecast(history(lambda t: 80 + t), today=TODAY, entitled=85, limit=90)
    assert result.limit is not None and result.limit.expected == TODAY + timedelta(10)
    assert max(day.high for day in result.days) == 90
    assert [day.expected for day in result.days[8:11]] == [89.0, 90.0, 90.0]
    unlimited = fc.forecast(history(lambda t: 80 + t), today=TODAY, entitled=85, limit=None)
    assert unlimited.days[-1].expected == pytest.approx(170)


def test_the_projection_runs_from_tomorrow_to_the_horizon_inside_its_range() -> None:
    rng = random.Random(5)
    result = fc.forecast(
        history(lambda t: 90 + 0.5 * t + rng.gauss(0, 3)), today=TODAY, entitled=100, limit=None
    )
    assert [day.day for day in result.days] == [TODAY + timedelta(t) for t in range(1, 91)]
    assert all(day.low <= day.expected <= day.high for day in result.days)
    # The range widens with the distance from the window's middle.
    first, last = result.days[0], result.days[-1]
    assert last.high - last.low > first.high - first.low
    shorter = fc.forecast(
        history(lambda t: 80 + t), today=TODAY, entitled=100, limit=120, horizon=10
    )
    assert len(shorter.days) == 10 and shorter.horizon_days == 10
    assert shorter.entitled == Crossing("entitled seats", 100)  # day 20: past the horizon


def test_the_lines_without_a_limit_and_with_no_overdraft() -> None:
    grows = history(lambda t: 80 + t)
    unlimited = fc.forecast(grows, today=TODAY, entitled=100, limit=None)
    assert unlimited.limit is None
    assert unlimited.crossings == [unlimited.entitled]
    # No overdraft allowed: one line, told once, named as the limit that denies.
    capped = fc.forecast(grows, today=TODAY, entitled=100, limit=100, limit_name="cap")
    assert capped.crossings == [
        Crossing(
            "cap",
            100,
            expected=date(2026, 3, 31),
            earliest=date(2026, 3, 31),
            latest=date(2026, 3, 31),
        )
    ]
    assert capped.note() == (
        "At this rate use reaches the cap of 100 around 31 Mar, in ~3 weeks"
        " (between 31 Mar and 31 Mar)."
    )


# --- what it says ------------------------------------------------------------------------------


def _told(*crossings: Crossing) -> Forecast:
    return Forecast(
        today=TODAY,
        history_days=56,
        entitled=crossings[0],
        limit=crossings[1] if len(crossings) > 1 else None,
    )


def test_the_note_tells_each_line_with_its_range() -> None:
    told = _told(
        Crossing(
            "entitled seats",
            100,
            expected=date(2026, 3, 25),
            earliest=date(2026, 3, 20),
            latest=date(2026, 4, 2),
        ),
        Crossing("cap", 110, expected=date(2027, 1, 4), earliest=date(2026, 12, 1), latest=None),
    )
    assert told.note() == (
        "At this rate use reaches the entitled 100 seats around 25 Mar, in ~2 weeks"
        " (between 20 Mar and 2 Apr) and reaches the cap of 110 around 4 Jan 2027,"
        " in ~10 months (from 1 Dec; perhaps not within 90 days)."
    )
    assert told.summary() == [
        "Entitled 100: in ~2 weeks (25 Mar)",
        "Cap 110: in ~10 months (4 Jan 2027)",
    ]


def test_the_note_tells_an_early_chance_of_a_line_not_expected() -> None:
    told = _told(
        Crossing("entitled seats", 100, reached=True),
        Crossing("hard limit", 120, earliest=date(2026, 5, 1)),
    )
    assert told.note() == (
        "Use already reaches the entitled 100 seats; at this rate it will not reach the hard"
        " limit of 120 within 90 days (at the earliest around 1 May)."
    )
    assert told.summary() == ["Entitled 100: reached", "Hard limit 120: not within 90 days"]
    assert told.in_about(None) == told.on(None) == ""
    assert told.in_about(TODAY + timedelta(1)) == "tomorrow"


def test_as_dict_is_what_the_api_returns() -> None:
    result = fc.forecast(
        history(lambda t: 80 + t), today=TODAY, entitled=100, limit=None, horizon=2
    )
    assert result.as_dict() == {
        "available": True,
        "reason": "",
        "as_of": TODAY,
        "history_days": 56,
        "horizon_days": 2,
        "weekly_growth": 7.0,
        "entitled": {
            "name": "entitled seats",
            "seats": 100,
            "reached": False,
            "expected": None,
            "earliest": None,
            "latest": None,
        },
        "limit": None,
        "days": [
            {"day": TODAY + timedelta(1), "expected": 81.0, "low": 81.0, "high": 81.0},
            {"day": TODAY + timedelta(2), "expected": 82.0, "low": 82.0, "high": 82.0},
        ],
    }
    assert ProjectedDay(TODAY, 1.0, 0.5, 2.0).high == 2.0


def test_as_dict_rounds_the_figures() -> None:
    told = Forecast(
        today=TODAY,
        history_days=20,
        days=(ProjectedDay(TODAY + timedelta(1), 81.26, 80.36, 82.55),),
        weekly_growth=3.14159,
        limit=Crossing("cap", 110, reached=True),
    )
    found = told.as_dict()
    assert found["weekly_growth"] == 3.14
    assert found["days"] == [
        {"day": TODAY + timedelta(1), "expected": 81.3, "low": 80.4, "high": 82.5}
    ]
    assert found["entitled"] is None
    assert found["limit"] == {
        "name": "cap",
        "seats": 110,
        "reached": True,
        "expected": None,
        "earliest": None,
        "latest": None,
    }
