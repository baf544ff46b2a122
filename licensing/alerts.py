"""Threshold alerts: when a line of seats in use is crossed, and when it may fire again.

A threshold is a level of seats in use on one entitlement: a share of the entitled seats
("80%"), the overdraft line (one seat above the entitled ones) or the limit (the hard limit, or
the customer's cap: licensing.zones.limit_of). It fires once when use reaches its level going
up, re-arms only after use falls back below the level by a margin (hysteresis: a use hovering
at the line alerts once, not on every seat), and fires at most once per FIRE_EVERY. The state
(armed, last fired) lives on the threshold's row; licensing.services.thresholds_check steps it
with each reading. Pure functions, no database: tests/rules pin every boundary.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from typing import Final

from licensing import zones

PERCENT: Final = "percent"
OVERDRAFT: Final = "overdraft"
LIMIT: Final = "limit"
KINDS: Final = (PERCENT, OVERDRAFT, LIMIT)

# At most one firing per threshold in this long.
FIRE_EVERY: Final = timedelta(days=1)
# Use must fall this share of the level below it (at least one seat) before it fires again.
REARM_SHARE: Final = 0.05


def level_of(kind: str, percent: int | None, counts: zones.SeatCounts) -> int | None:
    """The seats in use at which the threshold is crossed; None when it has none (a limit
    threshold of an entitlement without a limit)."""
    if kind == PERCENT:
        if percent is None:
            raise ValueError("a share threshold needs its percent")
        return max(1, math.ceil(counts.entitled * percent / 100))
    if kind == OVERDRAFT:
        return counts.entitled + 1
    if kind == LIMIT:
        return counts.limit
    raise ValueError(f"unknown threshold kind {kind!r}")


def rearm_below(level: int) -> int:
    """Use at or below this re-arms a fired threshold."""
    return level - max(1, math.ceil(level * REARM_SHARE))


def describe(kind: str, percent: int | None) -> str:
    """`80% of the entitled seats`, `overdraft`, `the limit`."""
    if kind == PERCENT:
        return f"{percent}% of the entitled seats"
    return "overdraft" if kind == OVERDRAFT else "the limit"


@dataclasses.dataclass(frozen=True)
class State:
    armed: bool
    last_fired_at: datetime | None


def step(state: State, *, level: int | None, used: int, now: datetime) -> tuple[State, bool]:
    """The threshold's state after a reading of `used` at `now`, and whether it fires."""
    if level is None:
        return state, False
    if used >= level:
        if not state.armed:
            return state, False
        cooling = state.last_fired_at is not None and now - state.last_fired_at < FIRE_EVERY
        # Crossed while cooling down: the crossing is spent, without an alert.
        return State(False, state.last_fired_at if cooling else now), not cooling
    if not state.armed and used <= rearm_below(level):
        return State(True, state.last_fired_at), False
    return state, False
