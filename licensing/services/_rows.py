"""Writes shared by the services: the counter, the hour's UsageBucket and Event rows.

Private to licensing.services: every caller owns the transaction these run in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection

from licensing import hooks, zones
from licensing.models import Entitlement, Event, UsageBucket
from licensing.zones import SeatCounts


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# The columns of an entitlement row that make its SeatCounts, in SeatCounts' order.
COUNT_COLUMNS = "seats_used, seats, hard_limit, customer_cap"


def fetch_counts(sql: str, params: Iterable[Any]) -> SeatCounts | None:
    """Run `sql`, which returns COUNT_COLUMNS of one row (or none)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    return None if row is None else SeatCounts(*row)


def entitlement_pk(entitlement_id: Any) -> Any:
    return Entitlement._meta.pk.get_db_prep_value(entitlement_id, connection)


def give_back_seats(entitlement_id: Any, count: int) -> SeatCounts:
    table = Entitlement._meta.db_table
    counts = fetch_counts(
        f"UPDATE {table} SET seats_used = seats_used - %s WHERE id = %s RETURNING {COUNT_COLUMNS}",
        [count, entitlement_pk(entitlement_id)],
    )
    assert counts is not None, "entitlement vanished while seats were being released"
    return counts


def record_usage(
    entitlement_id: Any,
    moment: datetime,
    *,
    before: int,
    after: int,
    activations: int = 0,
    overdraft_activations: int = 0,
    denials: int = 0,
    releases: int = 0,
    holds_lock: bool = True,
) -> None:
    """Upsert this hour's bucket: peak is the highest level seen, closing the latest.

    Seat changes of one entitlement are serialised by its row lock, so `closing_used`
    written last is the level at commit. A denial does not hold that lock (its UPDATE
    matched no row), so the level it read may be stale by now: it only fills a new bucket's
    `closing_used` and never overwrites one that a seat change wrote.
    """
    table = UsageBucket._meta.db_table
    hour_field = UsageBucket._meta.get_field("hour")
    sql = (
        f"INSERT INTO {table} (entitlement_id, hour, peak_used, closing_used, activations,"
        " overdraft_activations, denials, releases) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (entitlement_id, hour) DO UPDATE SET"
        f" peak_used = CASE WHEN excluded.peak_used > {table}.peak_used"
        f" THEN excluded.peak_used ELSE {table}.peak_used END,"
        f" closing_used = {'excluded' if holds_lock else table}.closing_used,"
        f" activations = {table}.activations + excluded.activations,"
        f" overdraft_activations = {table}.overdraft_activations"
        " + excluded.overdraft_activations,"
        f" denials = {table}.denials + excluded.denials,"
        f" releases = {table}.releases + excluded.releases"
    )
    params = [
        entitlement_pk(entitlement_id),
        hour_field.get_db_prep_value(hour_of(moment), connection),
        max(before, after),
        after,
        activations,
        overdraft_activations,
        denials,
        releases,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def write_events(
    entitlement: Entitlement,
    moment: datetime,
    items: list[tuple[str, dict[str, Any]]],
    counts: SeatCounts,
) -> list[Event]:
    """Insert Event rows; each carries the entitlement's counts after the change. The
    listeners of licensing.hooks hear of them once the transaction commits."""
    if not items:
        return []
    common = {
        "entitlement_id": str(entitlement.pk),
        "customer_id": str(entitlement.customer_id),
        "product_id": str(entitlement.product_id),
        "seats": counts.as_dict(),
    }
    events = Event.objects.bulk_create(
        [
            Event(
                type=event_type,
                entitlement_id=entitlement.pk,
                customer_id=entitlement.customer_id,
                occurred_at=moment,
                data={**common, **data},
            )
            for event_type, data in items
        ]
    )
    hooks.events_written([event.pk for event in events])
    return events


def zone_events(before: SeatCounts, after: SeatCounts) -> list[tuple[str, dict[str, Any]]]:
    """The zone changes between two readings of the counter, as `write_events` items."""
    return [(event, {}) for event in zones.transitions(before, after)]
