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

# The entitlement's counts after the change, as the `seats` object of every Event's data
# (services.SeatCounts.as_dict).
_SEATS_JSON = """jsonb_build_object('used', used, 'entitled', entitled, 'hard_limit', hard,
    'available', CASE WHEN hard IS NULL THEN NULL ELSE GREATEST(hard - used, 0) END)"""

_COMMON_JSON = f"""jsonb_build_object('entitlement_id', %(eid)s::text,
    'customer_id', %(cid)s::text, 'product_id', %(pid)s::text, 'seats', {_SEATS_JSON})"""

_SEAT_JSON = """jsonb_build_object('activation_id', %(sid)s::text, 'fingerprint', %(fp)s::text,
    'label', %(label)s::text, 'overdraft', overdraft)"""

_BUCKET_UPSERT = """
    INSERT INTO licensing_usagebucket AS b (entitlement_id, hour, peak_used, closing_used,
        activations, overdraft_activations, denials, releases)
    SELECT %(eid)s, %(hour)s, peak, used, activations, overdraft_activations, 0, releases
      FROM bucket_change
    ON CONFLICT (entitlement_id, hour) DO UPDATE SET
        peak_used = GREATEST(b.peak_used, excluded.peak_used),
        closing_used = excluded.closing_used,
        activations = b.activations + excluded.activations,
        overdraft_activations = b.overdraft_activations + excluded.overdraft_activations,
        releases = b.releases + excluded.releases
"""

_EVENTS_INSERT = """
    INSERT INTO licensing_event (public_id, type, entitlement_id, customer_id, occurred_at,
        data, dispatched_at)
    SELECT gen_random_uuid(), kind, %(eid)s, %(cid)s, %(now)s, data, NULL
      FROM (SELECT * FROM items ORDER BY n) AS ordered
    RETURNING seq
"""

ACTIVATE = f"""
WITH took AS (
    UPDATE licensing_entitlement SET seats_used = seats_used + 1
     WHERE id = %(eid)s AND (hard_limit IS NULL OR seats_used < hard_limit)
       AND NOT EXISTS (SELECT 1 FROM licensing_seat WHERE entitlement_id = %(eid)s
                       AND fingerprint = %(fp)s::text AND released_at IS NULL)
    RETURNING seats_used AS used, seats AS entitled, hard_limit AS hard,
              seats_used > seats AS overdraft
), seat AS (
    INSERT INTO licensing_seat (id, entitlement_id, fingerprint, label, activated_at,
        last_heartbeat_at, lease_expires_at, released_at, release_reason, overdraft)
    SELECT %(sid)s, %(eid)s, %(fp)s::text, %(label)s::text, %(now)s, %(now)s,
           %(lease)s::timestamptz, NULL, '', overdraft FROM took
), items AS (
    SELECT 1 AS n, 'seat.activated' AS kind, {_COMMON_JSON} || {_SEAT_JSON} AS data FROM took
    UNION ALL
    SELECT 2, 'entitlement.overdraft_started', {_COMMON_JSON} FROM took
     WHERE used = entitled + 1
    UNION ALL
    SELECT 3, 'entitlement.hard_limit_reached', {_COMMON_JSON} FROM took WHERE used = hard
), events AS ({_EVENTS_INSERT}
), bucket_change AS (
    SELECT used AS peak, used, 1 AS activations, overdraft::int AS overdraft_activations,
           0 AS releases FROM took
), bucket AS ({_BUCKET_UPSERT})
SELECT used, entitled, hard, overdraft, (SELECT array_agg(seq ORDER BY seq) FROM events)
  FROM took
"""

HEARTBEAT = """
UPDATE licensing_seat SET last_heartbeat_at = %(now)s, lease_expires_at = %(lease)s::timestamptz
 WHERE id = %(sid)s AND entitlement_id = %(eid)s AND released_at IS NULL
   AND (lease_expires_at IS NULL OR lease_expires_at > %(now)s)
RETURNING fingerprint, label, activated_at, overdraft
"""

RELEASE = f"""
WITH gone AS (
    UPDATE licensing_seat SET released_at = %(now)s, release_reason = %(reason)s::text
     WHERE id = %(sid)s AND entitlement_id = %(eid)s AND released_at IS NULL
    RETURNING fingerprint, label, overdraft
), took AS (
    UPDATE licensing_entitlement SET seats_used = seats_used - 1
     WHERE id = %(eid)s AND EXISTS (SELECT 1 FROM gone)
    RETURNING seats_used AS used, seats AS entitled, hard_limit AS hard
), items AS (
    SELECT 1 AS n, 'seat.released' AS kind,
           {_COMMON_JSON} || jsonb_build_object('activation_id', %(sid)s::text,
               'fingerprint', gone.fingerprint, 'label', gone.label,
               'overdraft', gone.overdraft, 'reason', %(reason)s::text) AS data
      FROM took, gone
    UNION ALL
    SELECT 2, 'entitlement.overdraft_ended', {_COMMON_JSON} FROM took WHERE used = entitled
), events AS ({_EVENTS_INSERT}
), bucket_change AS (
    SELECT used + 1 AS peak, used, 0 AS activations, 0 AS overdraft_activations,
           1 AS releases FROM took
), bucket AS ({_BUCKET_UPSERT})
SELECT used, entitled, hard, (SELECT array_agg(seq ORDER BY seq) FROM events) FROM took
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
    *,
    entitlement_id: UUID,
    customer_id: UUID,
    product_id: UUID,
    seat_id: UUID,
    fingerprint: str,
    label: str,
    now: datetime,
    hour: datetime,
    lease_expires_at: datetime | None,
) -> tuple[int, int, int | None, bool, list[int]] | None:
    """Take a new seat: (used, entitled, hard limit, overdraft, event seqs), or None."""
    rows = run(
        ACTIVATE,
        {
            "eid": entitlement_id,
            "cid": customer_id,
            "pid": product_id,
            "sid": seat_id,
            "fp": fingerprint,
            "label": label,
            "now": now,
            "hour": hour,
            "lease": lease_expires_at,
        },
    )
    if not rows:
        return None
    used, entitled, hard, overdraft, seqs = rows[0]
    return used, entitled, hard, overdraft, list(seqs or [])


def heartbeat(
    *, entitlement_id: UUID, seat_id: UUID, now: datetime, lease_expires_at: datetime | None
) -> tuple[str, str, datetime, bool] | None:
    """Renew a held seat whose lease has not run out: (fingerprint, label, activated_at,
    overdraft), or None."""
    rows = run(
        HEARTBEAT,
        {"eid": entitlement_id, "sid": seat_id, "now": now, "lease": lease_expires_at},
    )
    return rows[0] if rows else None


def release(
    *,
    entitlement_id: UUID,
    customer_id: UUID,
    product_id: UUID,
    seat_id: UUID,
    reason: str,
    now: datetime,
    hour: datetime,
) -> tuple[int, int, int | None, list[int]] | None:
    """Release a held seat: (used, entitled, hard limit, event seqs), or None when it was not
    held (or does not exist)."""
    rows = run(
        RELEASE,
        {
            "eid": entitlement_id,
            "cid": customer_id,
            "pid": product_id,
            "sid": seat_id,
            "reason": reason,
            "now": now,
            "hour": hour,
        },
    )
    if not rows:
        return None
    used, entitled, hard, seqs = rows[0]
    return used, entitled, hard, list(seqs or [])
