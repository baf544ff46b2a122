"""`manage.py backtest_forecast`: how well the forecast (licensing.forecast) would have done.

For each demo customer and two synthetic histories (steady growth with quiet weekends, and a
flat one as a control), hold out the last 30 days (`--holdout`), forecast from what came
before, and compare each line's predicted day with the first day a peak actually reached it
in the held-out days.

The demo is loaded into the current database inside one transaction that is rolled back at
the end (demo customers already there are rebuilt in it, and come back untouched), so the
command runs from a fresh clone once migrated, changes nothing, and goes through the same
selector as the pages (`selectors.usage_forecast` as of the cut-off). The synthetic histories
are daily peaks made up in memory with a fixed seed.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from licensing import demo, forecast, selectors
from licensing.forecast import Crossing, Forecast
from licensing.models import Entitlement


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of one history: the forecast's crossing against what happened."""

    history: str
    crossing: Crossing
    cutoff: date  # the forecast's today
    end: date  # the last held-out day
    actual: date | None  # the first held-out day a peak reached the line; None: none did

    @property
    def error(self) -> int | None:
        """Predicted minus actual day (positive: predicted too late)."""
        if self.crossing.expected is None or self.actual is None:
            return None
        return (self.crossing.expected - self.actual).days

    @property
    def inside(self) -> bool:
        """Whether what happened is inside the forecast's range: the actual day between the
        earliest and the latest (None: past the horizon), or no crossing in the held-out days
        while the range runs past them."""
        c = self.crossing
        if c.reached:
            return True
        if self.actual is None:
            return c.latest is None or c.latest > self.end
        return (
            c.earliest is not None
            and c.earliest <= self.actual
            and (c.latest is None or self.actual <= c.latest)
        )


def first_reached(peaks: Mapping[date, int], line: int, *, start: date, end: date) -> date | None:
    """The first day from `start` to `end` whose peak reached `line`."""
    days = (start + timedelta(n) for n in range((end - start).days + 1))
    return next((day for day in days if peaks.get(day, 0) >= line), None)


def score(name: str, projection: Forecast, actual: Mapping[date, int], *, end: date) -> list[Row]:
    return [
        Row(
            name,
            crossing,
            projection.today,
            end,
            first_reached(actual, crossing.line, start=projection.today, end=end),
        )
        for crossing in projection.crossings
    ]


def synthetic(
    *, days: int, start: float, growth: float, weekend: float, noise: float, seed: int
) -> dict[int, int]:
    """Daily peaks by day number (0 = the first): a weekday's peak grows by `growth` seats a
    day from `start`, with Gaussian `noise`; Saturday and Sunday peak at `weekend` of it.
    Day 0 is a Monday."""
    rng = random.Random(seed)
    peaks = {}
    for t in range(days):
        level = start + growth * t + rng.gauss(0, noise)
        peaks[t] = max(round(level * (weekend if t % 7 >= 5 else 1)), 0)
    return peaks


class Command(BaseCommand):
    help = (
        "Backtest the forecast: hold out the last days of the demo's and of synthetic"
        " histories, forecast from the rest, and print the error of the predicted days."
        " Changes nothing (the demo is loaded in a transaction that is rolled back)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--holdout", type=int, default=30, help="Days held out at the end (default 30)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        holdout = timedelta(days=options["holdout"])
        now = timezone.now()
        self.stdout.write(
            f"Forecasts made {options['holdout']} days before the end of each history (the demo"
            f" ends now, {now:%Y-%m-%d %H:%M} UTC), against what happened after.\n"
        )
        rows = self._demo(now, holdout) + self._synthetic(holdout)
        self._print(rows, options["holdout"])

    def _demo(self, now: datetime, holdout: timedelta) -> list[Row]:
        rows: list[Row] = []
        with transaction.atomic():
            demo.load(now=now, reset=True)
            cutoff = now - holdout
            for entitlement in (
                Entitlement.objects.filter(
                    customer__slug__in=[spec.slug for spec in demo.CUSTOMERS]
                )
                .select_related("customer")
                .order_by("customer__name")
            ):
                projection = selectors.usage_forecast(entitlement, now=cutoff)
                usage = selectors.usage_history(
                    entitlement, start=cutoff, end=now, bucket="day", now=now
                )
                actual = {point.start.date(): point.peak for point in usage.points}
                rows += self._score(
                    f"demo: {entitlement.customer.name}", projection, actual, end=now.date()
                )
            transaction.set_rollback(True)
        return rows

    def _synthetic(self, holdout: timedelta) -> list[Row]:
        days = 120
        first = date(2026, 1, 5)  # a Monday
        cutoff = first + timedelta(days=days) - holdout
        rows: list[Row] = []
        for name, growth in [("synthetic: steady growth", 0.55), ("synthetic: flat", 0.0)]:
            made = synthetic(days=days, start=45, growth=growth, weekend=0.25, noise=2.5, seed=19)
            peaks = {first + timedelta(t): peak for t, peak in made.items()}
            projection = forecast.forecast(
                {day: peak for day, peak in peaks.items() if day < cutoff},
                today=cutoff,
                entitled=100,
                limit=110,
            )
            end = first + timedelta(days=days - 1)
            rows += self._score(name, projection, peaks, end=end)
        return rows

    def _score(
        self, name: str, projection: Forecast, actual: Mapping[date, int], *, end: date
    ) -> list[Row]:
        if not projection.available:
            self.stdout.write(f"{name}: no forecast ({projection.reason})")
            return []
        return score(name, projection, actual, end=end)

    def _print(self, rows: list[Row], holdout: int) -> None:
        def day(value: date | None, *, none: str) -> str:
            return value.isoformat() if value is not None else none

        table = [("history", "line", "predicted", "range", "actual", "error", "in range")]
        for row in rows:
            c = row.crossing
            if c.reached:
                predicted, spread = "reached", "-"
            else:
                predicted = day(c.expected, none="not in 90 days")
                spread = (
                    f"{day(c.earliest, none='>90 d')} .. {day(c.latest, none='>90 d')}"
                    if c.earliest is not None
                    else "-"
                )
            actual = "reached" if c.reached else day(row.actual, none=f"not in {holdout} days")
            error = "-" if row.error is None else f"{row.error:+d} d"
            table.append(
                (
                    row.history,
                    f"{c.name} {c.line}",
                    predicted,
                    spread,
                    actual,
                    error,
                    "yes" if row.inside else "NO",
                )
            )
        widths = [max(len(line[k]) for line in table) for k in range(len(table[0]))]
        for line in table:
            self.stdout.write(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
        errors = [abs(row.error) for row in rows if row.error is not None]
        inside = sum(row.inside for row in rows)
        self.stdout.write("")
        self.stdout.write(
            f"{len(rows)} lines, {inside} inside the forecast's range;"
            + (
                f" mean absolute error {sum(errors) / len(errors):.1f} days over the"
                f" {len(errors)} predicted and reached in the {holdout} held-out days."
                if errors
                else f" no line was both predicted and reached in the {holdout} held-out days."
            )
        )
