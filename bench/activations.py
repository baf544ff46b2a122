"""Activation throughput over HTTP against the pgbench floor, the hot row, and the race.

Run as `bench/activations` (see --help). Starts its own PostgreSQL (var/bench/) and gunicorn
with portal/gunicorn.conf.py in production mode, then:

1. spread: 64 connections over 1,000 entitlements, 70% activations (new seats), 20%
   heartbeats, 10% releases (wrk + bench/activations.lua); then pgbench running the statement
   one new activation performs, same concurrency: the floor.
2. reactivate: every request re-activates a seat its fingerprint already holds (200, "already
   held"), as a client does at every start; heartbeat: every request heartbeats a held
   floating seat; field: a start-of-day mix, 50% re-activations, 30% heartbeats, 10% new seats,
   10% releases. The seats they name are held before the run (20 on each entitlement, written
   by `seed_held`); each then runs pgbench on the statements of the same requests, in the same
   proportions: its floor. The targets of issue 22 are printed (`targets`), not asserted.
3. hot row: 256 connections on one entitlement with a huge hard limit; its pgbench floor.
4. paced: the spread's load sent at fixed rates (open loop: each request at its scheduled
   time, whether or not earlier ones were answered), by default 400 to 1,000 activations/s;
   the latency at each rate, and the highest rate sustained with p99 under 50 ms.
5. race: 1,000 concurrent activations against a 100/120 entitlement; exactly 120 granted.

The web workers' resident memory is sampled throughout. Figures: JSON on the last line.

`--compare REV` runs the load scenarios (the spread, or those named with --only: spread,
reactivate, heartbeat, field) against git revision REV too, served from a worktree of it in
var/bench/ on the same database, alternating rounds (REV, this tree, REV, ...), and prints the
medians of each side and their ratios: what a change did, measured in one run on one machine.
The floors are this tree's statements. `--rev REV` serves REV's code instead of this tree's in
an ordinary run (the benchmark, its data and its floors stay this tree's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MIX,
    PG_BIN,
    PGPORT,
    REDIS_PORT,
    ROOT,
    WEB_PORT,
    RssSampler,
    WebServer,
    cpu_times,
    cpu_used,
    emit,
    fresh_migrated_database,
    log,
    pg_start,
    pg_stop,
    postgres_pids,
    psql,
    redis_start,
    redis_stop,
    setup_django,
)

DB = "bench_activations"
# Deterministic license keys (the entitlements are created by the service, then re-keyed),
# so wrk and pgbench can name them without a lookup table.
SPREAD_KEYFMT = "10000-00000-00000-00000-%05d"  # up to 100,000 entitlements
HOT_KEY = "20000-00000-00000-00000-00000"
RACE_KEY = "30000-00000-00000-00000-00000"
LEASE_SECONDS = 3600
# The load scenarios over the spread's entitlements: percentages of new seats, heartbeats,
# releases and re-activations (bench/activations.lua's BENCH_MIX).
LOADS = {
    "spread": (*MIX, 0),
    "reactivate": (0, 0, 0, 100),
    "heartbeat": (0, 100, 0, 0),
    # A start of the working day: most clients start (re-activating the seat they hold), many
    # heartbeat, a few take a seat for the first time or give theirs back.
    "field": (10, 30, 10, 50),
}
SCENARIOS = [*LOADS, "paced", "hot", "race"]
# Seats held on each of the spread's entitlements before a run that names held seats.
HELD_PER_ENTITLEMENT = 20
# Issue 22's targets, printed: web CPU per request of a re-activation and of a heartbeat at
# most this many times the spread's (mostly new seats); the field at least the spread's
# requests/s.
WEB_CPU_TARGET = 1.1


def spread_key(i: int) -> str:
    return SPREAD_KEYFMT % i


# Seats held before a run are named so that wrk (bench/activations.lua) and pgbench can name
# them too without a lookup table: on entitlement i, seat j of generation g has the fingerprint
# s<g>-<i>-<j> and an id made of the three numbers.
HELD_FINGERPRINT_SQL = "'s{gen}-' || {i}::text || '-' || {j}::text"
HELD_ID_SQL = (
    "(lpad(to_hex({i}::int), 8, '0') || '-' || lpad(to_hex({gen}), 4, '0') || '-4000-8000-'"
    " || lpad(to_hex({j}::int), 12, '0'))::uuid"
)
_generations = iter(range(1, 1 << 16))


def seed_held(nkeys: int, per: int = HELD_PER_ENTITLEMENT) -> str:
    """`per` floating seats held on each of the spread's first `nkeys` entitlements, written
    straight into the tables (no events or buckets: none of the requests reads them), in a new
    generation; the seats an earlier call held and no request released are released first, so
    every run starts from the same number held. Returns BENCH_HELD for wrk: "generation,per"."""
    gen = next(_generations)
    prefix = SPREAD_KEYFMT.replace("%05d", "")
    psql(
        f"""
        WITH gone AS (
            UPDATE licensing_seat SET released_at = now(), release_reason = 'released'
             WHERE released_at IS NULL AND fingerprint LIKE 's%'
            RETURNING entitlement_id
        )
        UPDATE licensing_entitlement e SET seats_used = seats_used - n
          FROM (SELECT entitlement_id, count(*) AS n FROM gone GROUP BY 1) AS g
         WHERE e.id = g.entitlement_id;
        WITH keyed AS (
            SELECT id, substr(license_key, {len(prefix) + 1})::int AS i
              FROM licensing_entitlement WHERE license_key LIKE '{prefix}%'
               AND substr(license_key, {len(prefix) + 1})::int < {nkeys}
        ), held AS (
            INSERT INTO licensing_seat (id, entitlement_id, fingerprint, label, activated_at,
                last_heartbeat_at, lease_expires_at, released_at, release_reason, overdraft)
            SELECT {HELD_ID_SQL.format(i="i", gen=gen, j="j")}, id,
                   {HELD_FINGERPRINT_SQL.format(gen=gen, i="i", j="j")}, 'bench', now(), now(),
                   now() + interval '{LEASE_SECONDS} seconds', NULL, '', false
              FROM keyed, generate_series(1, {per}) AS j
            RETURNING entitlement_id
        )
        UPDATE licensing_entitlement e SET seats_used = seats_used + n
          FROM (SELECT entitlement_id, count(*) AS n FROM held GROUP BY 1) AS h
         WHERE e.id = h.entitlement_id;
        """,
        DB,
    )
    return f"{gen},{per}"


# --- data ---------------------------------------------------------------------------------


def create_entitlements(count: int) -> None:
    from django.db import connection

    from licensing import services

    started = time.monotonic()
    customer = services.customer_create(name="Bench Customer")
    product = services.product_create(name="Bench Product")

    def create(seats: int, hard_limit: int | None, key: str) -> None:
        entitlement = services.entitlement_create(
            customer=customer,
            product=product,
            seats=seats,
            hard_limit=hard_limit,
            lease_seconds=LEASE_SECONDS,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE licensing_entitlement SET license_key = %s WHERE id = %s",
                [key, entitlement.pk],
            )

    for i in range(count):
        create(100_000, 120_000, spread_key(i))
    create(100_000_000, 120_000_000, HOT_KEY)
    create(100, 120, RACE_KEY)
    connection.close()
    log(f"bench: created {count + 2} entitlements in {time.monotonic() - started:.1f} s")


# --- load generators ------------------------------------------------------------------------


# The latency target: at the offered rate, 99% of requests answered within this (issue 6).
P99_TARGET_MS = 50


def run_wrk(
    server: WebServer,
    *,
    keyfmt: str,
    nkeys: int,
    connections: int,
    seconds: float,
    seed: int,
    rate: float = 0,
    mix: tuple[int, ...] = LOADS["spread"],
    held: str = "",
) -> dict[str, Any]:
    """Closed loop (each connection sends as soon as it has its answer), or, with `rate`
    requests/s, paced (bench/activations.lua). `mix`: a load of LOADS; `held`: the seats held
    before the run (`seed_held`), if any."""
    threads = min(2, connections)
    env = {
        **os.environ,
        "BENCH_KEYFMT": keyfmt,
        "BENCH_NKEYS": str(nkeys),
        "BENCH_MIX": ",".join(map(str, mix)),
        "BENCH_SEED": str(seed),
        "BENCH_HELD": held,
        "BENCH_RATE": str(rate),
        "BENCH_THREADS": str(threads),
    }
    workers = server.worker_pids()
    web_cpu, db_cpu = cpu_times(workers), cpu_times(postgres_pids())
    client_cpu = cpu_times(postgres_pids("client"))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "activations.lua"),
            server.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    web_cpu_s = cpu_used(web_cpu, cpu_times(workers))
    db_cpu_s = cpu_used(db_cpu, cpu_times(postgres_pids()))
    client_cpu_s = cpu_used(client_cpu, cpu_times(postgres_pids("client")))
    lines = [line for line in out.stdout.splitlines() if line.startswith('{"wrk"')]
    if not lines:
        raise SystemExit(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(lines[-1])
    secs = raw["duration_us"] / 1e6
    activations = raw["status"]["201"] + raw["status"]["409"]
    return {
        "requests_per_s": round(raw["requests"] / secs, 1),
        "activations_per_s": round(activations / secs, 1),
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p90_ms": raw["latency_us"]["p90"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "requests": raw["requests"],
        "sent": {k: raw[k] for k in ("activations", "heartbeats", "releases", "reactivations")},
        "status": raw["status"],
        # paced runs: requests sent more than 10 ms after their scheduled time
        "late_sends": raw["late"],
        "socket_errors": {k: v for k, v in raw["errors"].items() if v},
        "seconds": round(secs, 2),
        # CPU per request is steadier than throughput on a shared, noisy machine.
        "web_cpu_ms_per_request": round(web_cpu_s * 1000 / max(raw["requests"], 1), 2),
        "db_cpu_ms_per_request": round(db_cpu_s * 1000 / max(raw["requests"], 1), 2),
        # of which the backends serving the web tier's connections (the rest: autovacuum,
        # checkpointer, WAL writer)
        "db_client_cpu_ms_per_request": round(client_cpu_s * 1000 / max(raw["requests"], 1), 2),
    }


def warm_up(server: WebServer, seconds: float, **load: Any) -> None:
    """`seconds` of the load `run_wrk` would send (none for 0), then statistics as autovacuum
    would have them by then (`analyze`)."""
    if seconds:
        run_wrk(server, seconds=seconds, **load)
        analyze()


def run_paced(
    server: WebServer, *, nkeys: int, connections: int, seconds: float, rates: list[int]
) -> dict[str, Any]:
    """The spread's load at each offered rate of activations/s (requests/s = rate / the mix's
    activation share). A rate is sustained when nearly every request went out on schedule
    (at most 1% late) and nearly all were sent (95%); only then is wrk's p99 the latency a
    client sees at that rate, since a late send's wait is not in it."""
    levels = []
    for seed, offered in enumerate(rates, start=10):
        request_rate = offered * 100 / MIX[0]
        log(f"bench: paced at {offered} activations/s ({request_rate:.0f} requests/s)")
        http = run_wrk(server, keyfmt=SPREAD_KEYFMT, nkeys=nkeys, connections=connections,
                       seconds=seconds, seed=seed, rate=request_rate)  # fmt: skip
        late_pct = round(100 * http["late_sends"] / max(http["requests"], 1), 2)
        sustained = late_pct <= 1 and http["requests_per_s"] >= 0.95 * request_rate
        levels.append({
            "offered_activations_per_s": offered,
            "offered_requests_per_s": round(request_rate, 1),
            **{k: http[k] for k in (
                "activations_per_s", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                "status", "socket_errors", "web_cpu_ms_per_request", "db_cpu_ms_per_request",
            )},
            "late_sends_pct": late_pct,
            "sustained": sustained,
            "meets_target": sustained and http["p99_ms"] < P99_TARGET_MS,
        })  # fmt: skip
    met = [level["offered_activations_per_s"] for level in levels if level["meets_target"]]
    return {
        "connections": connections,
        "p99_target_ms": P99_TARGET_MS,
        "levels": levels,
        "highest_rate_meeting_target": max(met, default=None),
    }


# The floor: pgbench running the statements the requests of a scenario perform, in the same
# proportions, their text taken from licensing/statements.py (a new activation, a
# re-activation, a heartbeat and a release are one statement each, keyed by the license key).
# pgbench variables carry integers only, so the parameters the application computes in Python
# become the same values computed in SQL: the key from the entitlement's number, a new seat's id
# by gen_random_uuid() (two different ids where the application passes one twice), a held
# seat's fingerprint and id from its numbers (`seed_held`), now() and its hour. Executed
# prepared (-M prepared), as the application prepares it.
def _statement(sql: str, **values: str) -> str:
    """A statement of licensing.statements with its parameters as SQL expressions."""
    common = {
        "label": "'bench'",
        "now": "now()",
        "hour": "date_trunc('hour', now())",
        "reason": "'released'",
    }
    values = {**common, **values}
    return re.sub(r"%\((\w+)\)s", lambda m: f"({values[m.group(1)]})", sql).strip()


def floor_scripts(
    mix: tuple[int, ...], key_expr: str, nmax: int, held: str = ""
) -> list[tuple[str, int]]:
    """pgbench scripts and their weights for a load of LOADS (new seats, heartbeats, releases,
    re-activations). Releases name the second half of the seats held on each entitlement and
    heartbeats and re-activations the first (pgbench cannot remember the seats it was granted,
    so a held seat it released would be re-activated as a new one), all of them when the mix
    has no releases."""
    from licensing.statements import ACTIVATE, HEARTBEAT, RELEASE

    gen, per = (int(x) for x in held.split(",")) if held else (0, 0)
    new, heartbeat, release, reactivate = mix
    kept = per // 2 if release else per
    pick = f"\\set n random(0, {nmax})\n"
    held_fp = HELD_FINGERPRINT_SQL.format(gen=gen, i=":n", j=":j")
    held_id = HELD_ID_SQL.format(gen=gen, i=":n", j=":j")
    key = {"key": key_expr}
    scripts = [
        (
            f"{pick}\\set fp random(1, 2000000000)\n"
            + _statement(ACTIVATE, **key, sid="gen_random_uuid()", fp=":fp"),
            new,
        ),
        (
            f"{pick}\\set j random(1, {kept})\n" + _statement(HEARTBEAT, **key, sid=held_id),
            heartbeat,
        ),
        (
            f"{pick}\\set j random({kept + 1}, {per})\n" + _statement(RELEASE, **key, sid=held_id),
            release,
        ),
        (
            f"{pick}\\set j random(1, {kept})\n"
            + _statement(ACTIVATE, **key, sid="gen_random_uuid()", fp=held_fp),
            reactivate,
        ),
    ]
    return [(f"{text};\n", weight) for text, weight in scripts if weight]


def spread_key_sql(nkeys: int) -> tuple[str, int]:
    """The SQL of a random spread entitlement's key (pgbench's :n), and the highest :n."""
    return f"'{SPREAD_KEYFMT.replace('%05d', '')}' || lpad(:n::text, 5, '0')", nkeys - 1


def run_pgbench(scripts: list[tuple[str, int]], *, clients: int, seconds: int) -> dict[str, Any]:
    files = []
    for text, weight in scripts:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
            handle.write(text)
        os.chmod(handle.name, 0o644)
        files += ["-f", f"{handle.name}@{weight}"]
    try:
        out = subprocess.run(
            [
                str(PG_BIN / "pgbench"),
                "-h",
                "127.0.0.1",
                "-p",
                str(PGPORT),
                "-U",
                "postgres",
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-r",
                *files,
                DB,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        for name in files[1::2]:
            os.unlink(name.rsplit("@", 1)[0])
    if out.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    tps = re.search(r"tps = ([\d.]+)", out.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    if tps is None:
        raise SystemExit(f"pgbench printed no tps:\n{out.stdout}")
    return {
        "tps": round(float(tps.group(1)), 1),
        "latency_avg_ms": float(lat.group(1)) if lat else None,
        "failed": int(failed.group(1)) if failed else 0,
    }


def run_floor(name: str, *, nkeys: int, clients: int, seconds: int) -> dict[str, Any]:
    """The floor of a load scenario. The spread's is its new activations alone (as in every run
    since run 4); the others' are their whole mix."""
    log(f"bench: {name} floor (pgbench)")
    key_expr, nmax = spread_key_sql(nkeys)
    mix = LOADS[name]
    if name == "spread":
        scripts = floor_scripts((1, 0, 0, 0), key_expr, nmax)
    else:
        scripts = floor_scripts(mix, key_expr, nmax, held=seed_held(nkeys))
    return run_pgbench(scripts, clients=clients, seconds=seconds)


def with_floor(name: str, http: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """A load scenario's figures and its ratio to the floor: the spread's activations/s (as in
    every run so far), the others' requests/s."""
    rate = http["activations_per_s"] if name == "spread" else http["requests_per_s"]
    return {**http, "pgbench_floor_tps": floor["tps"], "pgbench": floor,
            "ratio": round(rate / floor["tps"], 3)}  # fmt: skip


def run_load(
    server: WebServer, name: str, *, nkeys: int, connections: int, seconds: int, warmup: int,
    seed: int,
) -> dict[str, Any]:  # fmt: skip
    """A load scenario over HTTP: its warm-up (then ANALYZE), then the measured run; the seats
    a scenario names are held afresh before each (`seed_held`)."""
    mix = LOADS[name]
    load = {"keyfmt": SPREAD_KEYFMT, "nkeys": nkeys, "connections": connections, "mix": mix}
    needs_held = name != "spread"
    if warmup:
        held = seed_held(nkeys) if needs_held else ""
        warm_up(server, warmup, seed=seed, held=held, **load)
    log(f"bench: {name} over HTTP")
    held = seed_held(nkeys) if needs_held else ""
    http = run_wrk(server, seconds=seconds, seed=seed + 1, held=held, **load)
    return {"connections": connections, "entitlements": nkeys,
            "mix": dict(zip(("new", "heartbeat", "release", "reactivate"), mix, strict=True)),
            **http}  # fmt: skip


def targets(figures: dict[str, Any]) -> dict[str, Any]:
    """Issue 22's targets, from the load scenarios of one run (those that ran)."""
    found: dict[str, Any] = {}
    spread = figures.get("spread")
    if spread is None:
        return found
    for name in ("reactivate", "heartbeat"):
        if name in figures:
            ratio = figures[name]["web_cpu_ms_per_request"] / spread["web_cpu_ms_per_request"]
            found[f"{name}_web_cpu_vs_spread"] = round(ratio, 2)
            found[f"{name}_web_cpu_met"] = ratio <= WEB_CPU_TARGET
    if "field" in figures:
        ratio = figures["field"]["requests_per_s"] / spread["requests_per_s"]
        found["field_requests_vs_spread"] = round(ratio, 2)
        found["field_requests_met"] = ratio >= 1
    return found


async def _race(host: str, port: int, key: str, count: int) -> dict[str, int]:
    """`count` activations with distinct fingerprints, all connected before any is sent."""
    go = asyncio.Event()

    async def one(i: int) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        body = json.dumps({"fingerprint": f"race-{i}"}).encode()
        request = (
            f"POST /api/v1/activations HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: License {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        await go.wait()
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
        writer.close()
        return int(status_line.split()[1])

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.sleep(1.0)  # let every connection open
    go.set()
    statuses = await asyncio.gather(*tasks, return_exceptions=True)
    tally: dict[str, int] = {}
    for status in statuses:
        name = str(status) if isinstance(status, int) else "error"
        tally[name] = tally.get(name, 0) + 1
    return tally


def run_race(count: int) -> dict[str, Any]:
    started = time.monotonic()
    tally = asyncio.run(_race("127.0.0.1", WEB_PORT, RACE_KEY, count))
    seconds = time.monotonic() - started - 1.0
    row = psql(
        "SELECT e.seats_used, (SELECT count(*) FROM licensing_seat s WHERE s.entitlement_id = e.id"
        " AND s.released_at IS NULL) FROM licensing_entitlement e"
        f" WHERE license_key = '{RACE_KEY}'",
        DB,
    )
    seats_used, seats_in_use = (int(x) for x in row.split("|"))
    granted = tally.get("201", 0) + tally.get("200", 0)
    return {
        "requests": count,
        "granted": granted,
        "denied": tally.get("409", 0),
        "other": {k: v for k, v in tally.items() if k not in {"201", "200", "409"}},
        "seats_used": seats_used,
        "seats_in_use": seats_in_use,
        "exactly_120": granted == 120 and seats_used == 120 and seats_in_use == 120,
        "seconds": round(seconds, 2),
    }


def analyze() -> None:
    """Statistics as autovacuum keeps them on a live database. Taken right after the data set
    was created, they describe empty seat and event tables, and the plans the web tier's
    connections prepare then (and keep) scan those tables in full once they have grown: the
    hot-row scenario fell from about 700 to 130 activations/s (docs/performance.md)."""
    psql("ANALYZE", DB)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- main ---------------------------------------------------------------------------------


def rate_list(text: str) -> list[int]:
    """`--rates`: positive whole numbers of activations/s, comma-separated."""
    try:
        rates = [int(part) for part in text.split(",")]
    except ValueError:
        rates = []
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 400,600,800")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entitlements", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--hot-connections", type=int, default=256)
    parser.add_argument("--race", type=int, default=1000, help="concurrent race activations")
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="scenarios to run")
    parser.add_argument(
        "--rates",
        type=rate_list,
        default="400,600,800,1000",
        help="paced scenario: offered activations/s, comma-separated",
    )
    parser.add_argument("--keep", action="store_true", help="leave PostgreSQL running")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--compare",
        metavar="REV",
        help="also run the spread (or the load scenarios of --only) against git revision REV,"
        " alternating rounds (see above)",
    )
    which.add_argument(
        "--rev",
        metavar="REV",
        help="serve git revision REV's code (a worktree in var/bench/) instead of this tree's;"
        " the benchmark and its floors stay this tree's",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--compare: rounds of each")
    args = parser.parse_args()
    if args.compare:
        compare(args)
        return
    scenarios = args.only or SCENARIOS
    root = worktree(args.rev) if args.rev else ROOT

    pg_start()
    redis_start()
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "flushall"], capture_output=True)
    fresh_migrated_database(DB)
    setup_django(DB)
    create_entitlements(args.entitlements)
    psql("VACUUM ANALYZE", DB)

    figures: dict[str, Any] = {
        "benchmark": "activations",
        "rev": args.rev or "this tree",
        "machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg()},
        "server": {
            "workers": os.environ.get("WEB_CONCURRENCY", str(os.cpu_count())),
            "threads": os.environ.get("GUNICORN_THREADS", "8"),
            "database_pool": os.environ.get("DATABASE_POOL", ""),
        },
    }
    # The throttle still runs on every request; the limit is raised only so that the hot-row
    # scenario (every request on one license key) measures activations, not 429s.
    server = WebServer(DB, root=root, API_THROTTLE_LICENSE="100000000/min")
    sampler = RssSampler(server)
    try:
        server.start()
        with sampler.running():
            for seed, name in enumerate(LOADS, start=1):
                if name not in scenarios:
                    continue
                load = {"nkeys": args.entitlements, "connections": args.connections}
                http = run_load(server, name, seconds=args.seconds, warmup=args.warmup,
                                seed=10 * seed, **load)  # fmt: skip
                floor = run_floor(name, clients=args.connections, seconds=args.seconds,
                                  nkeys=args.entitlements)  # fmt: skip
                figures[name] = with_floor(name, http, floor)
            if any(name in figures for name in LOADS):
                figures["targets"] = targets(figures)
            if "paced" in scenarios:
                if "spread" not in scenarios:  # else warm already
                    warm_up(server, args.warmup, keyfmt=SPREAD_KEYFMT, nkeys=args.entitlements,
                            connections=args.connections, seed=1)  # fmt: skip
                figures["paced"] = run_paced(
                    server,
                    nkeys=args.entitlements,
                    connections=args.connections,
                    seconds=args.seconds,
                    rates=args.rates,
                )
            if "hot" in scenarios:
                warm_up(server, args.warmup, keyfmt=HOT_KEY, nkeys=1,
                        connections=args.hot_connections, seed=3)  # fmt: skip
                log("bench: hot row over HTTP")
                http = run_wrk(server, keyfmt=HOT_KEY, nkeys=1,
                               connections=args.hot_connections, seconds=args.seconds,
                               seed=4)  # fmt: skip
                log("bench: hot row floor (pgbench)")
                floor = run_pgbench(
                    floor_scripts((1, 0, 0, 0), f"'{HOT_KEY}'", 0),
                    clients=args.hot_connections,
                    seconds=args.seconds,
                )
                figures["hot_row"] = {
                    "connections": args.hot_connections,
                    **http,
                    "pgbench_floor_tps": floor["tps"],
                    "pgbench": floor,
                    "ratio": round(http["activations_per_s"] / floor["tps"], 3),
                }
            if "race" in scenarios:
                log("bench: race")
                figures["race"] = run_race(args.race)
        figures["worker_rss_max_mb"] = round(sampler.max_mb, 1)
    finally:
        server.stop()
        if not args.keep:
            pg_stop()
            redis_stop()
    figures["machine"]["loadavg_end"] = loadavg()
    emit(figures)


def worktree(rev: str) -> Path:
    """A checkout of `rev` in var/bench/ (made once per commit), sharing this tree's .venv."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if sha.returncode:
        raise SystemExit(f"--compare: {rev!r} is not a commit of this repository")
    path = ROOT / "var" / "bench" / f"worktree-{sha.stdout.strip()[:12]}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), sha.stdout.strip()],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
    return path


# What a --compare run keeps of each measured run, and of which it prints the medians.
COMPARED = ("requests_per_s", "activations_per_s", "p50_ms", "p99_ms", "web_cpu_ms_per_request",
            "db_cpu_ms_per_request", "db_client_cpu_ms_per_request")  # fmt: skip


def compare(args: argparse.Namespace) -> None:
    scenarios = args.only or ["spread"]
    if not set(scenarios) <= set(LOADS):
        raise SystemExit(f"--compare runs the load scenarios only: {', '.join(LOADS)}")
    before = worktree(args.compare)
    pg_start()
    redis_start()
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "flushall"], capture_output=True)
    fresh_migrated_database(DB)
    setup_django(DB)
    create_entitlements(args.entitlements)
    psql("VACUUM ANALYZE", DB)
    load = {"nkeys": args.entitlements, "connections": args.connections}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {"before": [], "after": []} for name in scenarios
    }
    floors = {}
    # A seed of its own per run: new fingerprints, so activations are new seats as in the
    # spread scenario, not re-activations of the last run's.
    seeds = iter(range(10, 1 << 30, 2))
    try:
        for n in range(args.rounds):
            for side, root in (("before", before), ("after", ROOT)):
                server = WebServer(DB, root=root, API_THROTTLE_LICENSE="100000000/min")
                try:
                    server.start()
                    for name in scenarios:
                        log(f"bench: round {n + 1}, {side}")
                        http = run_load(server, name, seconds=args.seconds, warmup=args.warmup,
                                        seed=next(seeds), **load)  # fmt: skip
                        kept = {k: http[k] for k in (*COMPARED, "status")}
                        runs[name][side].append(kept)
                finally:
                    server.stop()
        for name in scenarios:
            floors[name] = run_floor(name, clients=args.connections, seconds=args.seconds,
                                     nkeys=args.entitlements)  # fmt: skip
    finally:
        if not args.keep:
            pg_stop()
            redis_stop()
    figures: dict[str, Any] = {
        "benchmark": "activations-compare",
        "before": args.compare,
        "rounds": args.rounds,
        "machine": {"cpus": os.cpu_count(), "loadavg_end": loadavg()},
    }
    medians: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for name in scenarios:
        result: dict[str, Any] = {}
        for side, done in runs[name].items():
            median = {k: round(statistics.median(r[k] for r in done), 3) for k in COMPARED}
            medians[side][name] = median
            result[side] = {"median": median, "runs": done}
        result["ratio_after_to_before"] = {
            k: round(medians["after"][name][k] / medians["before"][name][k], 3)
            for k in ("requests_per_s", "activations_per_s", "web_cpu_ms_per_request")
            if medians["before"][name][k]
        }
        result["pgbench_floor_tps"] = floors[name]["tps"]
        result["ratio_to_floor"] = {
            side: with_floor(name, medians[side][name], floors[name])["ratio"]
            for side in ("before", "after")
        }
        figures[name] = result
    figures["targets"] = {side: targets(medians[side]) for side in ("before", "after")}
    emit(figures)


if __name__ == "__main__":
    main()
