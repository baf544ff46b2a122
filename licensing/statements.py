"""The client API's hot writes as single PostgreSQL statements (docs/performance.md).

A new activation, a heartbeat and a release each run as one statement: data-modifying CTEs
take the seat and bump the counter, write the Event rows and upsert the hour's UsageBucket.
Outside a transaction that statement is its own transaction, so the entitlement's row lock is
held for one round trip instead of five (BEGIN, UPDATE, three INSERTs, COMMIT), and no ORM
insert is compiled. Statements are prepared once per connection (server-side parameters).

Each returns nothing when it did not apply (fingerprint already holds a seat, entitlement full,
seat not held, ...); the caller then takes the general path in `licensing.services`, which
handles every case. SQLite has no data-modifying CTEs: there only the general path runs.

The rows written here must equal what the general path writes: same Event types in the same
order, same `data`, same bucket arithmetic (tests/licensing/test_statements.py compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from django.db import connection, transaction

# Each statement names its entitlement by license key, so the client API's common case needs
# no lookup first; the rows it reads come out of the first CTE (`took`): id, customer_id,
# product_id and the counts after the change (used, entitled, hard).

# The `seats` object of every Event's data (services.SeatCounts.as_dict) and the rest that
# every Event of an entitlement carries (services._write_events).
_COMMON_JSON = """jsonb_build_object('entitlement_id', id::text, 'customer_id', customer_id::text,
    'product_id', product_id::text, 'seats', jsonb_build_object('used', used,
    'entitled', entitled, 'hard_limit', hard,
    'available', CASE WHEN hard IS NULL THEN NULL ELSE GREATEST(hard - used, 0) END))"""

# services._lease_end: floating seats get `lease_seconds` from now, named seats no lease.
_LEASE_END = """CASE WHEN lease_seconds IS NULL THEN NULL
    ELSE %(now)s::timestamptz + lease_seconds * interval '1 second' END"""

_EVENTS_INSERT = """
    INSERT INTO licensing_event (public_id, type, entitlement_id, customer_id, occurred_at,
        data, dispatched_at)
    SELECT gen_random_uuid(), kind, id, customer_id, %(now)s, data, NULL
      FROM (SELECT * FROM items ORDER BY n) AS ordered
    RETURNING seq
"""

# services._record_usage with the row lock held: peak is the highest level seen in the hour,
# closing the level after this change.
_BUCKET_UPSERT = """
    INSERT INTO licensing_usagebucket AS b (entitlement_id, hour, peak_used, closing_used,
        activations, overdraft_activations, denials, releases)
    SELECT id, %(hour)s, peak, used, activations, overdraft_activations, 0, releases
      FROM bucket_change
    ON CONFLICT (entitlement_id, hour) DO UPDATE SET
        peak_used = GREATEST(b.peak_used, excluded.peak_used),
        closing_used = excluded.closing_used,
        activations = b.activations + excluded.activations,
        overdraft_activations = b.overdraft_activations + excluded.overdraft_activations,
        releases = b.releases + excluded.releases
"""

# A new seat on a usable entitlement (services._check_usable) below its hard limit, for a
# fingerprint that holds none; then seat.activated and the zone changes it caused.
# The entitlement's id comes from a sub-select evaluated once (`keyed`), so that both the
# UPDATE and the held-seat check look their rows up by it: correlated on `e.id` instead, the
# planner may check the fingerprint across every entitlement's seats (seen: 319 pages).
ACTIVATE = f"""
WITH keyed AS (
    SELECT id FROM licensing_entitlement WHERE license_key = %(key)s::text
), took AS (
    UPDATE licensing_entitlement e SET seats_used = seats_used + 1
     WHERE id = (SELECT id FROM keyed) AND status <> 'suspended' AND starts_at <= %(now)s
       AND (ends_at IS NULL OR ends_at > %(now)s)
       AND (hard_limit IS NULL OR seats_used < hard_limit)
       AND NOT EXISTS (SELECT 1 FROM licensing_seat s
                       WHERE s.entitlement_id = (SELECT id FROM keyed)
                       AND s.fingerprint = %(fp)s::text AND s.released_at IS NULL)
    RETURNING id, customer_id, product_id, seats_used AS used, seats AS entitled,
              hard_limit AS hard, seats_used > seats AS overdraft, {_LEASE_END} AS lease
), seat AS (
    INSERT INTO licensing_seat (id, entitlement_id, fingerprint, label, activated_at,
        last_heartbeat_at, lease_expires_at, released_at, release_reason, overdraft)
    SELECT %(sid)s, id, %(fp)s::text, %(label)s::text, %(now)s, %(now)s, lease, NULL, '',
           overdraft FROM took
), items AS (
    SELECT 1 AS n, 'seat.activated' AS kind, id, customer_id,
           {_COMMON_JSON} || jsonb_build_object('activation_id', %(sid)s::text,
               'fingerprint', %(fp)s::text, 'label', %(label)s::text, 'overdraft', overdraft)
           AS data
      FROM took
    UNION ALL
    SELECT 2, 'entitlement.overdraft_started', id, customer_id, {_COMMON_JSON} FROM took
     WHERE used = entitled + 1
    UNION ALL
    SELECT 3, 'entitlement.hard_limit_reached', id, customer_id, {_COMMON_JSON} FROM took
     WHERE used = hard
), events AS ({_EVENTS_INSERT}
), bucket_change AS (
    SELECT id, used AS peak, used, 1 AS activations, overdraft::int AS overdraft_activations,
           0 AS releases FROM took
), bucket AS ({_BUCKET_UPSERT})
SELECT id, used, entitled, hard, overdraft, lease,
       (SELECT array_agg(seq ORDER BY seq) FROM events)
  FROM took
"""

# Renew a held seat whose lease has not run out (heartbeats work on suspended entitlements
# too: docs/decisions.md). Takes no lock on the entitlement row.
HEARTBEAT = f"""
UPDATE licensing_seat s SET last_heartbeat_at = %(now)s, lease_expires_at = {_LEASE_END}
  FROM licensing_entitlement e
 WHERE e.license_key = %(key)s::text AND s.id = %(sid)s AND s.entitlement_id = e.id
   AND s.released_at IS NULL AND (s.lease_expires_at IS NULL OR s.lease_expires_at > %(now)s)
RETURNING s.fingerprint, s.label, s.activated_at, s.overdraft, s.lease_expires_at,
          e.seats_used, e.seats, e.hard_limit
"""

# Release a held seat (seat row first, then the entitlement row: services' lock order), then
# seat.released and, when use fell back to the entitled seats, overdraft_ended.
RELEASE = f"""
WITH gone AS (
    UPDATE licensing_seat SET released_at = %(now)s, release_reason = %(reason)s::text
     WHERE id = %(sid)s AND released_at IS NULL AND entitlement_id =
           (SELECT id FROM licensing_entitlement WHERE license_key = %(key)s::text)
    RETURNING entitlement_id, fingerprint, label, overdraft
), took AS (
    UPDATE licensing_entitlement e SET seats_used = seats_used - 1 FROM gone
     WHERE e.id = gone.entitlement_id
    RETURNING e.id, e.customer_id, e.product_id, e.seats_used AS used, e.seats AS entitled,
              e.hard_limit AS hard, gone.fingerprint, gone.label, gone.overdraft
), items AS (
    SELECT 1 AS n, 'seat.released' AS kind, id, customer_id,
           {_COMMON_JSON} || jsonb_build_object('activation_id', %(sid)s::text,
               'fingerprint', fingerprint, 'label', label, 'overdraft', overdraft,
               'reason', %(reason)s::text) AS data
      FROM took
    UNION ALL
    SELECT 2, 'entitlement.overdraft_ended', id, customer_id, {_COMMON_JSON} FROM took
     WHERE used = entitled
), events AS ({_EVENTS_INSERT}
), bucket_change AS (
    SELECT id, used + 1 AS peak, used, 0 AS activations, 0 AS overdraft_activations,
           1 AS releases FROM took
), bucket AS ({_BUCKET_UPSERT})
SELECT (SELECT array_agg(seq ORDER BY seq) FROM events) FROM took
"""


def available() -> bool:
    return connection.vendor == "postgresql"


def run(sql: str, params: dict[str, Any]) -> Sequence[tuple[Any, ...]]:
    """Execute one prepared statement; inside a transaction, under a savepoint.

    Goes to psycopg directly (server-side parameters, prepared per connection) rather than
    through Django's cursor, which binds parameters client-side and so cannot prepare; Django's
    error wrapping still applies, so a unique violation is an IntegrityError.
    """
    connection.close_if_health_check_failed()  # what Django's cursor() does first
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    if connection.in_atomic_block:
        with transaction.atomic():
            return _execute(sql, params)
    return _execute(sql, params)


def _execute(sql: str, params: dict[str, Any]) -> Sequence[tuple[Any, ...]]:
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def activate(
    *, license_key: str, seat_id: UUID, fingerprint: str, label: str, now: datetime, hour: datetime
) -> tuple[UUID, int, int, int | None, bool, datetime | None, list[int]] | None:
    """Take a new seat: (entitlement id, used, entitled, hard limit, overdraft, lease end,
    event seqs), or None."""
    rows = run(
        ACTIVATE,
        {"key": license_key, "sid": seat_id, "fp": fingerprint, "label": label, "now": now,
         "hour": hour},
    )  # fmt: skip
    if not rows:
        return None
    entitlement_id, used, entitled, hard, overdraft, lease, seqs = rows[0]
    return entitlement_id, used, entitled, hard, overdraft, lease, list(seqs or [])


def heartbeat(
    *, license_key: str, seat_id: UUID, now: datetime
) -> tuple[str, str, datetime, bool, datetime | None, int, int, int | None] | None:
    """Renew a held seat: (fingerprint, label, activated_at, overdraft, lease end, used,
    entitled, hard limit), or None."""
    rows = run(HEARTBEAT, {"key": license_key, "sid": seat_id, "now": now})
    return rows[0] if rows else None


def release(
    *, license_key: str, seat_id: UUID, reason: str, now: datetime, hour: datetime
) -> list[int] | None:
    """Release a held seat: the seqs of the events written, or None when it was not held (or
    does not exist)."""
    rows = run(
        RELEASE,
        {"key": license_key, "sid": seat_id, "reason": reason, "now": now, "hour": hour},
    )
    return list(rows[0][0] or []) if rows else None
