"""The forecast: when, at the rate use is growing, the daily peak reaches the entitled seats
and the limit.

Pure (no database, no clock): licensing.selectors hands it the daily peaks of the last weeks
(licensing.history.walk: a day's peak is its busiest hour) and the lines in force now; the
capacity note, the leads, the chart and the usage API all quote what it returns.

The method, on the complete days of the last 8 weeks (`WINDOW_DAYS`; today, still partial, is
left out, and a day missing from the input is unknown, never zero):

1. **Trend**: the Theil-Sen line through the daily peaks: its slope is the median of the
   slopes between every pair of days, its intercept the median of what is left. Nearly a
   third of the days can stray (an outage, a launch week, two quiet days a week) before it
   moves much.
2. **Weekly seasonality** (multiplicative): a weekday's factor is the median ratio of its
   days' peaks to the line's level on them (one quiet holiday does not move it), the seven
   scaled to average 1. Divided by its factor, a quiet Sunday stands level with the Tuesday
   around it: the line is fitted again through the peaks so deseasonalised, and the factors
   measured against it again (`REFITS` rounds), so quiet weekends do not drag the trend
   down; multiplied back, the projection keeps the week's shape.
3. **Range**: the slope's 90% confidence interval by Sen's method (ranks of the sorted pairwise
   slopes either side of the median, from the variance of Kendall's S), pivoting on the middle
   of the window; and the residuals, how far single days strayed from the line.
4. **Crossings**: a day's peak is its level on the line plus one of the residuals (each as
   likely, the days independent), times its weekday's factor. A line is expected on the first
   day, from today to `HORIZON_DAYS` ahead, by which a peak has reached it with a 50% chance;
   the earliest day is where that chance is 10% on the fast line (the interval's top slope),
   the latest where it is 90% on the slow one (`*_CHANCE`); none: "not within 90 days". Asking
   when *some* day's peak reaches it, not the trend, puts the expected day where a busy day
   first gets there, as happens. A line that a daily peak of the last 7 days (today so far
   included) reached is `reached`, without dates. The chart's band runs from the slow line
   with a quiet day's residual to the fast line with a busy day's (`DAY_SPREAD`).

Limits: it extends the recent straight-line trend; it cannot see a step change coming (a new
team, a project ending), and reads one inside the window as growth or decline spread over it.
Busy days come in runs (a project's crunch), not independently, so the range is a little
narrower than it should be. Peaks never exceed the limit in force (the database refuses more
seats), so demand past it shows only as denials: use sitting at the limit is `reached`, and
no projected peak goes past the limit either. The lines are those in force now: a running
temporary raise's, although they come down when it ends. With fewer than `MIN_DAYS` complete
days there is no forecast, and `reason` says why. `manage.py backtest_forecast` measures how
it does.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

WINDOW_DAYS: Final = 56  # the last 8 weeks
MIN_DAYS: Final = 14  # two of each weekday
HORIZON_DAYS: Final = 90
RECENT_DAYS: Final = 7  # a line a peak of the last week reached is reached
Z_90: Final = 1.645  # two-sided 90% of the normal distribution
# The chance that a peak has reached a line by the expected day, the earliest and the latest.
EXPECTED_CHANCE: Final = 0.5
EARLIEST_CHANCE: Final = 0.1
LATEST_CHANCE: Final = 0.9
DAY_SPREAD: Final = (0.1, 0.9)  # the quantiles of a day's residual the chart's band spans
REFITS: Final = 2  # rounds of factors measured against the line, the line fitted again
# A projected peak is an estimate of whole seats: within a hundredth of a line, it reached it.
TOLERANCE: Final = 0.01
ENTITLED: Final = "entitled seats"  # the name of the entitled line


@dataclasses.dataclass(frozen=True, slots=True)
class Crossing:
    """When use is projected to reach one line (`line` seats, named `name`)."""

    name: str  # "entitled seats", "hard limit", "cap"
    line: int
    reached: bool = False  # a peak of the last week reached it: no dates
    expected: date | None = None  # None: not within the horizon
    earliest: date | None = None
    latest: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seats": self.line,
            "reached": self.reached,
            "expected": self.expected,
            "earliest": self.earliest,
            "latest": self.latest,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectedDay:
    """The projected peak of a day ahead and its range."""

    day: date
    expected: float
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class Forecast:
    """The projection from `today` (a UTC date) `horizon_days` ahead; when there is none,
    `reason` says why and the rest is empty."""

    today: date
    history_days: int  # the complete days of the window the fit used
    horizon_days: int = HORIZON_DAYS
    reason: str = ""
    entitled: Crossing | None = None
    limit: Crossing | None = None  # None: no limit (unlimited overdraft)
    days: tuple[ProjectedDay, ...] = ()  # tomorrow onwards
    weekly_growth: float = 0.0  # seats a week, at the busiest weekday

    @property
    def available(self) -> bool:
        return not self.reason

    @property
    def crossings(self) -> list[Crossing]:
        """The lines worth telling apart: the entitled seats unless the limit is the same
        line (no overdraft allowed), then the limit."""
        entitled, limit = self.entitled, self.limit
        if entitled is not None and limit is not None and limit.line == entitled.line:
            return [limit]
        return [c for c in (entitled, limit) if c is not None]

    def note(self) -> str:
        """The capacity note's sentence: "At this rate use reaches the entitled 100 seats
        around 14 Jan, in ~3 weeks (between 2 Jan and 3 Feb) and …"."""
        if not self.available:
            return f"No forecast yet: {self.reason}."
        reached = [_label(c) for c in self.crossings if c.reached]
        ahead = [self._ahead(c) for c in self.crossings if not c.reached]
        said, coming = " and ".join(reached), " and ".join(ahead)
        if reached and ahead:
            return f"Use already reaches {said}; at this rate it {coming}."
        if reached:
            return f"Use already reaches {said}."
        return f"At this rate use {coming}."

    def _ahead(self, crossing: Crossing) -> str:
        if crossing.expected is None:
            said = f"will not reach {_label(crossing)} within {self.horizon_days} days"
            if crossing.earliest is not None:
                said += f" (at the earliest around {self.on(crossing.earliest)})"
            return said
        if crossing.latest is None:
            spread = (
                f"from {self.on(crossing.earliest)}; perhaps not within {self.horizon_days} days"
            )
        else:
            spread = f"between {self.on(crossing.earliest)} and {self.on(crossing.latest)}"
        return (
            f"reaches {_label(crossing)} around {self.on(crossing.expected)},"
            f" {self.in_about(crossing.expected)} ({spread})"
        )

    def summary(self) -> list[str]:
        """One short line per line, for a table: "Hard limit 120: in ~3 weeks (14 Jan)"."""
        if not self.available:
            return ["no forecast (too little history)"]
        lines = []
        for c in self.crossings:
            name = f"{'Entitled' if c.name == ENTITLED else c.name.capitalize()} {c.line}"
            if c.reached:
                lines.append(f"{name}: reached")
            elif c.expected is None:
                lines.append(f"{name}: not within {self.horizon_days} days")
            else:
                lines.append(f"{name}: {self.in_about(c.expected)} ({self.on(c.expected)})")
        return lines

    def in_about(self, day: date | None) -> str:
        """How far `day` is from today, in words (`in_about`)."""
        return in_about((day - self.today).days) if day is not None else ""

    def on(self, day: date | None) -> str:
        """`day` as "14 Jan", with its year when that is not today's."""
        if day is None:
            return ""
        said = f"{day.day} {day.strftime('%b')}"
        return said if day.year == self.today.year else f"{said} {day.year}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "as_of": self.today,
            "history_days": self.history_days,
            "horizon_days": self.horizon_days,
            "weekly_growth": round(self.weekly_growth, 2),
            "entitled": self.entitled.as_dict() if self.entitled else None,
            "limit": self.limit.as_dict() if self.limit else None,
            "days": [
                {
                    "day": d.day,
                    "expected": round(d.expected, 1),
                    "low": round(d.low, 1),
                    "high": round(d.high, 1),
                }
                for d in self.days
            ],
        }


def in_about(days: int) -> str:
    """A number of days ahead in words: "today", "tomorrow", "in 9 days", "in ~3 weeks",
    "in ~2 months". The one place durations are humanised."""
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days < 14:
        return f"in {days} days"
    if days < 60:
        return f"in ~{int(days / 7 + 0.5)} weeks"
    return f"in ~{int(days / 30 + 0.5)} months"


def _label(crossing: Crossing) -> str:
    if crossing.name == ENTITLED:
        return f"the entitled {crossing.line} seats"
    return f"the {crossing.name} of {crossing.line}"


def weekday_factors(
    peaks: Mapping[date, float], level: Callable[[date], float]
) -> tuple[float, ...]:
    """Monday..Sunday: each weekday's median ratio of a day's peak to the `level` of that day
    (skipping days whose level is not positive), scaled to average 1; 1 for a weekday without
    any ratio, and for all seven when every median is 0 (no shape to tell)."""
    ratios: list[list[float]] = [[] for _ in range(7)]
    for day, peak in peaks.items():
        base = level(day)
        if base > 0:
            ratios[day.weekday()].append(peak / base)
    raw = [statistics.median(r) if r else 1.0 for r in ratios]
    scale = sum(raw) / 7
    return tuple(f / scale for f in raw) if scale > 0 else (1.0,) * 7


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile of `values` (not empty), interpolated between the nearest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclasses.dataclass(frozen=True)
class Trend:
    """A Theil-Sen line through (day, deseasonalised peak), days counted from today, with the
    range of its slope and what the days strayed from it."""

    slope: float
    intercept: float
    slope_low: float
    slope_high: float
    centre: float  # the mean day of the fit: the slopes of the range pivot there
    residuals: tuple[float, ...]

    def expected(self, t: float) -> float:
        return self.intercept + self.slope * t

    def at(self, t: int, slope: float) -> float:
        """The level on day `t` of the line through the centre with `slope`."""
        return self.expected(self.centre) + slope * (t - self.centre)


def theil_sen(xs: Sequence[int], ys: Sequence[float]) -> Trend:
    """The Theil-Sen line through at least two points with distinct `xs`, its slope's 90%
    interval (Sen 1968: the pairwise slopes ranked `Z_90` standard deviations of Kendall's S
    either side of the median) and the residuals."""
    n = len(xs)
    slopes = sorted((ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(n) for j in range(i + 1, n))
    slope = statistics.median(slopes)
    intercept = statistics.median(ys[k] - slope * xs[k] for k in range(n))
    pairs = len(slopes)
    c = Z_90 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    return Trend(
        slope=slope,
        intercept=intercept,
        slope_low=slopes[max(math.floor((pairs - c) / 2), 0)],
        slope_high=slopes[min(math.ceil((pairs + c) / 2), pairs - 1)],
        centre=sum(xs) / n,
        residuals=tuple(ys[k] - (intercept + slope * xs[k]) for k in range(n)),
    )


def first_touch(
    peak: Callable[[int, float], float],
    residuals: Sequence[float],
    line: int,
    *,
    chance: float,
    horizon: int,
) -> int | None:
    """The first of days 0..horizon by which a day's peak has reached `line` with at least
    `chance`; None if none. Day t's peak is `peak(t, r)` for one of the `residuals` r, each as
    likely, independently of the other days; it never falls as r rises, so the residuals that
    reach the line on a day are those from the first that does (found by bisection)."""
    ordered = sorted(residuals)
    missed = 1.0  # the chance that no day so far reached the line
    for t in range(horizon + 1):

        def reaches(residual: float, t: int = t) -> bool:
            return peak(t, residual) >= line - TOLERANCE

        first = bisect.bisect_left(ordered, True, key=reaches)
        missed *= 1 - (len(ordered) - first) / len(ordered)
        if 1 - missed >= chance:
            return t
    return None


def _along(trend: Trend, today: date) -> Callable[[date], float]:
    """The level of a day on `trend`."""
    return lambda day: trend.expected((day - today).days)


def _fit(window: Mapping[date, int], factors: Sequence[float], today: date) -> Trend:
    """The trend of the deseasonalised peaks. A weekday whose factor is 0 (never any use)
    says nothing about the level and is left out."""
    usable = sorted(day for day in window if factors[day.weekday()] > 0)
    return theil_sen(
        [(day - today).days for day in usable],
        [window[day] / factors[day.weekday()] for day in usable],
    )


def forecast(
    peaks: Mapping[date, int],
    *,
    today: date,
    entitled: int,
    limit: int | None,
    limit_name: str = "hard limit",
    horizon: int = HORIZON_DAYS,
) -> Forecast:
    """The forecast (module docstring) of daily `peaks` (a date's peak; today's so far, if
    given, only counts for `reached`) against the lines in force now."""
    window = {
        day: peak for day, peak in peaks.items() if today - timedelta(WINDOW_DAYS) <= day < today
    }
    if len(window) < MIN_DAYS:
        return Forecast(
            today=today,
            history_days=len(window),
            horizon_days=horizon,
            reason=f"it needs {MIN_DAYS} complete days of use, there are {len(window)}",
        )
    factors: tuple[float, ...] = (1.0,) * 7  # none yet (module docstring, steps 1 and 2)
    trend = _fit(window, factors, today)
    for _ in range(REFITS):
        factors = weekday_factors(window, _along(trend, today))
        trend = _fit(window, factors, today)

    def factor(t: int) -> float:
        return factors[(today + timedelta(t)).weekday()]

    ceiling = math.inf if limit is None else float(limit)  # no more seats can be in use

    def peak(slope: float) -> Callable[[int, float], float]:
        return lambda t, residual: min(
            max((trend.at(t, slope) + residual) * factor(t), 0.0), ceiling
        )

    low_residual, high_residual = (quantile(trend.residuals, q) for q in DAY_SPREAD)

    recent = max(
        (value for day, value in peaks.items() if today - timedelta(RECENT_DAYS) < day <= today),
        default=0,
    )

    def crossing(name: str, line: int) -> Crossing:
        if recent >= line:
            return Crossing(name, line, reached=True)

        def on(slope: float, chance: float) -> date | None:
            t = first_touch(peak(slope), trend.residuals, line, chance=chance, horizon=horizon)
            return None if t is None else today + timedelta(t)

        return Crossing(
            name,
            line,
            expected=on(trend.slope, EXPECTED_CHANCE),
            earliest=on(trend.slope_high, EARLIEST_CHANCE),
            latest=on(trend.slope_low, LATEST_CHANCE),
        )

    return Forecast(
        today=today,
        history_days=len(window),
        horizon_days=horizon,
        entitled=crossing(ENTITLED, entitled),
        limit=None if limit is None else crossing(limit_name, limit),
        days=tuple(
            ProjectedDay(
                today + timedelta(t),
                expected=peak(trend.slope)(t, 0.0),
                low=peak(trend.slope_low)(t, low_residual),
                high=peak(trend.slope_high)(t, high_residual),
            )
            for t in range(1, horizon + 1)
        ),
        weekly_growth=7 * trend.slope * max(factors),
    )
