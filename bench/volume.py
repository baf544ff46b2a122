"""A big vendor's year of data on one PostgreSQL: what grows with it, and what must not.

Run as `bench/volume` (see --help). Starts a PostgreSQL of its own (var/bench/volume-pgdata,
port BENCH_VOLUME_PGPORT, default 25510: tens of gigabytes, which the other benchmarks neither
share nor stop), migrates a fresh database and builds a vendor inside PostgreSQL
(generate_series): customers, products and entitlements with their terms history (a fifth
expanded half-way), the hourly UsageBucket rows of the history (each entitlement changes seats
in `--bucket-density` of its hours, a working day in a time zone of its own; a few large
ones, 5,000 seats, in every hour; a tenth grows into overdraft, some up to the hard limit), the
seats in use, and Event rows spread over the history (seat.activated, seat.released,
seat.denied and zone changes, carrying the `data` the services write), all dispatched but the
newest few. Then it prints:

1. activation cost as the events table grows (`services.seat_activate`, each seat released
   after): with no events, after the first million (or tenth), after all; mean, p50, p99 and the
   database backend's CPU per activation, in rounds; the ratio last / first;
2. the daily rollups (`services.usage_rollups_refresh`, when the code has it): time and rows;
3. chart data on a large entitlement for 24 h / 30 d / 1 y: `selectors.usage_series` (as
   bench/usage) and the entitlement page's whole chart (`usage_history`, `usage_forecast`,
   `usage_chart`), medians;
4. a month's statements for every entitlement (`services.statements_issue_due` at the moment
   the first month of the history has closed);
5. the leads: the ranking (`selectors.ranked_leads`), its first page made whole, the first
   100 (`selectors.expansion_leads()`) and the team's leads page as staff, medians;
6. dropping the oldest month of events (`services.events_prune`), with activations running
   in a thread meanwhile: seconds, events gone, the longest activation during the drop;
7. disk: the database and each table of the domain (partitions summed), and each load phase's
   time.

Figures: JSON on the last line; progress on stderr. The database is dropped at the end;
--keep leaves it, and PostgreSQL, running.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    emit,
    fresh_migrated_database,
    log,
    pg_start,
    pg_stop,
    psql,
    setup_django,
    use_own_cluster,
)
from usage import count_queries, timed

DB = "bench_volume"
PGPORT = int(os.environ.get("BENCH_VOLUME_PGPORT", "25510"))
STAFF_EMAIL = "am@bench.test"

DEFAULTS: Final = {
    "entitlements": 10_000,
    "events": 30_000_000,
    "days": 365,
    "rounds": 5,
    "activations": 100,
    "runs": 9,
}
# The CI smoke size: well under a minute.
SMALL: Final = {
    "entitlements": 50,
    "events": 100_000,
    "days": 60,
    "rounds": 3,
    "activations": 30,
    "runs": 5,
}
# One large entitlement (5,000 seats, a seat change every hour) per this many, at least one.
ENTITLEMENTS_PER_LARGE: Final = 2000
# The share of the events that fall on the large entitlements.
LARGE_EVENT_SHARE: Final = 0.05
# Events inserted per statement; the activation cost is measured after the first such chunk.
EVENT_CHUNK: Final = 1_000_000
# Days of buckets inserted per statement (in hour order, as the services write them).
BUCKET_CHUNK_DAYS: Final = 7
# The newest events are left undispatched, as the outbox would find them.
UNDISPATCHED: Final = 5
# Entitlements the measured activations go round (normal ones, with room below the limit).
ACTIVATION_TARGETS: Final = 20

# --- the vendor's data, built in SQL ------------------------------------------------------------
#
# Every row below is a function of an entitlement's number n (1..N) and an hour h of the
# history (0: its first hour), so any chunk of any table can be computed without reading
# another. The statements take parameters (`%(name)s`), so they use mod() rather than `%`.

# A number in [0, 1) fixed by its argument.
UNIT_SQL: Final = """
CREATE FUNCTION bench_unit(x bigint) RETURNS float8 IMMUTABLE LANGUAGE sql
AS $$ SELECT (hashint8(x) & 2147483647)::float8 / 2147483648 $$
"""

# The model of each entitlement: the ids of its rows, its lines before and after its terms
# change (a fifth expand by 20% half-way), and its demand: from `lo` to `hi` times its first
# seats over the history, in a working day of `win` hours starting at `tz` (UTC), every hour
# for the large ones. A tenth (n mod 10 = 3) grow into overdraft, a tenth (7) have no limit.
MODEL_SQL: Final = """
CREATE TABLE bench_volume_entitlement AS
SELECT n, gen_random_uuid() AS id, c, md5('bench-customer-' || c)::uuid AS customer_id,
       p, md5('bench-product-' || p)::uuid AS product_id, large, seats0, hard0,
       CASE WHEN expanded THEN seats0 + seats0 / 5 ELSE seats0 END AS seats1,
       CASE WHEN expanded THEN hard0 + hard0 / 5 ELSE hard0 END AS hard1,
       CASE WHEN expanded THEN %(hours)s / 2 END AS change_hour,
       CASE WHEN large THEN 0.8 WHEN mod(n, 10) = 3 THEN 0.7 ELSE 0.4 END::float8 AS lo,
       CASE WHEN large THEN 1.02 WHEN mod(n, 10) = 3 THEN 1.3 ELSE 0.85 END::float8 AS hi,
       CASE WHEN large THEN 24 ELSE %(window)s END AS win,
       mod(n, 24) AS tz,
       mod(n, 4) * 50 AS free_overdraft_seat_hours,
       0 AS used
  FROM (SELECT *, CASE WHEN large THEN 6000 WHEN mod(n, 10) = 7 THEN NULL
                       ELSE seats0 + greatest(1, seats0 / 5) END AS hard0
          FROM (SELECT n, (n + 1) / 2 AS c, mod(n, 5) + 1 AS p, n <= %(large)s AS large,
                       n > %(large)s AND mod(n, 5) = 0 AS expanded,
                       CASE WHEN n <= %(large)s THEN 5000
                            ELSE 10 + (bench_unit(n) * 190)::int END AS seats0
                  FROM generate_series(1, %(entitlements)s) AS n) AS drawn) AS lined
"""

# Functions of the model (they take its row type, so they come after the table).
MODEL_FUNCTIONS_SQL: Final = [
    "ALTER TABLE bench_volume_entitlement ADD PRIMARY KEY (n)",
    # The lines in force in hour h.
    """CREATE FUNCTION bench_seats(e bench_volume_entitlement, h int) RETURNS int
       IMMUTABLE LANGUAGE sql
       AS $$ SELECT CASE WHEN h >= e.change_hour THEN e.seats1 ELSE e.seats0 END $$""",
    """CREATE FUNCTION bench_hard_limit(e bench_volume_entitlement, h int) RETURNS int
       IMMUTABLE LANGUAGE sql
       AS $$ SELECT CASE WHEN h >= e.change_hour THEN e.hard1 ELSE e.hard0 END $$""",
    # Seats wanted at the busiest moment of active hour h (none before the history): the
    # trend, a daily noise, and the working day's hump.
    """CREATE FUNCTION bench_wanted(e bench_volume_entitlement, h int, hours int) RETURNS int
       IMMUTABLE LANGUAGE sql
       AS $$ SELECT CASE WHEN h < 0 THEN 0 ELSE round(
                e.seats0 * (e.lo + (e.hi - e.lo) * h / hours)
                * (0.9 + 0.2 * bench_unit(e.n * 100000::bigint + h / 24))
                * (0.35 + 0.65 * sin(pi() * (mod(h + e.tz, 24) + 1) / (e.win + 1))))::int
             END $$""",
    # Seats in use at the end of active hour h: what was wanted, up to the hard limit (LEAST
    # skips a NULL: no limit).
    """CREATE FUNCTION bench_level(e bench_volume_entitlement, h int, hours int) RETURNS int
       IMMUTABLE LANGUAGE sql
       AS $$ SELECT least(bench_wanted(e, h, hours), bench_hard_limit(e, h)) $$""",
    # The active hour before active hour h: the one before, or the previous day's last.
    """CREATE FUNCTION bench_previous_active(e bench_volume_entitlement, h int) RETURNS int
       IMMUTABLE LANGUAGE sql
       AS $$ SELECT CASE WHEN mod(h + e.tz, 24) = 0 THEN h - 1 - (24 - e.win) ELSE h - 1 END $$""",
    # The latest active hour at or before h.
    """CREATE FUNCTION bench_last_active(e bench_volume_entitlement, h int) RETURNS int
       IMMUTABLE LANGUAGE sql
       AS $$ SELECT CASE WHEN mod(h + e.tz, 24) < e.win THEN h
                         ELSE h - (mod(h + e.tz, 24) - e.win + 1) END $$""",
]

CATALOGUE_SQL: Final = [
    """UPDATE bench_volume_entitlement e
          SET used = bench_level(e, bench_last_active(e, %(hours)s - 1), %(hours)s)""",
    """INSERT INTO licensing_customer (id, name, slug, account_manager_id, created_at)
       SELECT DISTINCT ON (c) customer_id, 'Bench Customer ' || lpad(c::text, 5, '0'),
              'bench-customer-' || lpad(c::text, 5, '0'), NULL, %(start)s
         FROM bench_volume_entitlement ORDER BY c""",
    """INSERT INTO licensing_product (id, name, code, created_at)
       SELECT DISTINCT ON (p) product_id, 'Bench Product ' || p, 'bench-product-' || p,
              %(start)s
         FROM bench_volume_entitlement ORDER BY p""",
    """INSERT INTO licensing_entitlement (id, customer_id, product_id, license_key,
           previous_license_key, previous_key_valid_until, seats, hard_limit, lease_seconds,
           customer_cap, status, starts_at, ends_at, billing_period, free_overdraft_seat_hours,
           offline_grace_seconds, seats_held_over, seats_used, created_at, updated_at)
       SELECT id, customer_id, product_id, 'VOLUME-' || lpad(n::text, 8, '0'), NULL, NULL,
              seats1, hard1, NULL, NULL, %(status)s, %(start)s, NULL, %(period)s,
              free_overdraft_seat_hours, NULL, NULL, used, %(start)s,
              %(start)s + coalesce(change_hour, 0) * interval '1 hour'
         FROM bench_volume_entitlement ORDER BY n""",
    """INSERT INTO licensing_entitlementterms (entitlement_id, effective_from, seats, hard_limit,
           lease_seconds, customer_cap, status, starts_at, ends_at, billing_period,
           free_overdraft_seat_hours, offline_grace_seconds, changed_by)
       SELECT id, %(start)s, seats0, hard0, NULL::int, NULL::int, %(status)s, %(start)s,
              NULL::timestamptz, %(period)s, free_overdraft_seat_hours, NULL::int, %(system)s
         FROM bench_volume_entitlement
       UNION ALL
       SELECT id, %(start)s + change_hour * interval '1 hour', seats1, hard1, NULL, NULL,
              %(status)s, %(start)s, NULL, %(period)s, free_overdraft_seat_hours, NULL,
              %(staff)s
         FROM bench_volume_entitlement WHERE change_hour IS NOT NULL""",
    # The seats in use at the end, each held since some hour of the last three days.
    """INSERT INTO licensing_seat (id, entitlement_id, fingerprint, label, activated_at,
           last_heartbeat_at, lease_expires_at, released_at, release_reason, overdraft)
       SELECT gen_random_uuid(), e.id, 'host-' || e.n || '-' || i, 'Workstation ' || i,
              %(end)s::timestamptz - (1 + mod(i, 72)) * interval '1 hour',
              %(end)s::timestamptz - (1 + mod(i, 72)) * interval '1 hour',
              NULL, NULL, '', {seat_overdraft}
         FROM bench_volume_entitlement e, generate_series(1, e.used) AS i""",
]

# Every active hour of every entitlement in hours first..last, in hour order (as the services
# write them: one entitlement's year is spread over the table). Within an hour some seats are
# released first (`churn`) and as many taken again, on top of the change of level.
BUCKETS_SQL: Final = """
INSERT INTO licensing_usagebucket (entitlement_id, hour, peak_used, closing_used, activations,
    overdraft_activations, denials, releases)
SELECT id, %(start)s::timestamptz + h * interval '1 hour', greatest(before, closing), closing,
       greatest(closing - before, 0) + churn,
       greatest(0, least(greatest(closing - before, 0) + churn, greatest(before, closing) - seats)),
       CASE WHEN wanted > hard THEN wanted - hard ELSE 0 END,
       greatest(before - closing, 0) + churn
  FROM (SELECT *, least(before, closing, floor(
                    bench_unit(n * 100000::bigint + h + 7) * (1 + closing / 10.0))::int) AS churn
          FROM (SELECT e.n, e.id, h, bench_wanted(e, h, %(hours)s) AS wanted,
                       bench_level(e, h, %(hours)s) AS closing,
                       bench_level(e, bench_previous_active(e, h), %(hours)s) AS before,
                       bench_seats(e, h) AS seats, bench_hard_limit(e, h) AS hard
                  FROM generate_series(%(first)s, %(last)s) AS h
                 CROSS JOIN bench_volume_entitlement e
                 WHERE mod(h + e.tz, 24) < e.win) AS active) AS b
 ORDER BY h, n
"""

# entitlement.created, as entitlement_create writes it (the entitlement's `data` and its terms).
CREATED_EVENTS_SQL: Final = """
INSERT INTO licensing_event (public_id, type, entitlement_id, customer_id, occurred_at, data,
                             dispatched_at)
SELECT gen_random_uuid(), %(created)s, id, customer_id, %(start)s,
       {common} || jsonb_build_object('changes', jsonb_build_object(
           'seats', entitled, 'hard_limit', hard, 'customer_cap', NULL, 'lease_seconds', NULL,
           'status', %(status)s, 'starts_at', %(start)s, 'ends_at', NULL,
           'billing_period', %(period)s,
           'free_overdraft_seat_hours', free_overdraft_seat_hours,
           'offline_grace_seconds', NULL)),
       %(start)s
  FROM (SELECT id, customer_id, product_id, 0 AS used, seats0 AS entitled, hard0 AS hard,
               NULL::int AS cap, free_overdraft_seat_hours
          FROM bench_volume_entitlement ORDER BY n) AS e
"""

# Events first..last of `events`, evenly spread from `start` over `span`: mostly activations
# and releases, a twentieth denials, a hundredth zone changes; a twentieth of them on the large
# entitlements. Their `data` is the services' (`common`: licensing.statements), with the seat
# counts of some moment.
EVENTS_SQL: Final = """
INSERT INTO licensing_event (public_id, type, entitlement_id, customer_id, occurred_at, data,
                             dispatched_at)
SELECT gen_random_uuid(), kind, id, customer_id, t,
       {common} || CASE kind
         WHEN %(activated)s THEN jsonb_build_object('activation_id', gen_random_uuid()::text,
             'fingerprint', fingerprint, 'label', label, 'overdraft', {activated_overdraft})
         WHEN %(released)s THEN jsonb_build_object('activation_id', gen_random_uuid()::text,
             'fingerprint', fingerprint, 'label', label, 'overdraft', {released_overdraft},
             'reason', %(reason)s)
         WHEN %(denied)s THEN jsonb_build_object('fingerprint', fingerprint, 'label', label,
             'code', %(code)s)
         ELSE '{{}}'::jsonb END,
       CASE WHEN i <= %(events)s - %(undispatched)s THEN t + interval '1 second' END
  FROM (SELECT i, t, kind, e.id, e.customer_id, e.product_id, e.seats1 AS entitled,
               e.hard1 AS hard, NULL::int AS cap,
               CASE WHEN kind = %(denied)s THEN coalesce(e.hard1, e.seats1)
                    ELSE (bench_unit(i + 2) * coalesce(e.hard1, e.seats1 + e.seats1 / 5))::int
               END AS used,
               'host-' || e.n || '-' || mod(i, 997) AS fingerprint,
               'Workstation ' || mod(i, 997) AS label
          FROM (SELECT i,
                       %(start)s::timestamptz
                           + ((i - 0.5) / %(events)s)::float8 * %(span)s::interval AS t,
                       CASE WHEN mod(i, 100) < 47 THEN %(activated)s
                            WHEN mod(i, 100) < 94 THEN %(released)s
                            WHEN mod(i, 100) < 99 THEN %(denied)s
                            WHEN mod(i / 100, 2) = 0 THEN %(overdraft_started)s
                            ELSE %(overdraft_ended)s END AS kind,
                       CASE WHEN bench_unit(i) < %(large_share)s THEN 1 + mod(i, %(large)s)
                            ELSE %(large)s + 1
                                 + mod((bench_unit(i + 1) * %(normal)s)::bigint, %(normal)s)
                       END AS n
                  FROM generate_series(%(first)s::bigint, %(last)s) AS i) AS g
          JOIN bench_volume_entitlement e USING (n)) AS x
"""


@dataclasses.dataclass(frozen=True)
class Size:
    entitlements: int
    events: int
    days: int
    bucket_density: float

    @property
    def large(self) -> int:
        return max(1, self.entitlements // ENTITLEMENTS_PER_LARGE)

    @property
    def hours(self) -> int:
        return self.days * 24

    @property
    def window(self) -> int:
        """Active hours a day of a normal entitlement."""
        return min(24, max(1, round(24 * self.bucket_density)))


def execute(sql: str, params: dict[str, Any] | None = None) -> int:
    """Run one statement on Django's connection (autocommit); the rows it wrote."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return int(cursor.rowcount)


def common_json() -> str:
    # The `data` every event of an entitlement carries, as the activation statement builds it.
    from licensing.statements import _COMMON_JSON

    return _COMMON_JSON


def overdraft_sql() -> dict[str, str]:
    """The `overdraft` flags of the rows built, by the zone rule (licensing.zones): a seat
    taken above the entitled seats; an activation leaving the level above them; a release from
    a level above them (the level before it is one more)."""
    from licensing import zones

    return {
        "seat_overdraft": zones.sql_in_overdraft("i", "e.seats1"),
        "activated_overdraft": zones.sql_in_overdraft("used", "entitled"),
        "released_overdraft": zones.sql_in_overdraft("used + 1", "entitled"),
    }


class Loader:
    """Builds the vendor's data, in time order, `jobs` statements at a time; `seconds` holds
    each phase's time, `rows` what it wrote."""

    def __init__(self, size: Size, start: datetime, end: datetime, jobs: int) -> None:
        self.size, self.start, self.end, self.jobs = size, start, end, jobs
        self.seconds: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        self.events_loaded = 0

    def _phase(self, name: str, began: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - began, 1)

    def catalogue(self) -> None:
        from licensing import services
        from licensing.models import BillingPeriod, Entitlement, Event

        began = time.monotonic()
        size = self.size
        execute(UNIT_SQL)
        execute(
            MODEL_SQL,
            {
                "entitlements": size.entitlements,
                "large": size.large,
                "hours": size.hours,
                "window": size.window,
            },
        )
        for sql in MODEL_FUNCTIONS_SQL:
            execute(sql)
        params = {
            "start": self.start,
            "end": self.end,
            "hours": size.hours,
            "status": Entitlement.Status.ACTIVE.value,
            "period": BillingPeriod.MONTHLY.value,
            "system": services.SYSTEM.label,
            "staff": STAFF_EMAIL,
        }
        counts = [execute(sql.format(**overdraft_sql()), params) for sql in CATALOGUE_SQL]
        self.rows.update(
            customers=counts[1], entitlements=counts[3], terms=counts[4], seats_in_use=counts[5]
        )
        created = CREATED_EVENTS_SQL.format(common=common_json())
        self.events_loaded += execute(
            created, {**params, "created": Event.Type.ENTITLEMENT_CREATED.value}
        )
        self._phase("catalogue", began)
        log(
            f"bench: {counts[3]:,} entitlements of {counts[1]:,} customers, {counts[4]:,} terms,"
            f" {counts[5]:,} seats in use ({self.seconds['catalogue']} s)"
        )

    def _chunks(self, phase: str, sql: str, chunks: list[dict[str, Any]]) -> int:
        """Run `sql` once per chunk's parameters, `jobs` at a time (one connection each), in
        order of start; the rows written."""
        from django.db import connection

        began = time.monotonic()
        written = 0

        def run(params: dict[str, Any]) -> int:
            try:
                return execute(sql, params)
            finally:
                connection.close()  # this worker thread's

        with ThreadPoolExecutor(self.jobs) as pool:
            for rows in pool.map(run, chunks):
                written += rows
                log(f"bench: {phase}: {written:,} rows ({time.monotonic() - began:.0f} s)")
        self._phase(phase, began)
        return written

    def buckets(self) -> None:
        step = BUCKET_CHUNK_DAYS * 24
        hours = self.size.hours
        chunks = [
            {"start": self.start, "hours": hours, "first": h, "last": min(h + step, hours) - 1}
            for h in range(0, hours, step)
        ]
        self.rows["usage_buckets"] = self._chunks("buckets", BUCKETS_SQL, chunks)

    def events(self, first: int, last: int) -> None:
        """Seat events first..last (numbered from 1) of `size.events`."""
        from licensing.models import Event, Seat
        from licensing.zones import HARD_LIMIT_CODE

        size = self.size
        params = {
            "start": self.start,
            "span": self.end - self.start,
            "events": size.events,
            "undispatched": UNDISPATCHED,
            "large": size.large,
            "normal": size.entitlements - size.large,
            "large_share": LARGE_EVENT_SHARE,
            "activated": Event.Type.SEAT_ACTIVATED.value,
            "released": Event.Type.SEAT_RELEASED.value,
            "denied": Event.Type.SEAT_DENIED.value,
            "overdraft_started": Event.Type.OVERDRAFT_STARTED.value,
            "overdraft_ended": Event.Type.OVERDRAFT_ENDED.value,
            "reason": Seat.ReleaseReason.RELEASED.value,
            "code": HARD_LIMIT_CODE,
        }
        chunks = [
            {**params, "first": lo, "last": min(lo + EVENT_CHUNK - 1, last)}
            for lo in range(first, last + 1, EVENT_CHUNK)
        ]
        sql = EVENTS_SQL.format(common=common_json(), **overdraft_sql())
        self.events_loaded += self._chunks("events", sql, chunks)

    def vacuum(self) -> None:
        """VACUUM ANALYZE, as autovacuum would have by then (plans and visibility maps fit the
        tables, and autovacuum has nothing left to do while figures are taken), then a
        checkpoint: the load's writes are on disk, not flushed under the figures."""
        began = time.monotonic()
        psql("VACUUM (ANALYZE)", DB)
        psql("CHECKPOINT", DB)
        self._phase("vacuum", began)


def event_months(start: datetime, end: datetime) -> None:
    """Where the events table is partitioned by month (licensing.partitions), the months of the
    history are created before it is loaded, as the daily job would have created each ahead of
    its time; loaded first, they would all fill the default partition."""
    from licensing import partitions

    months = (end.year - start.year) * 12 + end.month - start.month
    created = partitions.ensure(now=start, ahead=months)
    log(f"bench: {len(created)} event partitions created")


# --- activations ---------------------------------------------------------------------------------


def backend_cpu_ns(pid: int) -> int:
    """CPU nanoseconds a PostgreSQL backend has used (the scheduler's exact figure)."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def activation_targets() -> list[Any]:
    from licensing.models import Entitlement

    ids = [
        row[0]
        for row in query(
            "SELECT id FROM bench_volume_entitlement"
            " WHERE NOT large AND (hard1 IS NULL OR used < hard1) ORDER BY n LIMIT %s",
            [ACTIVATION_TARGETS],
        )
    ]
    return list(Entitlement.objects.filter(pk__in=ids).order_by("pk"))


def query(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def activate(entitlement: Any) -> Any:
    """A new seat on `entitlement`, through the service the client API calls."""
    from licensing import services

    result = services.seat_activate(entitlement=entitlement, fingerprint=f"bench-{uuid.uuid4()}")
    if not result.granted or result.seat is None:
        raise SystemExit(f"activation on {entitlement.pk} denied: {result.message}")
    return result.seat


def release(entitlement: Any, seat: Any) -> None:
    """Give the seat back, so the entitlement never fills (untimed)."""
    from licensing import services

    services.seat_release(entitlement=entitlement, seat_id=seat.pk)


def activation_cost(targets: list[Any], rounds: int, per_round: int) -> dict[str, Any]:
    """`rounds` rounds of `per_round` activations on a new connection (its statements planned
    against the tables as they are now): wall time and the backend's CPU per activation."""
    from django.db import connection

    connection.close()
    (pid,) = query("SELECT pg_backend_pid()")[0]
    for n in range(10):  # prepares the statements
        release(targets[n % len(targets)], activate(targets[n % len(targets)]))
    wall: list[float] = []
    cpu: list[float] = []
    round_means: list[float] = []
    for _ in range(rounds):
        this_round = []
        for n in range(per_round):
            entitlement = targets[n % len(targets)]
            cpu_before, began = backend_cpu_ns(pid), time.perf_counter()
            seat = activate(entitlement)
            this_round.append((time.perf_counter() - began) * 1000)
            cpu.append((backend_cpu_ns(pid) - cpu_before) / 1e6)
            release(entitlement, seat)
        wall += this_round
        round_means.append(statistics.fmean(this_round))
    return {
        "activations": len(wall),
        "mean_ms": round(statistics.fmean(wall), 3),
        "p50_ms": round(statistics.median(wall), 3),
        "p99_ms": round(statistics.quantiles(wall, n=100)[98], 3),
        "round_means_ms": [round(m, 3) for m in round_means],
        # The least disturbed round, on a machine others share.
        "best_round_ms": round(min(round_means), 3),
        "db_cpu_ms": round(statistics.fmean(cpu), 3),
    }


def ratio(activation: dict[str, Any], figure: str) -> float:
    return round(activation["last"][figure] / activation["first"][figure], 3)


class Activations(threading.Thread):
    """Activations in a loop on a connection of their own, each one's start and end noted."""

    def __init__(self, targets: list[Any]) -> None:
        super().__init__(daemon=True)
        self.targets = targets
        self.spans: list[tuple[float, float]] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            n = 0
            while not self._halt.is_set():
                entitlement = self.targets[n % len(self.targets)]
                began = time.perf_counter()
                seat = activate(entitlement)
                self.spans.append((began, time.perf_counter()))
                release(entitlement, seat)
                n += 1
        except BaseException as error:  # reported by the main thread
            self.error = error
        finally:
            connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        if self.error is not None:
            raise self.error

    def during(self, began: float, ended: float) -> list[float]:
        """Milliseconds of the activations that ran at some moment between `began` and
        `ended`."""
        return [(e - b) * 1000 for b, e in self.spans if b < ended and e > began]


# --- what is measured after the load -------------------------------------------------------------


def rollups() -> dict[str, Any]:
    """The daily rollups brought up to date once (every day of the history: the first run)."""
    from licensing import services

    began = time.monotonic()
    rows = services.usage_rollups_refresh()
    return {"seconds": round(time.monotonic() - began, 2), "rows": rows}


def charts(entitlement: Any, runs: int) -> dict[str, Any]:
    """The chart data of a large entitlement: the series (bench/usage's figure) and the page's
    whole chart (history, forecast, usage_chart)."""
    from django.db import connection
    from django.utils import timezone

    from licensing import selectors

    figures = {}
    for key in ("24h", "30d", "1y"):
        usage_range = selectors.USAGE_RANGES[key]

        def data(usage_range: Any = usage_range) -> Any:
            start, end = usage_range.bounds(timezone.now())
            return selectors.usage_series(
                entitlement, start=start, end=end, bucket=usage_range.bucket
            )

        def chart(usage_range: Any = usage_range) -> Any:
            start, end = usage_range.bounds(timezone.now())
            usage = selectors.usage_history(
                entitlement, start=start, end=end, bucket=usage_range.bucket
            )
            forecast = selectors.usage_forecast(entitlement, now=usage.as_of, terms=usage.terms)
            return selectors.usage_chart(usage, forecast)

        with count_queries(connection) as chart_queries:
            points = len(chart()["points"])
        figures[key] = {
            "points": points,
            "data_ms": timed(data, runs),
            "chart_ms": timed(chart, runs),
            "chart_queries": chart_queries[0],
        }
        log(f"bench: chart {key}: {figures[key]}")
    return figures


def statements(entitlement: Any) -> dict[str, Any]:
    """Every entitlement's statement of the first month of the history, issued by the hourly
    job run just after it closed (the entitlements all start with the history)."""
    from licensing import billing, services
    from licensing.services.billing import SETTLE

    closed = billing.first_period(entitlement).end + SETTLE
    began = time.monotonic()
    issued = services.statements_issue_due(now=closed)
    seconds = time.monotonic() - began
    log(f"bench: {issued:,} statements in {seconds:.1f} s")
    return {
        "issued": issued,
        "seconds": round(seconds, 2),
        "ms_per_entitlement": round(seconds * 1000 / max(issued, 1), 2),
    }


def leads(runs: int) -> dict[str, Any]:
    """The leads, from the selector and as the team's page (staff, Django's test client)."""
    from django.test import Client

    from licensing import selectors
    from portal.models import User
    from portal.team_views import PAGE_SIZE

    # The page is served without collectstatic's folder, as in the tests.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    client = Client()
    client.force_login(
        User.objects.create_user(STAFF_EMAIL, None, name="Bench Manager", is_staff=True)
    )

    def page() -> Any:
        response = client.get("/team/leads/", secure=True)
        if response.status_code != 200:
            raise SystemExit(f"/team/leads/ answered {response.status_code}")
        return response

    def first_page() -> Any:
        return selectors.ranked_leads()[:PAGE_SIZE]

    runs = max(3, runs // 3)
    figures = {
        "leads": len(selectors.ranked_leads()),
        # What the page computes: the ranking, and its first page of leads made whole.
        "selector_ms": timed(first_page, runs),
        "ranking_ms": timed(selectors.ranked_leads, runs),
        # The first 100 leads made whole (`expansion_leads()`, the figure of runs before).
        "top_100_ms": timed(selectors.expansion_leads, runs),
        "page_ms": timed(page, runs),
    }
    log(f"bench: leads: {figures}")
    return figures


def month_nearest(moment: datetime) -> datetime:
    """The start of the UTC month nearest to `moment`."""
    month = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (month + timedelta(days=32)).replace(day=1)
    return month if moment - month < following - moment else following


def drop_oldest_month(start: datetime, targets: list[Any]) -> dict[str, Any]:
    """`events_prune` with the cutoff at the UTC month's start nearest to a month after the
    history's (what a table partitioned by UTC month can drop whole: 15 to 46 days of events),
    while activations run in a thread: how long, how many events, how long activations
    waited."""
    from django.utils import timezone

    from licensing import services

    cutoff = month_nearest(start + timedelta(days=30))
    load = Activations(targets)
    load.start()
    time.sleep(1.0)  # activations under way before the drop
    now = timezone.now()
    began = time.perf_counter()
    events = services.events_prune(older_than=now - cutoff, now=now)
    ended = time.perf_counter()
    time.sleep(0.5)
    load.stop()
    during = load.during(began, ended)
    figures = {
        "cutoff": cutoff.isoformat(),
        "days": round((cutoff - start).total_seconds() / 86400, 1),
        "events": events,
        "seconds": round(ended - began, 3),
        "activations_during": len(during),
        "max_activation_ms_during": round(max(during), 1) if during else None,
        "p50_activation_ms_during": round(statistics.median(during), 1) if during else None,
    }
    log(f"bench: drop of the oldest month: {figures}")
    return figures


def disk() -> dict[str, Any]:
    """Megabytes on disk: the database, and each table of the domain with its indexes, TOAST
    and partitions."""
    from django.apps import apps

    from licensing.models import Event, UsageBucket

    def mb(size: int) -> float:
        return round(size / 2**20, 1)

    tables = {}
    for model in apps.get_app_config("licensing").get_models():
        table = model._meta.db_table
        ((size,),) = query(  # a partitioned table's own size is 0: its partitions hold it
            "SELECT coalesce(pg_total_relation_size(r) + (SELECT coalesce(sum("
            "pg_total_relation_size(relid)), 0) FROM pg_partition_tree(r) WHERE relid <> r), 0)"
            " FROM to_regclass(%s) AS r",
            [table],
        )
        tables[table] = mb(int(size))
    ((database,),) = query("SELECT pg_database_size(current_database())")
    return {
        "database": mb(int(database)),
        "events": tables[Event._meta.db_table],
        "usage_buckets": tables[UsageBucket._meta.db_table],
        # The daily rollups (UsageDay), where the code has them.
        "usage_days": tables.get("licensing_usageday"),
        "tables": dict(sorted(tables.items(), key=lambda item: -item[1])),
    }


# --- the run -------------------------------------------------------------------------------------


def sizes_from(args: argparse.Namespace) -> argparse.Namespace:
    defaults = SMALL if args.small else DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.entitlements < 2 or args.days < 60 or args.events < UNDISPATCHED:
        raise SystemExit("needs at least 2 entitlements, 60 days and a few events")
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the CI smoke size (see SMALL)")
    parser.add_argument("--entitlements", type=int, help="entitlements (default 10,000)")
    parser.add_argument("--events", type=int, help="seat events (default 30,000,000)")
    parser.add_argument("--days", type=int, help="days of history (default 365)")
    parser.add_argument(
        "--bucket-density",
        type=float,
        default=0.5,
        help="share of a normal entitlement's hours with a seat change (default 0.5)",
    )
    parser.add_argument("--rounds", type=int, help="rounds of activations per measure")
    parser.add_argument("--activations", type=int, help="activations per round")
    parser.add_argument("--runs", type=int, help="timed runs per chart and leads figure")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="statements loading at once (default: the CPU count)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and PostgreSQL")
    args = sizes_from(parser.parse_args())
    size = Size(args.entitlements, args.events, args.days, args.bucket_density)

    use_own_cluster("volume", PGPORT)
    pg_start()
    try:
        figures = run(size, args)
    finally:
        if not args.keep:
            psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            pg_stop()
    emit(figures)


def run(size: Size, args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    fresh_migrated_database(DB)
    migrated = round(time.monotonic() - began, 1)
    # A broker as in production (kombu's in-memory one, which no worker reads): the outbox's
    # fan-out is queued, not run inside each activation and statement as without one.
    setup_django(DB, CELERY_BROKER_URL="memory://localhost/", REDIS_URL="", DATABASE_POOL="0")

    from django.utils import timezone

    from licensing.history import floor_hour
    from licensing.models import Entitlement

    end = floor_hour(timezone.now())
    start = end - timedelta(days=size.days)
    loader = Loader(size, start, end, args.jobs)
    loader.seconds["migrate"] = migrated
    event_months(start, end)
    loader.catalogue()
    loader.buckets()
    loader.vacuum()
    targets = activation_targets()
    activation = {"empty": activation_cost(targets, args.rounds, args.activations)}
    log(f"bench: activations, no events: {activation['empty']}")
    first = min(EVENT_CHUNK, max(1, size.events // 10))
    loader.events(1, first)
    loader.vacuum()
    activation["first"] = activation_cost(targets, args.rounds, args.activations)
    activation["first"]["events"] = loader.events_loaded
    log(f"bench: activations, {loader.events_loaded:,} events: {activation['first']}")
    loader.events(first + 1, size.events)
    loader.vacuum()
    rolled_up = rollups()
    log(f"bench: rollups: {rolled_up}")
    loader.vacuum()
    space = disk()
    log(f"bench: disk: {space}")
    activation["last"] = activation_cost(targets, args.rounds, args.activations)
    activation["last"]["events"] = loader.events_loaded
    log(f"bench: activations, {loader.events_loaded:,} events: {activation['last']}")
    activation["ratio_last_first"] = ratio(activation, "mean_ms")
    activation["p50_ratio_last_first"] = ratio(activation, "p50_ms")
    activation["best_round_ratio_last_first"] = ratio(activation, "best_round_ms")
    activation["db_cpu_ratio_last_first"] = ratio(activation, "db_cpu_ms")

    (large_id,) = query("SELECT id FROM bench_volume_entitlement WHERE large ORDER BY n LIMIT 1")[0]
    large = Entitlement.objects.select_related("customer", "product").get(pk=large_id)
    chart = charts(large, args.runs)
    issued = statements(large)
    leads_figures = leads(args.runs)
    dropped = drop_oldest_month(start, targets)
    return {
        "benchmark": "volume",
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "size": {
            **dataclasses.asdict(size),
            "large_entitlements": size.large,
            "history": [start.isoformat(), end.isoformat()],
            **loader.rows,
            "events_total": loader.events_loaded,
        },
        "load_s": loader.seconds,
        "activation": activation,
        "rollups": rolled_up,
        "chart": chart,
        "statements": issued,
        "leads": leads_figures,
        "drop_month": dropped,
        "disk_mb": space,
        "targets": {
            "activation_ratio_last_first": "<= 1.2",
            "chart_ms": "< 20",
            "leads_page_ms": "< 300",
            "statements_for_10000_s": "< 120",
            "drop_month_s": "< 1, no long lock",
        },
        "elapsed_s": round(time.monotonic() - began, 1),
    }


if __name__ == "__main__":
    main()
