"""Chart data and the entitlement page with 20 thousand and with 2 million events of history.

Run as `bench/usage` (see --help). Starts its own PostgreSQL (var/bench/), builds two
entitlements of the same customer with 400 days of history each (hourly UsageBucket rows for
every hour, Event rows and released Seat rows generated inside PostgreSQL), then times
`licensing.selectors.usage_series` for 24 h, 30 d and 1 y and the customer entitlement page
(`/c/<slug>/entitlements/<uuid>/`, Django's test client, logged in as a customer admin) for
both, and prints medians and the ratio large/small. Figures: JSON on the last line.

The database is kept between runs (rebuilt when the sizes change or with --rebuild).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    database_exists,
    emit,
    fresh_migrated_database,
    log,
    median,
    pg_start,
    pg_stop,
    psql,
    setup_django,
)

DB = "bench_usage"
HISTORY_DAYS = 400
EMAIL = "admin@bench.test"

# Events spread evenly over the history; every 25th is a denial, the rest alternate activation /
# release (`%%` is SQL's modulo, escaped for the parameters). Seat levels follow a daily cycle
# that peaks in overdraft.
EVENTS_SQL = """
INSERT INTO licensing_event (public_id, type, entitlement_id, customer_id, occurred_at, data,
                             dispatched_at)
SELECT gen_random_uuid(),
       CASE WHEN i %% 25 = 0 THEN 'seat.denied'
            WHEN i %% 2 = 0 THEN 'seat.activated' ELSE 'seat.released' END,
       %(ent)s, %(cust)s, t,
       jsonb_build_object(
         'entitlement_id', %(ent)s::text, 'customer_id', %(cust)s::text,
         'product_id', %(prod)s::text,
         'seats', jsonb_build_object('used', 100 + i %% 21, 'entitled', 100, 'hard_limit', 120,
                                     'available', 20 - i %% 21),
         'activation_id', gen_random_uuid()::text, 'fingerprint', 'host-' || (i %% 997),
         'label', 'Workstation ' || (i %% 997), 'overdraft', i %% 21 > 0),
       t + interval '1 second'
FROM (SELECT i, %(start)s::timestamptz + (i::float8 / %(n)s) * %(days)s * interval '1 day' AS t
      FROM generate_series(1, %(n)s) AS i) AS g
"""

SEATS_SQL = """
INSERT INTO licensing_seat (id, entitlement_id, fingerprint, label, activated_at,
                            last_heartbeat_at, lease_expires_at, released_at, release_reason,
                            overdraft)
SELECT gen_random_uuid(), %(ent)s, 'host-' || (i %% 997), 'Workstation ' || (i %% 997), t, t,
       NULL, t + interval '3 hours', 'released', i %% 21 > 0
FROM (SELECT i, %(start)s::timestamptz + (i::float8 / %(n)s) * %(days)s * interval '1 day' AS t
      FROM generate_series(1, %(n)s) AS i) AS g
"""

IN_USE_SQL = """
INSERT INTO licensing_seat (id, entitlement_id, fingerprint, label, activated_at,
                            last_heartbeat_at, lease_expires_at, released_at, release_reason,
                            overdraft)
SELECT gen_random_uuid(), %(ent)s, 'in-use-' || i, 'Laptop ' || i, now() - i * interval '1 minute',
       now(), NULL, NULL, '', i > 100
FROM generate_series(1, 110) AS i
"""

BUCKETS_SQL = """
INSERT INTO licensing_usagebucket (entitlement_id, hour, peak_used, closing_used, activations,
                                   overdraft_activations, denials, releases)
SELECT %(ent)s, h, level + 2, level, per_hour, per_hour / 5,
       CASE WHEN level >= 118 THEN per_hour / 12 ELSE 0 END, per_hour
FROM (SELECT h,
             LEAST(118, (60 + 55 * sin(extract(epoch FROM h) / 86400 * 2 * pi()))::int
                        + (extract(epoch FROM h - %(start)s::timestamptz) / 86400 / 40)::int)
               AS level,
             GREATEST(1, %(n)s / (%(days)s * 24)) AS per_hour
      FROM generate_series(date_trunc('hour', %(start)s::timestamptz),
                           date_trunc('hour', now()), interval '1 hour') AS h) AS g
"""


def build(small: int, large: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from licensing import services
    from licensing.models import Membership
    from portal.models import User

    started = time.monotonic()
    customer = services.customer_create(name="Chart Bench Customer")
    product = services.product_create(name="Chart Bench Product")
    user = User.objects.create_user(EMAIL, None, name="Bench Admin")
    Membership.objects.create(user=user, customer=customer, role=Membership.Role.ADMIN)
    start = timezone.now() - timedelta(days=HISTORY_DAYS)
    for name, events in (("small", small), ("large", large)):
        entitlement = services.entitlement_create(
            customer=customer, product=product, seats=100, hard_limit=120
        )
        params = {
            "ent": entitlement.pk,
            "cust": customer.pk,
            "prod": product.pk,
            "start": start,
            "n": events,
            "days": HISTORY_DAYS,
        }
        t0 = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(EVENTS_SQL, params)
            cursor.execute(SEATS_SQL, {**params, "n": events // 2})
            cursor.execute(IN_USE_SQL, params)
            cursor.execute(BUCKETS_SQL, params)
            cursor.execute(
                "UPDATE licensing_entitlement SET seats_used = 110 WHERE id = %s", [entitlement.pk]
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, entitlement uuid,"
                " events int)"
            )
            cursor.execute(
                "INSERT INTO bench_meta VALUES (%s, %s, %s)", [name, entitlement.pk, events]
            )
        log(f"bench: {name}: {events} events built in {time.monotonic() - t0:.1f} s")
    connection.close()
    psql("VACUUM ANALYZE", DB)
    log(f"bench: history built in {time.monotonic() - started:.1f} s")


def built_sizes() -> dict[str, int]:
    if not database_exists(DB):
        return {}
    try:
        rows = psql("SELECT name, events FROM bench_meta", DB)
    except Exception:
        return {}
    return {name: int(n) for name, n in (line.split("|") for line in rows.splitlines())}


@contextlib.contextmanager
def count_queries(connection: Any) -> Iterator[list[int]]:
    """Counts the statements run (CaptureQueriesContext loses them at request_started)."""
    counter = [0]

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter


def timed(fn: Any, runs: int) -> float:
    """Median milliseconds of `runs` calls, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(median(times), 2)


def measure(runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from licensing import selectors
    from licensing.models import Entitlement
    from portal.models import User

    client = Client()
    client.force_login(User.objects.get(email=EMAIL))
    rows = psql("SELECT name, entitlement FROM bench_meta", DB)
    results: dict[str, Any] = {}
    for line in rows.splitlines():
        name, pk = line.split("|")
        entitlement = Entitlement.objects.select_related("customer").get(pk=pk)
        url = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/"
        figures: dict[str, Any] = {}
        for key in ("24h", "30d", "1y"):
            usage_range = selectors.USAGE_RANGES[key]

            def data(usage_range: Any = usage_range, entitlement: Any = entitlement) -> Any:
                start, end = usage_range.bounds(timezone.now())
                return selectors.usage_series(
                    entitlement, start=start, end=end, bucket=usage_range.bucket
                )

            def page(key: str = key, url: str = url) -> Any:
                response = client.get(url, {"range": key}, secure=True)
                if response.status_code != 200:
                    raise SystemExit(f"{url}?range={key} answered {response.status_code}")
                return response

            with count_queries(connection) as data_queries:
                points = data()
            with count_queries(connection) as page_queries:
                page()
            figures[key] = {
                "points": len(points),
                "data_ms": timed(data, runs),
                "data_queries": data_queries[0],
                "page_ms": timed(page, max(3, runs // 2)),
                "page_queries": page_queries[0],
            }
        results[name] = figures
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=20_000, help="events of the small one")
    parser.add_argument("--large", type=int, default=2_000_000, help="events of the large one")
    parser.add_argument("--runs", type=int, default=21, help="timed runs per figure (median)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the history")
    parser.add_argument("--keep", action="store_true", help="leave PostgreSQL running")
    args = parser.parse_args()

    pg_start()
    try:
        sizes = built_sizes()
        if args.rebuild or sizes != {"small": args.small, "large": args.large}:
            fresh_migrated_database(DB)
            setup_django(DB, CELERY_BROKER_URL="", REDIS_URL="")
            build(args.small, args.large)
        else:
            log("bench: reusing the history built before (--rebuild to build it again)")
            setup_django(DB, CELERY_BROKER_URL="", REDIS_URL="")
        load_start = [round(x, 2) for x in os.getloadavg()]
        results = measure(args.runs)
    finally:
        if not args.keep:
            pg_stop()
    ratio = {
        key: {
            "data": round(results["large"][key]["data_ms"] / results["small"][key]["data_ms"], 2),
            "page": round(results["large"][key]["page_ms"] / results["small"][key]["page_ms"], 2),
        }
        for key in results["small"]
    }
    emit(
        {
            "benchmark": "usage",
            "machine": {
                "cpus": os.cpu_count(),
                "loadavg_start": load_start,
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            },
            "events": {"small": args.small, "large": args.large},
            "history_days": HISTORY_DAYS,
            "small": results["small"],
            "large": results["large"],
            "ratio_large_small": ratio,
        }
    )


if __name__ == "__main__":
    main()
