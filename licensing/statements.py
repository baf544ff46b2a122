"""The first step of seat_activate, seat_heartbeat and seat_release: one PostgreSQL statement.

The common cases of each (a new seat below the hard limit or the re-activation of a held seat,
a heartbeat of a held seat, a release of a held seat) run as one statement: data-modifying CTEs
take or renew the seat and move the counter, write the Event rows and upsert the hour's
UsageBucket. Outside a transaction that statement is its own transaction, so the
entitlement's row lock is held for one round trip instead of five (BEGIN, UPDATE, three
INSERTs, COMMIT), and no ORM query is compiled. Statements are prepared once per connection
(server-side parameters).

Each returns nothing when it does not apply; licensing.services.seats then goes on in one
transaction, which handles every case. SQLite has no data-modifying CTEs: there only that
transaction runs. Table and column names come from the models, event types from Event.Type
and the zone rule from licensing.zones, so the rows written here are the rows the
transaction writes (tests/licensing/test_statements.py compares them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from django.db import connection, models, transaction

from licensing import keys, zones
from licensing.models import Entitlement, Event, Seat, UsageBucket


def _names(model: type[models.Model], *fields: str) -> dict[str, str]:
    """`table` and each field's column, for f-strings."""
    meta = model._meta
    columns = {f: str(meta.get_field(f).column) for f in fields}  # type: ignore[union-attr]
    return {"table": meta.db_table, **columns}


E = _names(
    Entitlement,
    "id",
    "customer",
    "product",
    "license_key",
    "seats",
    "hard_limit",
    "customer_cap",
    "seats_used",
    "lease_seconds",
    "offline_grace_seconds",
    "status",
    "starts_at",
    "ends_at",
)
S = _names(
    Seat,
    "id",
    "entitlement",
    "fingerprint",
    "label",
    "activated_at",
    "last_heartbeat_at",
    "lease_expires_at",
    "released_at",
    "release_reason",
    "overdraft",
)
V = _names(
    Event, "public_id", "type", "entitlement", "customer", "occurred_at", "data", "dispatched_at"
)
V["seq"] = str(Event._meta.pk.column)
B = _names(
    UsageBucket,
    "entitlement",
    "hour",
    "peak_used",
    "closing_used",
    "activations",
    "overdraft_activations",
    "denials",
    "releases",
)

# The rows every CTE below reads come out of its `took` CTE: id, customer_id, product_id and
# the counts after the change (used, entitled, hard, cap: SeatCounts' order).
_TOOK_COLUMNS = (
    f"e.{E['id']} AS id, e.{E['customer']} AS customer_id, e.{E['product']} AS product_id,"
    f" e.{E['seats_used']} AS used, e.{E['seats']} AS entitled, e.{E['hard_limit']} AS hard,"
    f" e.{E['customer_cap']} AS cap"
)

# The `seats` object of every Event's data (SeatCounts.as_dict) and the rest that every Event
# of an entitlement carries (services._rows.write_events), built once per statement (`base`),
# not once per event.
_COMMON_JSON = """jsonb_build_object('entitlement_id', id::text, 'customer_id', customer_id::text,
    'product_id', product_id::text, 'seats', jsonb_build_object('used', used,
    'entitled', entitled, 'hard_limit', hard, 'customer_cap', cap,
    'available', CASE WHEN LIMIT IS NULL THEN NULL ELSE GREATEST(LIMIT - used, 0) END))""".replace(
    "LIMIT", zones.sql_limit("hard", "cap")
)


def _lease_end(lease_seconds: str) -> str:
    """services.seats._lease_end: floating seats get `lease_seconds` (an SQL expression) from
    now, named seats no lease."""
    return f"""CASE WHEN {lease_seconds} IS NULL THEN NULL
    ELSE %(now)s::timestamptz + {lease_seconds} * interval '1 second' END"""


_LEASE_END = _lease_end(f"e.{E['lease_seconds']}")
# A seat held (`s`) whose lease has not run out (services.seats._lease_expired, negated): what
# a heartbeat renews and a re-activation returns. One whose lease ran out is left to the
# transaction, which expires it.
_LEASE_RUNNING = (
    f"(s.{S['lease_expires_at']} IS NULL OR s.{S['lease_expires_at']} > %(now)s)"
    f" AND s.{S['released_at']} IS NULL"
)


def _zone_items(first: int, before: str) -> str:
    """The zone-change events of a change of the counter from `before` to `used`, as rows of
    the `items` CTE numbered from `first`, in `zones.transitions`' order."""
    rows = []
    for n, event in enumerate(zones.TRANSITION_EVENTS):
        crossed = zones.sql_transition(
            event,
            before=before,
            after="used",
            entitled="entitled",
            hard_limit="hard",
            customer_cap="cap",
        )
        rows.append(
            f"""
    UNION ALL
    SELECT {first + n}, '{event}', id, customer_id, common FROM base WHERE {crossed}"""
        )
    return "".join(rows)


_EVENTS_INSERT = f"""
    INSERT INTO {V["table"]} ({V["public_id"]}, {V["type"]}, {V["entitlement"]},
        {V["customer"]}, {V["occurred_at"]}, {V["data"]}, {V["dispatched_at"]})
    SELECT gen_random_uuid(), kind, id, customer_id, %(now)s, data, NULL
      FROM (SELECT * FROM items ORDER BY n) AS ordered
    RETURNING {V["seq"]} AS seq
"""

# services._rows.record_usage with the row lock held: peak is the highest level seen in the
# hour, closing the level after this change.
_BUCKET_UPSERT = f"""
    INSERT INTO {B["table"]} AS b ({B["entitlement"]}, {B["hour"]}, {B["peak_used"]},
        {B["closing_used"]}, {B["activations"]}, {B["overdraft_activations"]}, {B["denials"]},
        {B["releases"]})
    SELECT id, %(hour)s, peak, used, activations, overdraft_activations, 0, releases
      FROM bucket_change
    ON CONFLICT ({B["entitlement"]}, {B["hour"]}) DO UPDATE SET
        {B["peak_used"]} = GREATEST(b.{B["peak_used"]}, excluded.{B["peak_used"]}),
        {B["closing_used"]} = excluded.{B["closing_used"]},
        {B["activations"]} = b.{B["activations"]} + excluded.{B["activations"]},
        {B["overdraft_activations"]} = b.{B["overdraft_activations"]}
            + excluded.{B["overdraft_activations"]},
        {B["releases"]} = b.{B["releases"]} + excluded.{B["releases"]}
"""

# A re-activation or a new seat, keyed by the license key the client sent, so an activation
# needs no lookup first, on an entitlement that takes seats now. A fingerprint that holds a
# seat gets it back renewed (`held`: the lease and, when one is sent, the label; no event, no
# bucket), as the transaction's `_renew` does. Any other fingerprint takes a new seat below the
# limit (`took`): seat.activated and the zone changes it caused. Both read the same snapshot,
# so at most one of them applies. The entitlement comes from a sub-select evaluated once
# (`keyed`), so that the UPDATE, the held-seat check and the renewal look their rows up by it:
# correlated on `e.id` instead, the planner may check the fingerprint across every
# entitlement's seats (seen: 319 pages).
_USABLE = zones.sql_usable(
    status=f"e.{E['status']}",
    starts_at=f"e.{E['starts_at']}",
    ends_at=f"e.{E['ends_at']}",
    now="%(now)s",
)
# The entitlement the client's key names: its key, or its previous one within the grace period.
_NAMED = keys.sql_named_by("%(key)s::text", "%(now)s")
_NAMED_E = keys.sql_named_by("%(key)s::text", "%(now)s", alias="e.")
_HAS_ROOM = zones.sql_has_room(
    f"e.{E['seats_used']}", f"e.{E['hard_limit']}", f"e.{E['customer_cap']}"
)
ACTIVATE = f"""
WITH keyed AS (
    SELECT {E["id"]} AS id, {E["seats_used"]} AS used, {E["seats"]} AS entitled,
           {E["hard_limit"]} AS hard, {E["customer_cap"]} AS cap,
           {E["lease_seconds"]} AS lease_seconds, {E["offline_grace_seconds"]} AS grace,
           {_USABLE} AS usable
      FROM {E["table"]} e WHERE {_NAMED_E} LIMIT 1
), held AS (
    UPDATE {S["table"]} s SET {S["last_heartbeat_at"]} = %(now)s,
           {S["lease_expires_at"]} = {_lease_end("k.lease_seconds")},
           {S["label"]} = COALESCE(NULLIF(%(label)s::text, ''), s.{S["label"]})
      FROM keyed k
     WHERE k.usable AND s.{S["entitlement"]} = k.id AND s.{S["fingerprint"]} = %(fp)s::text
       AND {_LEASE_RUNNING}
    RETURNING s.{S["id"]} AS id, k.id AS entitlement_id, s.{S["label"]} AS label,
              s.{S["activated_at"]} AS activated_at, s.{S["overdraft"]} AS overdraft,
              s.{S["lease_expires_at"]} AS lease, k.used, k.entitled, k.hard, k.cap,
              k.lease_seconds, k.grace
), took AS (
    UPDATE {E["table"]} e SET {E["seats_used"]} = {E["seats_used"]} + 1
     WHERE e.{E["id"]} = (SELECT id FROM keyed) AND {_USABLE}
       AND {_HAS_ROOM}
       AND NOT EXISTS (SELECT 1 FROM {S["table"]} s
                       WHERE s.{S["entitlement"]} = (SELECT id FROM keyed)
                       AND s.{S["fingerprint"]} = %(fp)s::text AND s.{S["released_at"]} IS NULL)
    RETURNING {_TOOK_COLUMNS},
              {zones.sql_in_overdraft(f"e.{E['seats_used']}", f"e.{E['seats']}")} AS overdraft,
              {_LEASE_END} AS lease, e.{E["lease_seconds"]} AS lease_seconds,
              e.{E["offline_grace_seconds"]} AS grace
), seat AS (
    INSERT INTO {S["table"]} ({S["id"]}, {S["entitlement"]}, {S["fingerprint"]}, {S["label"]},
        {S["activated_at"]}, {S["last_heartbeat_at"]}, {S["lease_expires_at"]},
        {S["released_at"]}, {S["release_reason"]}, {S["overdraft"]})
    SELECT %(sid)s, id, %(fp)s::text, %(label)s::text, %(now)s, %(now)s, lease, NULL, '',
           overdraft FROM took
), base AS (
    SELECT *, {_COMMON_JSON} AS common FROM took
), items AS (
    SELECT 1 AS n, '{Event.Type.SEAT_ACTIVATED.value}' AS kind, id, customer_id,
           common || jsonb_build_object('activation_id', %(sid)s::text,
               'fingerprint', %(fp)s::text, 'label', %(label)s::text, 'overdraft', overdraft)
           AS data
      FROM base{_zone_items(2, "used - 1")}
), events AS ({_EVENTS_INSERT}
), bucket_change AS (
    SELECT id, used AS peak, used, 1 AS activations, overdraft::int AS overdraft_activations,
           0 AS releases FROM took
), bucket AS ({_BUCKET_UPSERT})
SELECT id, used, entitled, hard, cap, overdraft, lease, lease_seconds, grace,
       (SELECT array_agg(seq ORDER BY seq) FROM events), NULL::uuid, NULL, NULL
  FROM took
UNION ALL
SELECT entitlement_id, used, entitled, hard, cap, overdraft, lease, lease_seconds, grace, NULL,
       id, label, activated_at
  FROM held
"""

# Renew a held seat whose lease has not run out, by license key and seat id (heartbeats work
# on suspended entitlements too: docs/decisions.md). Takes no lock on the entitlement row.
HEARTBEAT = f"""
UPDATE {S["table"]} s SET {S["last_heartbeat_at"]} = %(now)s, {S["lease_expires_at"]} = {_LEASE_END}
  FROM {E["table"]} e
 WHERE {_NAMED_E} AND s.{S["id"]} = %(sid)s
   AND s.{S["entitlement"]} = e.{E["id"]} AND {_LEASE_RUNNING}
RETURNING e.{E["id"]}, s.{S["fingerprint"]}, s.{S["label"]}, s.{S["activated_at"]},
          s.{S["overdraft"]}, s.{S["lease_expires_at"]}, e.{E["lease_seconds"]},
          e.{E["offline_grace_seconds"]}, e.{E["seats_used"]}, e.{E["seats"]},
          e.{E["hard_limit"]}, e.{E["customer_cap"]}
"""

# Release a held seat (seat row first, then the entitlement row: services.seats' lock order),
# then seat.released and the zone changes it caused.
RELEASE = f"""
WITH gone AS (
    UPDATE {S["table"]} SET {S["released_at"]} = %(now)s, {S["release_reason"]} = %(reason)s::text
     WHERE {S["id"]} = %(sid)s AND {S["released_at"]} IS NULL AND {S["entitlement"]} =
           (SELECT {E["id"]} FROM {E["table"]} WHERE {_NAMED} LIMIT 1)
    RETURNING {S["entitlement"]} AS entitlement_id, {S["fingerprint"]} AS fingerprint,
              {S["label"]} AS label, {S["overdraft"]} AS overdraft
), took AS (
    UPDATE {E["table"]} e SET {E["seats_used"]} = {E["seats_used"]} - 1 FROM gone
     WHERE e.{E["id"]} = gone.entitlement_id
    RETURNING {_TOOK_COLUMNS}, gone.fingerprint, gone.label, gone.overdraft
), base AS (
    SELECT *, {_COMMON_JSON} AS common FROM took
), items AS (
    SELECT 1 AS n, '{Event.Type.SEAT_RELEASED.value}' AS kind, id, customer_id,
           common || jsonb_build_object('activation_id', %(sid)s::text,
               'fingerprint', fingerprint, 'label', label, 'overdraft', overdraft,
               'reason', %(reason)s::text) AS data
      FROM base{_zone_items(2, "used + 1")}
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
    """Execute one prepared statement (`sql`: one of a few fixed texts, such as this module's);
    inside a transaction, under a savepoint.

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
    text, names = _native.get(sql) or _to_native(sql)
    with connection.wrap_database_errors, psycopg.RawCursor(connection.connection) as cursor:
        cursor.execute(text, [params[name] for name in names], prepare=True)
        return cursor.fetchall()


# psycopg turns `%(name)s` placeholders into PostgreSQL's `$1` on every execute and caches that
# conversion only for statements up to 4 kB, which ACTIVATE is not: each statement is converted
# here once per process, and a RawCursor sends it as it is.
_native: dict[str, tuple[str, tuple[str, ...]]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def _to_native(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with `$n` for each parameter name (one number per name, however often it is
    used), and the names in that order."""
    names: list[str] = []

    def number(placeholder: re.Match[str]) -> str:
        name = placeholder.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    converted = _native[sql] = (_PLACEHOLDER.sub(number, sql), tuple(names))
    return converted


class Activation(NamedTuple):
    """What `activate` did: took a new seat (`created`), or renewed the one the fingerprint
    holds. The seat's row as it now is (but the fingerprint), the entitlement's counts after,
    its terms a lease token needs (licensing.leases.offline_grace), and the seqs of the events
    written (none for a renewal)."""

    created: bool
    seat_id: UUID
    entitlement_id: UUID
    label: str
    activated_at: datetime
    overdraft: bool
    lease_expires_at: datetime | None
    counts: zones.SeatCounts
    lease_seconds: int | None
    offline_grace_seconds: int | None
    seqs: list[int]


def activate(
    *,
    license_key: str,
    seat_id: UUID,
    fingerprint: str,
    label: str,
    now: datetime,
    hour: datetime,
) -> Activation | None:
    """Renew the fingerprint's held seat, or take a new one (with id `seat_id`); None when
    neither applies."""
    rows = run(
        ACTIVATE,
        {"key": license_key, "sid": seat_id, "fp": fingerprint, "label": label, "now": now,
         "hour": hour},
    )  # fmt: skip
    if not rows:
        return None
    (entitlement_id, used, entitled, hard, cap, overdraft, lease, lease_seconds, grace, seqs,
     held_id, held_label, held_since) = rows[0]  # fmt: skip
    return Activation(
        created=held_id is None,
        seat_id=seat_id if held_id is None else held_id,
        entitlement_id=entitlement_id,
        label=label if held_id is None else held_label,
        activated_at=now if held_id is None else held_since,
        overdraft=overdraft,
        lease_expires_at=lease,
        counts=zones.SeatCounts(used, entitled, hard, cap),
        lease_seconds=lease_seconds,
        offline_grace_seconds=grace,
        seqs=list(seqs or []),
    )


class Renewal(NamedTuple):
    """What `heartbeat` renewed: the seat's row as it now is (but its id and last heartbeat),
    the entitlement's terms a lease token needs, and its counts."""

    entitlement_id: UUID
    fingerprint: str
    label: str
    activated_at: datetime
    overdraft: bool
    lease_expires_at: datetime | None
    lease_seconds: int | None
    offline_grace_seconds: int | None
    counts: zones.SeatCounts


def heartbeat(*, license_key: str, seat_id: UUID, now: datetime) -> Renewal | None:
    """Renew a held seat whose lease has not run out, or None."""
    rows = run(HEARTBEAT, {"key": license_key, "sid": seat_id, "now": now})
    if not rows:
        return None
    (entitlement_id, fingerprint, label, activated_at, overdraft, lease, lease_seconds, grace,
     used, entitled, hard, cap) = rows[0]  # fmt: skip
    return Renewal(
        entitlement_id=entitlement_id,
        fingerprint=fingerprint,
        label=label,
        activated_at=activated_at,
        overdraft=overdraft,
        lease_expires_at=lease,
        lease_seconds=lease_seconds,
        offline_grace_seconds=grace,
        counts=zones.SeatCounts(used, entitled, hard, cap),
    )


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
