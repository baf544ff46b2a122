"""Webhook delivery measured against a revision's real production processes (issue 16).

Run as `bench/webhooks` (see --help). Starts its own PostgreSQL and Redis (var/bench/, as the
other benchmarks), three webhook receivers in this process (`http.server` threads on
127.0.0.1: *fast* answers 200 at once, *slow* 200 after 500 ms, *failing* 500), and runs the
processes of the revision's own `Procfile` line by line (web, worker, beat and whatever else
it names) in production mode: `PORTAL_ENV=production`, `DEBUG=0`, `DATABASE_URL`,
`CELERY_BROKER_URL` and `REDIS_URL` on the benchmark's servers, `WEBHOOKS_ALLOW_PRIVATE_URLS=1`
so the local receivers are allowed, `SITE_URL`, `SECRET_KEY`, `LOG_LEVEL=INFO` (production's
default), the license-key throttle raised (it still runs). Every event is the
`seat.activated` of an activation sent through gunicorn's client API (`POST
/api/v1/activations`, a new fingerprint each), so the outbox kicks and the fan-out run as in
production; endpoints subscribe to that type only. Two measurements, each on a fresh database
and an empty Redis:

1. drain: with only the Procfile's `web` running, a backlog of 10,000 events is created
   (activations over 16 connections); then every other Procfile process is started and the
   clock runs until the fast receiver (the only endpoint) has them all: deliveries/s from
   starting those processes to the last arrival (target >= 300/s on two cores), and from the
   first arrival to the last. A light activation load (20/s, paced, on a customer without
   endpoints) gives the client API's p99 for 5 s before the drain and during it.
2. steady: every process running (checked by a warm-up whose events go to a fast endpoint of
   their own), three endpoints for the same events (fast, slow, failing); 100 events/s for
   60 s (paced, open loop), then up to 60 s more for the fast receiver to get the rest.
   Event-to-arrival at each receiver = its arrival time minus the event's `occurred_at` (the
   body's `timestamp`, webhooks/signing.py); target: the fast endpoint's p99 < 2 s. An event
   not arrived when the wait ends counts with the time it has waited so far, as if it were one
   of the latest created: the figures are then lower bounds (`>=` in the table).

Throughout: peak Redis memory (INFO memory) and peak lengths of every list in Redis (the
Celery queues, whatever their names; priority lists added to their queue), sampled every
0.25 s; duplicates at each receiver (a `webhook-id` that arrives again: 0 expected at the fast
and slow ones, as no faults are injected; the failing one's are its retries); CPU seconds used
during each measurement by each Procfile process (its whole process group; in the drain the
delivery side's from its start-up on), PostgreSQL, Redis and this process (receivers, load).
Figures are printed, never asserted.

`--compare REV` runs both measurements against git revision REV too (a worktree in
var/bench/, its own Procfile and migrations), one run each, REV first, and prints them side by
side; `--rev REV` measures REV alone. `--small` is the CI-sized run (500 events; 15 s at 50/s;
shorter waits). Progress on stderr; a table, then the figures as JSON on the last line of
stdout. Exit status 1 only when a revision could not be measured (a process died, setup
failed).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REDIS_PORT,
    REDIS_URL,
    ROOT,
    VAR,
    VENV_BIN,
    WEB_PORT,
    Procfile,
    bench_postgres_pids,
    cpu_times,
    cpu_used,
    django_env,
    emit,
    fresh_migrated_database_at,
    log,
    pg_start,
    pg_stop,
    psql,
    redis_start,
    redis_stop,
)
from activations import loadavg, worktree

DB = "bench_webhooks"
WEB = "web"  # the Procfile's web server; every other line is the delivery side
SLOW_SECONDS = 0.5
EVENT_TYPE = "seat.activated"
BACKLOG_CONNECTIONS = 16
PACED_THREADS = 16
WARMUP_EVENTS = 10
PROBE_BEFORE_SECONDS = 5.0  # the drain's activation load before the delivery side starts
# The processes' environment shown with the figures (bench/_common.django_env and below).
SHOWN_ENV = (
    "PORTAL_ENV",
    "DEBUG",
    "LOG_LEVEL",
    "SITE_URL",
    "WEBHOOKS_ALLOW_PRIVATE_URLS",
    "API_THROTTLE_LICENSE",
    "WEB_CONCURRENCY",
    "CELERY_CONCURRENCY",
)
SAMPLE_SECONDS = 0.25
# Celery's Redis transport keeps each priority of a queue in a list of its own: `name`, then
# `name` + this separator + the priority.
PRIORITY_SEPARATOR = "\x06\x16"

# Run with the revision's code (cwd and PYTHONPATH are its checkout): the customers, their
# entitlements and webhook endpoints, through the revision's own services. Prints the license
# keys as JSON.
SETUP = """
import json, sys
import django

django.setup()
from licensing import services
from webhooks import services as webhook_services

spec = json.loads(sys.argv[1])
product = services.product_create(name="Bench Product")
keys = {}
for name, wanted in spec["customers"].items():
    customer = services.customer_create(name=f"Bench {name}")
    keys[name] = [
        services.entitlement_create(
            customer=customer, product=product, seats=100_000_000, hard_limit=120_000_000
        ).license_key
        for _ in range(wanted["entitlements"])
    ]
    for label, url in wanted.get("endpoints", {}).items():
        webhook_services.endpoint_create(
            customer=customer, url=url, description=label, event_types=spec["event_types"]
        )
print(json.dumps(keys))
"""


class HarnessError(Exception):
    """The revision could not be measured (a process died, the web server never answered)."""


# --- receivers ------------------------------------------------------------------------------


@dataclass
class Arrivals:
    """What one receiver got on one path: the first arrival of each webhook-id (with the
    body, parsed afterwards), how many requests in all, and how many repeated an id (duplicates)."""

    first: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    requests: int = 0
    duplicates: int = 0

    def latencies(self) -> list[float]:
        """Seconds from each event's occurred_at to its first arrival."""
        return sorted(arrived - occurred_at(body) for arrived, body in self.first.values())


def occurred_at(body: bytes) -> float:
    """The event's time from a Standard Webhooks body (webhooks/signing.py: `timestamp` is the
    event's occurred_at in ISO 8601)."""
    return datetime.fromisoformat(json.loads(body)["timestamp"]).timestamp()


class Receiver:
    """A webhook receiver on 127.0.0.1 (a thread per connection, HTTP/1.1 keep-alive)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lock = threading.Lock()
        self.paths: dict[str, Arrivals] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60  # an idle keep-alive connection's thread leaves after this

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                receiver.record(self.path, self.headers.get("webhook-id", ""), body, arrived)
                if receiver.kind == "slow":
                    time.sleep(SLOW_SECONDS)
                status = 500 if receiver.kind == "failing" else 200
                reply = b'{"ok": false}' if status == 500 else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # socketserver's 5 would drop connections in a burst

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A sender that gave up or was stopped mid-request (the slow receiver's
                # callers, at the end of a run) is no error of the receiver's.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record(self, path: str, webhook_id: str, body: bytes, arrived: float) -> None:
        with self.lock:
            arrivals = self.paths.setdefault(path, Arrivals())
            arrivals.requests += 1
            if webhook_id in arrivals.first:
                arrivals.duplicates += 1
            else:
                arrivals.first[webhook_id] = (arrived, body)

    def arrivals(self, path: str) -> Arrivals:
        with self.lock:
            return self.paths.setdefault(path, Arrivals())

    def distinct(self, path: str) -> int:
        with self.lock:
            arrivals = self.paths.get(path)
            return len(arrivals.first) if arrivals else 0

    def reset(self) -> None:
        with self.lock:
            self.paths = {}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the client API load --------------------------------------------------------------------


class Client:
    """One keep-alive connection to gunicorn, sending activations (each a new fingerprint: a
    new seat and one `seat.activated` event per 201)."""

    def __init__(self) -> None:
        self.conn: http.client.HTTPConnection | None = None

    def activate(self, key: str, fingerprint: str) -> int:
        body = json.dumps({"fingerprint": fingerprint}).encode()
        headers = {
            "Authorization": f"License {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        for attempt in (1, 2):  # once more on a fresh connection if the server closed this one
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
                self.conn.request("POST", "/api/v1/activations", body, headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    return 0  # no answer
        return 0


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    # when each 201 was answered (wall clock): just after its event's occurred_at
    created_at: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, status: int, latency_ms: float | None = None) -> None:
        self.status[str(status)] = self.status.get(str(status), 0) + 1
        if status == 201:
            self.created_at.append(time.time())
        if latency_ms is not None:
            self.latencies_ms.append(latency_ms)

    @property
    def created(self) -> int:
        return len(self.created_at)

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies_ms)
        return {
            "requests": sum(self.status.values()),
            "status": dict(sorted(self.status.items())),
            "p50_ms": round(percentile(values, 0.50), 1) if values else None,
            "p99_ms": round(percentile(values, 0.99), 1) if values else None,
            "max_ms": round(values[-1], 1) if values else None,
        }


def closed_loop(keys: list[str], count: int, prefix: str) -> LoadResult:
    """`count` activations as fast as BACKLOG_CONNECTIONS connections get answers."""
    result = LoadResult()
    lock = threading.Lock()
    issued = iter(range(count))

    def run() -> None:
        client = Client()
        while True:
            with lock:
                i = next(issued, None)
            if i is None:
                return
            status = client.activate(keys[i % len(keys)], f"{prefix}-{i}")
            with lock:
                result.add(status)

    started = time.monotonic()
    threads = [threading.Thread(target=run, daemon=True) for _ in range(BACKLOG_CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


class PacedLoad:
    """Activations at a fixed rate, open loop: request i is due at start + i / rate and its
    latency runs from then, so time spent waiting for a free connection counts (no coordinated
    omission). Runs until `seconds` have passed or `stop()`."""

    def __init__(self, keys: list[str], rate: float, prefix: str, seconds: float = 0.0) -> None:
        self.keys = keys
        self.rate = rate
        self.prefix = prefix
        self.seconds = seconds
        self.result = LoadResult()
        self.lock = threading.Lock()
        self.next = 0
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> PacedLoad:
        self.started = time.monotonic()
        self.threads = [
            threading.Thread(target=self.run, daemon=True) for _ in range(PACED_THREADS)
        ]
        for thread in self.threads:
            thread.start()
        return self

    def run(self) -> None:
        client = Client()
        while True:
            with self.lock:
                i = self.next
                self.next += 1
            due = self.started + i / self.rate
            if self.seconds and due >= self.started + self.seconds:
                return
            if self.stopping.wait(max(0.0, due - time.monotonic())):
                return
            status = client.activate(self.keys[i % len(self.keys)], f"{self.prefix}-{i}")
            latency_ms = (time.monotonic() - due) * 1000
            with self.lock:
                self.result.add(status, latency_ms)

    def stop(self) -> LoadResult:
        self.stopping.set()
        return self.wait()

    def wait(self) -> LoadResult:
        for thread in self.threads:
            thread.join()
        self.result.seconds = time.monotonic() - self.started
        return self.result


# --- samplers -------------------------------------------------------------------------------


class RedisSampler:
    """Redis's used memory and the length of every list in every database (the task queues,
    named and placed however the revision configures them), sampled; keeps the peaks."""

    def __init__(self) -> None:
        import redis

        self.redis = redis.Redis.from_url(REDIS_URL)
        self.databases = {0: self.redis}
        self.baseline_mb = self.memory_mb()
        self.peak_mb = self.baseline_mb
        self.queues: dict[str, int] = {}
        self.peak_total = 0
        self.peak_unacked = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def memory_mb(self) -> float:
        return int(self.redis.info("memory")["used_memory"]) / 2**20

    def sample(self) -> None:
        import redis

        self.peak_mb = max(self.peak_mb, self.memory_mb())
        lengths: dict[str, int] = {}
        unacked = 0
        for db in sorted(int(name[2:]) for name in self.redis.info("keyspace")):
            if db not in self.databases:
                # (from_url's `db` argument would lose to the URL's own database)
                self.databases[db] = redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=db)
            client = self.databases[db]
            keys = list(client.scan_iter(count=1000, _type="list"))
            if keys:
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.llen(key)
                for key, length in zip(keys, pipe.execute(), strict=True):
                    name = key.decode(errors="backslashreplace").split(PRIORITY_SEPARATOR)[0]
                    name = name if db == 0 else f"db{db}:{name}"
                    lengths[name] = lengths.get(name, 0) + int(length)
            # Celery's Redis transport: messages a worker has taken and not yet acknowledged
            if client.type("unacked") == b"hash":
                unacked += int(client.hlen("unacked"))
        for name, length in lengths.items():
            self.queues[name] = max(self.queues.get(name, 0), length)
        self.peak_total = max(self.peak_total, sum(lengths.values()))
        self.peak_unacked = max(self.peak_unacked, unacked)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # a sample lost is a sample lost; the run goes on
                self.errors += 1
            self._stop.wait(SAMPLE_SECONDS)

    @contextlib.contextmanager
    def running(self) -> Iterator[RedisSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            for client in self.databases.values():
                client.close()

    def figures(self) -> dict[str, Any]:
        return {
            "redis_memory_mb_before": round(self.baseline_mb, 2),
            "redis_memory_mb_peak": round(self.peak_mb, 2),
            "queue_length_peak": dict(sorted(self.queues.items())),
            "queued_total_peak": self.peak_total,
            "unacked_peak": self.peak_unacked,
        }


class CpuMeter:
    """CPU seconds used between `start()` and `figures()` by each Procfile process (its whole
    process group: gunicorn's and Celery's children too), PostgreSQL, Redis and this process
    (receivers and load generators)."""

    def __init__(self, procfile: Procfile) -> None:
        self.procfile = procfile

    def _now(self) -> dict[str, dict[int, float]]:
        groups = {name: cpu_times(self.procfile.pids(name)) for name in self.procfile.running}
        groups["postgres"] = cpu_times(bench_postgres_pids())
        try:
            groups["redis"] = cpu_times([int((VAR / "redis.pid").read_text())])
        except (OSError, ValueError):
            groups["redis"] = {}
        return groups

    def _self(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> CpuMeter:
        self.before = self._now()
        self.self_before = self._self()
        return self

    def figures(self) -> dict[str, float]:
        after = self._now()
        used = {name: cpu_used(self.before.get(name, {}), now) for name, now in after.items()}
        used["bench"] = self._self() - self.self_before
        return {name: round(seconds, 1) for name, seconds in used.items()}


# --- one revision ---------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank."""
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


def event_to_arrival(
    arrivals: Arrivals, created_at: list[float], started: float, cutoff: float
) -> dict[str, Any]:
    """p50 / p99 / max seconds from occurred_at to arrival over the events created at
    `created_at`, and arrivals per second between `started` and `cutoff`.

    An event that has not arrived by `cutoff` took longer than `cutoff` minus its creation.
    Which events those are is not known here, so each counts as one of the latest created (the
    smallest such bound): with any missing, every figure is a lower bound (`lower_bounds`)."""
    values = arrivals.latencies()
    missing = max(0, len(created_at) - len(values))
    bounds = [cutoff - t for t in sorted(created_at)[len(created_at) - missing :]]
    ranked = sorted(values + bounds)

    def rank(p: float) -> float | None:
        return round(percentile(ranked, p), 3) if ranked else None

    return {
        "expected": len(created_at),
        "arrived": len(values),
        "missing": missing,
        "lower_bounds": missing > 0,
        "p50_s": rank(0.50),
        "p99_s": rank(0.99),
        "max_s": round(ranked[-1], 3) if ranked else None,
        "arrivals_per_s": round(len(values) / (cutoff - started), 1),
        "requests": arrivals.requests,
        "duplicates": arrivals.duplicates,
    }


class Revision:
    """One checkout (this tree, or a worktree of another revision): its Procfile's processes
    in production mode against the benchmark's servers."""

    def __init__(self, root: Path, label: str, receivers: dict[str, Receiver]) -> None:
        self.root = root
        self.label = label
        self.receivers = receivers
        self.env = django_env(
            DB,
            PYTHONPATH=str(root),
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            DEBUG="0",
            GUNICORN_BIND=f"127.0.0.1:{WEB_PORT}",
            WEBHOOKS_ALLOW_PRIVATE_URLS="1",
            # production's default (.env.example): Celery logs each task at INFO
            LOG_LEVEL="INFO",
            # The throttle still runs on every request; raised so the backlog's burst (hundreds
            # of activations a second on a few keys) is not answered 429.
            API_THROTTLE_LICENSE="100000000/min",
            EMAIL_URL=f"file://{VAR / 'mail'}",
            CELERY_BEAT_SCHEDULE_FILE=str(VAR / "webhooks-celerybeat-schedule"),
            # scripts/stack's sizes (two cores): 2 gunicorn processes, 2 Celery processes.
            WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY", "2"),
            CELERY_CONCURRENCY=os.environ.get("CELERY_CONCURRENCY", "2"),
        )
        self.procfile = Procfile(root, self.env)
        if WEB not in self.procfile.commands:
            raise SystemExit(f"{root / 'Procfile'} has no `{WEB}` line")
        self.others = [name for name in self.procfile.commands if name != WEB]

    # setup

    def fresh(self, spec: dict[str, Any]) -> dict[str, list[str]]:
        """A fresh database and broker, then the customers of `spec` created by the revision's
        services: entitlements (license keys returned) and webhook endpoints for
        `seat.activated`."""
        fresh_migrated_database_at(DB, self.root)
        subprocess.run(["redis-cli", "-u", REDIS_URL, "flushall"], capture_output=True, check=True)
        for schedule in VAR.glob("webhooks-celerybeat-schedule*"):  # a shelve: .dat, .dir, ...
            schedule.unlink()
        for receiver in self.receivers.values():
            receiver.reset()
        out = subprocess.run(
            [
                str(VENV_BIN / "python"),
                "-c",
                SETUP,
                json.dumps({"customers": spec, "event_types": [EVENT_TYPE]}),
            ],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            raise HarnessError(f"setup failed:\n{out.stderr[-3000:]}")
        keys: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
        return keys

    def start_web(self) -> None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", WEB_PORT), 1):
            raise SystemExit(f"port {WEB_PORT} is taken (BENCH_WEB_PORT to choose another)")
        self.procfile.start([WEB])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{WEB_PORT}/api/v1/entitlement", timeout=2)
            except urllib.error.HTTPError:
                return  # 401: up and answering
            except OSError:
                time.sleep(0.2)
                continue
            return
        raise HarnessError("the web process did not answer within 60 s")

    def check_alive(self) -> None:
        died = self.procfile.exited()
        if died:
            raise HarnessError(
                f"Procfile processes exited: {died} (see {self.procfile.logs}/<name>.log)"
            )

    def wait_for(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            self.check_alive()
            time.sleep(0.1)
        return done()

    # the two measurements

    def drain(self, *, events: int, timeout: float, probe_rate: float) -> dict[str, Any]:
        fast = self.receivers["fast"]
        keys = self.fresh(
            {
                "drain": {"entitlements": 16, "endpoints": {"fast": fast.url("/drain")}},
                "probe": {"entitlements": 1},
            }
        )
        try:
            self.start_web()
            log(f"bench: {self.label}: drain: {events} events through the client API (web only)")
            backlog = closed_loop(keys["drain"], events, "drain")
            created = backlog.created
            time.sleep(1.0)  # the outbox's kick thread publishes every 50 ms
            try:  # the outbox as DESIGN.md describes it: Event.dispatched_at null until fan-out
                undispatched: int | None = int(
                    psql("SELECT count(*) FROM licensing_event WHERE dispatched_at IS NULL", DB)
                )
            except subprocess.CalledProcessError:
                undispatched = None
            early = fast.distinct("/drain")  # none expected: nothing delivers yet
            log(f"bench: {self.label}: drain: activations at {probe_rate:g}/s, workers stopped")
            idle = PacedLoad(keys["probe"], probe_rate, "idle", PROBE_BEFORE_SECONDS).start().wait()
            sampler = RedisSampler()
            with sampler.running():
                cpu = CpuMeter(self.procfile).start()
                log(f"bench: {self.label}: drain: starting {', '.join(self.others)}")
                started = time.time()
                self.procfile.start(self.others)
                probe = PacedLoad(keys["probe"], probe_rate, "probe").start()
                try:
                    complete = self.wait_for(lambda: fast.distinct("/drain") >= created, timeout)
                finally:
                    during = probe.stop()
                cpu_s = cpu.figures()
        finally:
            self.procfile.stop()
        arrivals = fast.arrivals("/drain")
        times = sorted(arrived for arrived, _body in arrivals.first.values())
        done = len(times)
        figures: dict[str, Any] = {
            "events": created,
            "events_created_by": "POST /api/v1/activations through gunicorn, 16 connections,"
            " with only the Procfile's web process running",
            "creation_seconds": round(backlog.seconds, 1),
            "creation_status": backlog.status,
            "undispatched_at_start": undispatched,
            "delivered_before_start": early,
            "arrived": done,
            "complete": complete,
            "seconds_to_last": round(times[-1] - started, 1) if times else None,
            "first_arrival_after_s": round(times[0] - started, 1) if times else None,
            # the figure: from starting the delivery side to the last arrival (its
            # start-up and the fan-out of the backlog included)
            "deliveries_per_s": round(done / (times[-1] - started), 1) if times else None,
            # from the first arrival to the last: the pace once deliveries flow
            "deliveries_per_s_after_first": round((done - 1) / (times[-1] - times[0]), 1)
            if done > 1 and times[-1] > times[0]
            else None,
            "duplicates": arrivals.duplicates,
            "activations_before": {"rate_per_s": probe_rate, **idle.summary()},
            "activations_during": {"rate_per_s": probe_rate, **during.summary()},
            **sampler.figures(),
            "cpu_s": cpu_s,
        }
        delivery_cpu = sum(cpu_s.get(name, 0.0) for name in self.others)
        if done:
            figures["delivery_side_cpu_ms_per_delivery"] = round(delivery_cpu * 1000 / done, 2)
        return figures

    def steady(
        self, *, rate: float, seconds: float, settle: float, warmup_timeout: float
    ) -> dict[str, Any]:
        r = self.receivers
        keys = self.fresh(
            {
                "steady": {
                    "entitlements": 4,
                    "endpoints": {
                        "fast": r["fast"].url("/steady"),
                        "slow": r["slow"].url("/steady"),
                        "failing": r["failing"].url("/steady"),
                    },
                },
                # its own customer and endpoint: proves every process is up before the clock
                "warmup": {"entitlements": 1, "endpoints": {"warmup": r["fast"].url("/warmup")}},
            }
        )
        try:
            self.start_web()
            self.procfile.start(self.others)
            log(f"bench: {self.label}: steady: warm-up, {WARMUP_EVENTS} events")
            warm = closed_loop(keys["warmup"], WARMUP_EVENTS, "warmup").created
            warmed = self.wait_for(lambda: r["fast"].distinct("/warmup") >= warm, warmup_timeout)
            if not warmed:
                log(f"bench: {self.label}: warm-up not delivered in {warmup_timeout:g} s; going on")
            sampler = RedisSampler()
            with sampler.running():
                cpu = CpuMeter(self.procfile).start()
                log(f"bench: {self.label}: steady: {rate:g} events/s for {seconds:g} s")
                load_started = time.time()
                load = PacedLoad(keys["steady"], rate, "steady", seconds=seconds).start().wait()
                ended = time.time()
                created = load.created
                log(f"bench: {self.label}: steady: waiting up to {settle:g} s for the rest")
                self.wait_for(lambda: r["fast"].distinct("/steady") >= created, settle)
                cutoff = time.time()
                cpu_s = cpu.figures()
        finally:
            self.procfile.stop()
        failing = r["failing"].arrivals("/steady")
        span = (load.created_at, load_started, cutoff)
        return {
            "rate_per_s": rate,
            "seconds": seconds,
            "events": created,
            "warmed_up": warmed,
            "waited_after_load_s": round(cutoff - ended, 1),
            "fast": event_to_arrival(r["fast"].arrivals("/steady"), *span),
            "slow": event_to_arrival(r["slow"].arrivals("/steady"), *span),
            "failing": {
                "requests": failing.requests,
                "distinct": len(failing.first),
                "requests_per_s": round(failing.requests / (cutoff - load_started), 1),
            },
            "activations": load.summary(),
            **sampler.figures(),
            "cpu_s": cpu_s,
        }

    def measure(self, args: argparse.Namespace) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "revision": self.label,
            "procfile": self.procfile.commands,
            "environment": {name: self.env.get(name) for name in SHOWN_ENV},
        }
        try:
            figures["drain"] = self.drain(
                events=args.events, timeout=args.drain_timeout, probe_rate=args.probe_rate
            )
            figures["steady"] = self.steady(
                rate=args.rate,
                seconds=args.seconds,
                settle=args.settle,
                warmup_timeout=args.warmup_timeout,
            )
        except HarnessError as error:
            log(f"bench: {self.label}: {error}")
            figures["error"] = str(error)
        return figures


# --- output ---------------------------------------------------------------------------------


def describe_tree() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head} + working tree changes" if dirty else head


def describe_rev(rev: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()


def dig(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def cell(figures: dict[str, Any], template: str) -> str:
    """`template` with each `{path}` replaced by that figure: `{path|s}` a latency (`>= ` when
    some events had not arrived, a lower bound), `{path|queues}` the peak of each queue."""

    def one(match: re.Match[str]) -> str:
        path, _, kind = match.group(1).partition("|")
        value = dig(figures, path)
        if value is None:
            return "-"
        if kind == "s":
            text = f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
            return f">= {text}" if dig(figures, path.rsplit(".", 1)[0] + ".lower_bounds") else text
        if kind == "queues":
            return ", ".join(f"{name} {length}" for name, length in value.items()) or "none"
        return str(value)

    return re.sub(r"\{([^}]+)\}", one, template)


ROWS = [
    ("drain: events (activations via API)", "{drain.events}"),
    ("drain: arrived / complete", "{drain.arrived} / {drain.complete}"),
    ("drain: deliveries/s (target >= 300)", "{drain.deliveries_per_s}"),
    ("drain: deliveries/s after the first", "{drain.deliveries_per_s_after_first}"),
    (
        "drain: first / last arrival after start",
        "{drain.first_arrival_after_s} / {drain.seconds_to_last} s",
    ),
    ("drain: duplicate webhook-ids", "{drain.duplicates}"),
    (
        "drain: activation p99 before / during",
        "{drain.activations_before.p99_ms} / {drain.activations_during.p99_ms} ms",
    ),
    (
        "drain: Redis memory before / peak",
        "{drain.redis_memory_mb_before} / {drain.redis_memory_mb_peak} MB",
    ),
    ("drain: queue length peaks", "{drain.queue_length_peak|queues}"),
    ("drain: delivery-side CPU per delivery", "{drain.delivery_side_cpu_ms_per_delivery} ms"),
    ("steady: events", "{steady.events}"),
    ("steady: fast arrived / expected", "{steady.fast.arrived} / {steady.fast.expected}"),
    ("steady: fast p50", "{steady.fast.p50_s|s}"),
    ("steady: fast p99 (target < 2 s)", "{steady.fast.p99_s|s}"),
    (
        "steady: fast / slow arrivals per s",
        "{steady.fast.arrivals_per_s} / {steady.slow.arrivals_per_s}",
    ),
    ("steady: slow arrived, p50", "{steady.slow.arrived}, {steady.slow.p50_s|s}"),
    ("steady: failing requests per s", "{steady.failing.requests_per_s}"),
    ("steady: duplicates fast / slow", "{steady.fast.duplicates} / {steady.slow.duplicates}"),
    ("steady: activation p99", "{steady.activations.p99_ms} ms"),
    (
        "steady: Redis memory before / peak",
        "{steady.redis_memory_mb_before} / {steady.redis_memory_mb_peak} MB",
    ),
    ("steady: queue length peaks", "{steady.queue_length_peak|queues}"),
]


def table(columns: list[dict[str, Any]]) -> str:
    heads = ["", *(column["revision"] for column in columns)]
    rows = [heads]
    for title, text in ROWS:
        rows.append([title, *("error" if "error" in c else cell(c, text) for c in columns)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(heads))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    for column in columns:
        if "error" in column:
            lines.append(f"{column['revision']}: {column['error'].splitlines()[0]}")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI size: 500 events, 15 s at 50/s")
    parser.add_argument("--events", type=int, help="drain: backlog of events [10000; small 500]")
    parser.add_argument(
        "--drain-timeout", type=float, help="drain: seconds to wait for it [600; small 45]"
    )
    parser.add_argument("--probe-rate", type=float, default=20, help="drain: activations/s")
    parser.add_argument("--rate", type=float, help="steady: events/s [100; small 50]")
    parser.add_argument("--seconds", type=float, help="steady: seconds of load [60; small 15]")
    parser.add_argument(
        "--settle", type=float, help="steady: seconds to wait after the load [60; small 15]"
    )
    parser.add_argument(
        "--warmup-timeout", type=float, help="steady: seconds for the warm-up [120; small 45]"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--compare", metavar="REV", help="also measure git revision REV, first")
    which.add_argument("--rev", metavar="REV", help="measure git revision REV instead")
    parser.add_argument("--keep", action="store_true", help="leave PostgreSQL and Redis running")
    args = parser.parse_args()
    defaults = (
        {"events": 500, "drain_timeout": 45, "rate": 50, "seconds": 15, "settle": 15,
         "warmup_timeout": 45}
        if args.small
        else {"events": 10_000, "drain_timeout": 600, "rate": 100, "seconds": 60, "settle": 60,
              "warmup_timeout": 120}
    )  # fmt: skip
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    targets: list[tuple[Path, str]] = []
    if args.compare:
        targets.append((worktree(args.compare), describe_rev(args.compare)))
    if args.rev:
        targets.append((worktree(args.rev), describe_rev(args.rev)))
    else:
        targets.append((ROOT, describe_tree()))

    # SIGTERM ends the run as Ctrl-C does: through the finally blocks that stop the processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    started = time.monotonic()
    figures: dict[str, Any] = {
        "benchmark": "webhooks",
        "machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg()},
        "settings": {
            "events": args.events,
            "probe_rate_per_s": args.probe_rate,
            "steady_rate_per_s": args.rate,
            "steady_seconds": args.seconds,
            "settle_seconds": args.settle,
            "drain_timeout_seconds": args.drain_timeout,
        },
    }
    receivers = {kind: Receiver(kind) for kind in ("fast", "slow", "failing")}
    results = []
    pg_start()
    redis_start()
    try:
        for root, label in targets:
            results.append(Revision(root, label, receivers).measure(args))
    finally:
        for receiver in receivers.values():
            receiver.close()
        if not args.keep:
            pg_stop()
            redis_stop()
    figures["machine"]["loadavg_end"] = loadavg()
    figures["seconds"] = round(time.monotonic() - started, 1)
    if args.compare:
        figures["before"], figures["after"] = results
    else:
        figures["result"] = results[0]
    print(table(results))
    print(f"load average {figures['machine']['loadavg_start']} -> "
          f"{figures['machine']['loadavg_end']}; {figures['seconds']} s")  # fmt: skip
    emit(figures)
    if any("error" in result for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
