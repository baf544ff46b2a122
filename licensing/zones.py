"""The zone rule: where an entitlement's seats in use stand against its two lines; and the
rule before it, whether an entitlement takes seats at all (`check_usable`, `sql_usable`).

This module is the one place that says what "overdraft" and "at the hard limit" mean, in the
three forms the code needs: Python (`zone_of`, `transitions`), the ORM (`q_in_zone`,
`zone_rank`, used by `Entitlement.objects.in_zone()` and every list, filter and the admin) and
SQL (`sql_*`, for the single-statement activation in licensing.statements). The usage history
judges its hours by the same overdraft line (`in_overdraft`, `q_in_overdraft`, `sql_in_overdraft`
take any two columns: a bucket's peak, not only the counter). Its last line of defence is the
database's CHECK constraint `licensing_entitlement_seats_used_lte_hard_limit` (which lets seats
held over after a temporary raise stay above the lines until released: `SeatCounts.held_over`).
Changing the rule is this module plus that constraint.

- within: at most the entitled seats in use (`used <= entitled`);
- overdraft: more than the entitled seats, below the limit;
- at_hard_limit ("at the limit"): the limit reached; the next activation is denied.

The limit is the vendor's hard limit or, when the customer set a lower cap of their own
(`customer_cap`, between the entitled seats and the hard limit), that cap; neither: none. A
denial says which line it met (`denial_code`), and reaching each line is its own event.

Leaving or entering a zone writes one event, exactly once per crossing (`transitions`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from django.db import models
from django.db.models import Case, F, Q, Value, When

from licensing import errors


class Zone(models.TextChoices):
    WITHIN = "within", "Within entitlement"
    OVERDRAFT = "overdraft", "In overdraft"
    AT_HARD_LIMIT = "at_hard_limit", "At hard limit"


# Event types of the zone changes (a public contract; licensing.models.Event.Type names them).
OVERDRAFT_STARTED: Final = "entitlement.overdraft_started"
HARD_LIMIT_REACHED: Final = "entitlement.hard_limit_reached"
OVERDRAFT_ENDED: Final = "entitlement.overdraft_ended"
CUSTOMER_CAP_REACHED: Final = "entitlement.customer_cap_reached"

# Why an activation was denied at the limit (the client API's `code`).
HARD_LIMIT_CODE: Final = "hard_limit_reached"
CUSTOMER_CAP_CODE: Final = "customer_cap_reached"


@dataclasses.dataclass(frozen=True)
class SeatCounts:
    used: int
    entitled: int
    hard_limit: int | None
    customer_cap: int | None = None

    @classmethod
    def of(cls, entitlement: Any) -> SeatCounts:
        """An Entitlement's counts as loaded (licensing.models.Entitlement)."""
        return cls(
            entitlement.seats_used,
            entitlement.seats,
            entitlement.hard_limit,
            entitlement.customer_cap,
        )

    @property
    def limit(self) -> int | None:
        """The most seats that may be in use: the customer's cap if set, else the hard limit."""
        return limit_of(self.hard_limit, self.customer_cap)

    @property
    def in_overdraft(self) -> bool:
        """More seats in use than entitled (at the hard limit too)."""
        return in_overdraft(self.used, self.entitled)

    @property
    def at_hard_limit(self) -> bool:
        """The vendor's hard limit reached."""
        return self.hard_limit is not None and self.used >= self.hard_limit

    @property
    def at_customer_cap(self) -> bool:
        """The customer's own cap reached, below the hard limit (a cap equal to the hard limit
        is the vendor's line)."""
        return _binding_cap(self.hard_limit, self.customer_cap) and self.used >= (
            self.customer_cap or 0
        )

    @property
    def at_limit(self) -> bool:
        return self.at_hard_limit or self.at_customer_cap

    @property
    def has_room(self) -> bool:
        """Whether one more seat may be granted."""
        return not self.at_limit

    @property
    def denial_code(self) -> str:
        """The line a denial met: the customer's cap or the hard limit."""
        return CUSTOMER_CAP_CODE if self.at_customer_cap else HARD_LIMIT_CODE

    @property
    def available(self) -> int | None:
        """Seats that can still be granted, overdraft included; None when unlimited."""
        limit = self.limit
        return None if limit is None else max(limit - self.used, 0)

    @property
    def held_over(self) -> int | None:
        """The seats in use when they stand above the limit, else None. Only the end of a
        temporary raise leaves them there (they stay until released); the CHECK constraints
        allow up to this many meanwhile (`Entitlement.seats_held_over`)."""
        limit = self.limit
        return self.used if limit is not None and self.used > limit else None

    @property
    def zone(self) -> Zone:
        if self.at_limit:
            return Zone.AT_HARD_LIMIT
        if self.in_overdraft:
            return Zone.OVERDRAFT
        return Zone.WITHIN

    def as_dict(self) -> dict[str, int | None]:
        return {
            "used": self.used,
            "entitled": self.entitled,
            "hard_limit": self.hard_limit,
            "customer_cap": self.customer_cap,
            "available": self.available,
        }


def _binding_cap(hard_limit: int | None, customer_cap: int | None) -> bool:
    return customer_cap is not None and (hard_limit is None or customer_cap < hard_limit)


def cap_fits(seats: int, hard_limit: int | None, customer_cap: int | None) -> bool:
    """Whether a customer's cap lies within the lines: from the entitled seats to the hard
    limit (no cap always fits). Terms that leave a cap outside remove it."""
    return customer_cap is None or (
        seats <= customer_cap and (hard_limit is None or customer_cap <= hard_limit)
    )


def cap_moved_within(seats: int, hard_limit: int | None, customer_cap: int | None) -> int | None:
    """The cap moved to the nearest line when new lines leave it outside them (`cap_fits`):
    up to the entitled seats, down to the hard limit. A temporary raise keeps a customer's cap
    this way rather than removing it (licensing.services.raises)."""
    if customer_cap is None:
        return None
    moved = max(customer_cap, seats)
    return moved if hard_limit is None else min(moved, hard_limit)


def limit_of(hard_limit: int | None, customer_cap: int | None) -> int | None:
    """The line the next activation is judged by (`SeatCounts.limit`)."""
    return customer_cap if _binding_cap(hard_limit, customer_cap) else hard_limit


def zone_of(
    used: int, entitled: int, hard_limit: int | None, customer_cap: int | None = None
) -> Zone:
    return SeatCounts(used, entitled, hard_limit, customer_cap).zone


def in_overdraft(used: int, entitled: int) -> bool:
    """More seats in use than entitled: also what makes an hour of the usage history an
    overdraft hour (its peak) and a granted seat an overdraft seat (the count after it)."""
    return used > entitled


# (event, the state it is about, written when the state starts (True) or ends (False)).
_TRANSITIONS: Final[list[tuple[str, Callable[[SeatCounts], bool], bool]]] = [
    (OVERDRAFT_STARTED, lambda c: c.in_overdraft, True),
    (HARD_LIMIT_REACHED, lambda c: c.at_hard_limit, True),
    (CUSTOMER_CAP_REACHED, lambda c: c.at_customer_cap, True),
    (OVERDRAFT_ENDED, lambda c: c.in_overdraft, False),
]


TRANSITION_EVENTS: Final = [event for event, _, _ in _TRANSITIONS]


def transitions(before: SeatCounts, after: SeatCounts) -> list[str]:
    """The zone-change events between two readings of the counter, in order, each once."""
    return [
        event
        for event, state, starts in _TRANSITIONS
        if state(before) != state(after) and state(after) == starts
    ]


# --- the same rule for the database -----------------------------------------------------------


def q_in_overdraft(used: str, entitled: str) -> Q:
    """Rows whose field `used` is in overdraft of their field `entitled` (`in_overdraft`),
    e.g. usage buckets by their peak: `q_in_overdraft("peak_used", "entitlement__seats")`."""
    return Q(**{f"{used}__gt": F(entitled)})


def _q_over(prefix: str) -> Q:
    return q_in_overdraft(f"{prefix}seats_used", f"{prefix}seats")


def _q_at_limit(prefix: str) -> Q:
    """At the hard limit or at the customer's cap (a cap is never above the hard limit)."""
    return Q(
        **{
            f"{prefix}hard_limit__isnull": False,
            f"{prefix}seats_used__gte": F(f"{prefix}hard_limit"),
        }
    ) | Q(
        **{
            f"{prefix}customer_cap__isnull": False,
            f"{prefix}seats_used__gte": F(f"{prefix}customer_cap"),
        }
    )


def q_in_zone(zone: str, prefix: str = "") -> Q:
    """Entitlements (or, with `prefix="entitlements__"`, rows related to them) in `zone`."""
    at_limit, over = _q_at_limit(prefix), _q_over(prefix)
    if zone == Zone.AT_HARD_LIMIT:
        return at_limit
    if zone == Zone.OVERDRAFT:
        return over & ~at_limit
    if zone == Zone.WITHIN:
        return ~over & ~at_limit
    raise ValueError(f"unknown zone {zone!r}")


ZONE_RANKS: Final = {0: Zone.WITHIN, 1: Zone.OVERDRAFT, 2: Zone.AT_HARD_LIMIT}


def zone_rank(prefix: str = "") -> Case:
    """0 within, 1 overdraft, 2 at the hard limit (ZONE_RANKS): sortable, and the worst of
    several entitlements is their Max."""
    return Case(
        When(_q_at_limit(prefix), then=Value(2)),
        When(_q_over(prefix), then=Value(1)),
        default=Value(0),
    )


def sql_in_overdraft(used: str, entitled: str) -> str:
    """SQL: more seats in use than entitled (SeatCounts.in_overdraft)."""
    return f"({used} > {entitled})"


def _sql_binding_cap(hard_limit: str, customer_cap: str) -> str:
    return (
        f"({customer_cap} IS NOT NULL AND ({hard_limit} IS NULL OR {customer_cap} < {hard_limit}))"
    )


def sql_limit(hard_limit: str, customer_cap: str) -> str:
    """SQL: the limit (`limit_of`); NULL when there is none. (Not LEAST: SQLite has none.)"""
    return (
        f"(CASE WHEN {_sql_binding_cap(hard_limit, customer_cap)}"
        f" THEN {customer_cap} ELSE {hard_limit} END)"
    )


def sql_has_room(used: str, hard_limit: str, customer_cap: str) -> str:
    """SQL: one more seat may be granted (SeatCounts.has_room)."""
    limit = sql_limit(hard_limit, customer_cap)
    return f"({limit} IS NULL OR {used} < {limit})"


def _sql_states(used: str, entitled: str, hard_limit: str, customer_cap: str) -> dict[str, str]:
    over = sql_in_overdraft(used, entitled)
    at_limit = f"({hard_limit} IS NOT NULL AND {used} >= {hard_limit})"
    at_cap = f"({_sql_binding_cap(hard_limit, customer_cap)} AND {used} >= {customer_cap})"
    return {
        OVERDRAFT_STARTED: over,
        HARD_LIMIT_REACHED: at_limit,
        CUSTOMER_CAP_REACHED: at_cap,
        OVERDRAFT_ENDED: over,
    }


def sql_transition(
    event: str, *, before: str, after: str, entitled: str, hard_limit: str, customer_cap: str
) -> str:
    """SQL: true when `event` is written for a change of the counter from `before` to `after`
    (SQL expressions), as `transitions` decides."""
    starts = next(s for e, _, s in _TRANSITIONS if e == event)
    was = _sql_states(before, entitled, hard_limit, customer_cap)[event]
    now = _sql_states(after, entitled, hard_limit, customer_cap)[event]
    return f"(NOT {was} AND {now})" if starts else f"({was} AND NOT {now})"


# --- whether an entitlement takes seats at all ------------------------------------------------

SUSPENDED: Final = "suspended"  # the value of Entitlement.Status.SUSPENDED


def check_usable(entitlement: Any, now: Any) -> None:
    """Raise EntitlementSuspended / EntitlementExpired / EntitlementNotStarted for an
    Entitlement that may not take seats at `now`; heartbeats and releases are not asked."""
    if entitlement.status == SUSPENDED:
        raise errors.EntitlementSuspended(
            "This entitlement is suspended; contact your vendor to resume it."
        )
    if entitlement.ends_at is not None and entitlement.ends_at <= now:
        raise errors.EntitlementExpired(
            f"This entitlement ended on {entitlement.ends_at:%Y-%m-%d %H:%M} UTC."
        )
    if entitlement.starts_at > now:
        raise errors.EntitlementNotStarted(
            f"This entitlement starts on {entitlement.starts_at:%Y-%m-%d %H:%M} UTC."
        )


def sql_usable(*, status: str, starts_at: str, ends_at: str, now: str) -> str:
    """SQL: the entitlement may take seats at `now` (`check_usable` raises nothing)."""
    return (
        f"({status} <> '{SUSPENDED}' AND {starts_at} <= {now}"
        f" AND ({ends_at} IS NULL OR {ends_at} > {now}))"
    )
