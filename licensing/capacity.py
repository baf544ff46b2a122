"""The capacity model: what a stretch of usage history says about the seats a customer needs.

One function (`capacity_of`) turns the points of licensing.history into the figures every
page and API quotes: the peak, the 95th-percentile daily peak, hours and seat-hours in
overdraft (each hour judged by the terms in force then), denials, and the seat count to
recommend. The chart's capacity note, the expansion leads and the usage API all call it, so
they cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from licensing.history import Point, daily_peaks


def percentile(values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile (the smallest value at least `fraction` of them reach)."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def with_headroom(demand: int) -> int:
    """Seats for `demand` with 5% headroom."""
    return math.ceil(demand * 1.05)


def recommended_seats(*, entitled: int, demand: int) -> int | None:
    """`demand` with headroom, rounded up to a tidy step (10 from 50 seats, 5 from 10, else 1);
    None unless that is more than the seats entitled now."""
    wanted = with_headroom(demand)
    step = 10 if wanted >= 50 else 5 if wanted >= 10 else 1
    recommended = math.ceil(wanted / step) * step
    return recommended if recommended > entitled else None


@dataclasses.dataclass(frozen=True)
class Capacity:
    """What a stretch of history says, against the terms entitled now (`entitled`)."""

    entitled: int
    hard_limit: int | None
    peak: int
    p95_daily_peak: int
    overdraft_hours: int
    overdraft_seat_hours: int
    denials: int
    activations: int
    demand: int
    recommended: int | None

    @property
    def extra_seats(self) -> int | None:
        return None if self.recommended is None else self.recommended - self.entitled

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "p95_daily_peak": self.p95_daily_peak,
            "overdraft_hours": self.overdraft_hours,
            "overdraft_seat_hours": self.overdraft_seat_hours,
            "denials": self.denials,
            "activations": self.activations,
            "demand": self.demand,
            "recommended_seats": self.recommended,
        }

    def note(self, period: str) -> str:
        """A plain-language capacity note for `period` ("last 30 days")."""
        if self.denials:
            denials = "denial" if self.denials == 1 else "denials"
            said = f"Peak {self.peak}; {self.denials} {denials} in the {period}"
        elif self.overdraft_hours:
            hours = "hour" if self.overdraft_hours == 1 else "hours"
            said = (
                f"Peak {self.peak}; {self.overdraft_hours} {hours} in overdraft"
                f" ({self.overdraft_seat_hours} seat-hours) in the {period}"
            )
        else:
            return (
                f"Peak {self.peak} of {self.entitled} entitled seats in the {period}:"
                " your entitled seats cover your use."
            )
        if self.recommended is not None:
            return f"{said}: consider {self.recommended} seats."
        return (
            f"{said}: the {self.entitled} seats entitled now cover the usual demand"
            f" ({self.demand} seats, {with_headroom(self.demand)} with 5% headroom)."
        )


def capacity_of(points: Sequence[Point], *, entitled: int, hard_limit: int | None) -> Capacity:
    """The figures of `points` (hourly or daily, from licensing.history.walk).

    Demand is the 95th-percentile daily peak, so one spike does not sell seats; with denials it
    is at least the hard limit in force when they happened, since people were turned away
    there. A recommendation is made only when the history saw overdraft or denials.
    """
    p95 = percentile(daily_peaks(points), 0.95)
    denials = sum(p.denials for p in points)
    overdraft_hours = sum(p.overdraft_hours for p in points)
    demand = p95
    if denials:
        turned_away = [p.denied_at for p in points if p.denials and p.denied_at is not None]
        demand = max([p95, *turned_away])
    recommended = (
        recommended_seats(entitled=entitled, demand=demand) if denials or overdraft_hours else None
    )
    return Capacity(
        entitled=entitled,
        hard_limit=hard_limit,
        peak=max((p.peak for p in points), default=0),
        p95_daily_peak=p95,
        overdraft_hours=overdraft_hours,
        overdraft_seat_hours=sum(p.overdraft_seat_hours for p in points),
        denials=denials,
        activations=sum(p.activations for p in points),
        demand=demand,
        recommended=recommended,
    )
