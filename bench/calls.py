"""CPU per client API call in one process: the steadiest figure on a shared, noisy machine.

Run as `bench/calls` (see --help). Against the benchmark's PostgreSQL and Redis (started if
needed) and a fresh database, it drives portal.wsgi.application directly, as gunicorn would,
without a server or a network: N activations (a new fingerprint each), N re-activations (of a
held seat), N heartbeats and N releases, in 5 batches each, and prints the median CPU
milliseconds per call of this process (web) and of PostgreSQL's backends (database); the
`ceiling` those give for this machine's cores (the most bench/activations could reach if HTTP,
wrk and Redis were free); then the web CPU of the parts of a call (`parts_us`: the pooled
connection's check, the throttle, Django's handler).
Figures: JSON on the last line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MIX,
    cpu_times,
    cpu_used,
    emit,
    fresh_migrated_database,
    pg_start,
    pg_stop,
    postgres_pids,
    psql,
    redis_start,
    redis_stop,
    setup_django,
)

DB = "bench_calls"
KEY = "40000-00000-00000-00000-00000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per batch")
    parser.add_argument("--keep", action="store_true", help="leave PostgreSQL and Redis running")
    args = parser.parse_args()

    pg_start()
    redis_start()
    try:
        measure(args)
    finally:
        if not args.keep:
            pg_stop()  # fast shutdown: disconnects this process too
            redis_stop()


def measure(args: argparse.Namespace) -> None:
    fresh_migrated_database(DB)
    setup_django(DB, API_THROTTLE_LICENSE="100000000/min")

    from licensing import services
    from licensing.models import Entitlement, Seat
    from portal.wsgi import application

    customer = services.customer_create(name="Calls Customer")
    product = services.product_create(name="Calls Product")
    entitlement = services.entitlement_create(
        customer=customer, product=product, seats=10**8, hard_limit=12 * 10**7, lease_seconds=3600
    )
    Entitlement.objects.filter(pk=entitlement.pk).update(license_key=KEY)

    def call(method: str, path: str, body: bytes = b"") -> tuple[str, bytes]:
        return call_with(environ_for(method, path, body))

    def environ_for(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        return {
            "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_AUTHORIZATION": f"License {KEY}", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }  # fmt: skip

    def call_with(environ: dict[str, Any]) -> tuple[str, bytes]:
        status: list[str] = []
        chunks = application(environ, lambda s, h, e=None: status.append(s))
        content = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        return status[0], content

    def activation_environ(fingerprint: str = "") -> dict[str, Any]:
        fingerprint = fingerprint or f"calls-{random.randrange(1 << 48)}"
        body = json.dumps({"fingerprint": fingerprint}).encode()
        return environ_for("POST", "/api/v1/activations", body)

    def activate() -> str:
        status, content = call_with(activation_environ())
        assert status.startswith("201"), (status, content)
        return str(json.loads(content)["id"])

    def reactivate(fingerprint: str) -> None:
        status, content = call_with(activation_environ(fingerprint))
        assert status.startswith("200"), (status, content)

    def batch(fn: Callable[[], Any]) -> tuple[float, float]:
        pids = postgres_pids("client")
        db_before, web_before = cpu_times(pids), time.process_time()
        for _ in range(args.calls):
            fn()
        web = time.process_time() - web_before
        db = cpu_used(db_before, cpu_times(postgres_pids("client")))
        return web * 1000 / args.calls, db * 1000 / args.calls

    for _ in range(50):  # warm up: connections, prepared statements, caches
        activate()
    held = [activate() for _ in range(5 * args.calls)]
    psql("ANALYZE", DB)  # as autovacuum would have by now (bench/activations.py, analyze())
    beats, releases = iter(held), iter(held)
    fingerprints = iter(Seat.objects.filter(pk__in=held).values_list("fingerprint", flat=True))
    figures: dict[str, Any] = {"benchmark": "calls", "calls_per_batch": args.calls, "batches": 5}
    for name, fn in (
        ("activation", activate),
        ("reactivation", lambda: reactivate(next(fingerprints))),
        ("heartbeat", lambda: call("POST", f"/api/v1/activations/{next(beats)}/heartbeat")),
        ("release", lambda: call("DELETE", f"/api/v1/activations/{next(releases)}")),
    ):
        runs = [batch(fn) for _ in range(5)]
        figures[name] = {
            "web_cpu_ms": round(statistics.median(r[0] for r in runs), 3),
            "db_cpu_ms": round(statistics.median(r[1] for r in runs), 3),
        }
    figures["ceiling"] = ceiling(figures)
    figures["parts_us"] = parts(args.calls * 5, call_with, activation_environ)
    figures["machine"] = {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
    emit(figures)


def ceiling(figures: dict[str, Any]) -> dict[str, Any]:
    """The most this machine's cores could serve of bench/activations' load (MIX) if the HTTP
    server, the load generator and Redis cost nothing: all CPU to the calls' own web and
    database CPU measured here (the database's background processes left out too). An upper
    bound for the HTTP benchmark on the same machine, in the same minute."""
    calls = ("activation", "heartbeat", "release")
    per_request = sum(
        share * (figures[c]["web_cpu_ms"] + figures[c]["db_cpu_ms"])
        for share, c in zip(MIX, calls, strict=True)
    ) / sum(MIX)
    cpus = os.cpu_count() or 1
    requests = cpus * 1000 / per_request
    return {
        "mix": list(MIX),
        "cpu_ms_per_request": round(per_request, 3),
        "cpus": cpus,
        "requests_per_s": round(requests),
        "activations_per_s": round(requests * MIX[0] / sum(MIX)),
    }


def parts(
    n: int,
    call_with: Callable[[dict[str, Any]], tuple[str, bytes]],
    activation_environ: Callable[[], dict[str, Any]],
) -> dict[str, float]:
    """Web CPU in microseconds of the parts of a client API call, each the median of 5 rounds
    of `n`, the two ways of a comparison alternating round by round (docs/performance.md)."""
    from django.core.cache import caches
    from django.core.handlers.wsgi import WSGIRequest
    from django.db import connection
    from psycopg_pool import ConnectionPool

    import portal.postgres.base as pooled
    from licensing.api import client, throttling

    def cpu_us(fn: Callable[[], Any]) -> float:
        started = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - started) * 1e6 / n

    def checkout() -> None:  # what a request does with its pooled connection
        connection.ensure_connection()
        connection.close()

    activation_view = client.ActivationCreateView.as_view()
    redis_client = caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]
    rounds: dict[str, list[float]] = {}
    cheap_check = pooled.check_idle_connection
    for _ in range(5):
        for name, fn in (
            ("pool_checkout_socket_check", checkout),
            ("pool_checkout_round_trip_check", checkout),
            ("throttle_round_trip", lambda: throttling.hit("API_THROTTLE_LICENSE", KEY)),
            ("redis_ping_floor", lambda: redis_client.ping()),
            ("activation_whole_call", lambda: call_with(activation_environ())),
            ("activation_view_alone", lambda: activation_view(
                WSGIRequest(activation_environ()))),
        ):  # fmt: skip
            round_trip = name == "pool_checkout_round_trip_check"
            pooled.check_idle_connection = (  # type: ignore[assignment]
                ConnectionPool.check_connection if round_trip else cheap_check
            )
            rounds.setdefault(name, []).append(cpu_us(fn))
    pooled.check_idle_connection = cheap_check  # type: ignore[assignment]
    figures = {name: round(statistics.median(r), 1) for name, r in rounds.items()}
    figures["handler_middleware_and_checkout"] = round(
        figures["activation_whole_call"] - figures["activation_view_alone"], 1
    )
    return figures


if __name__ == "__main__":
    main()
