"""Probes for load balancers and orchestrators: `/healthz` and `/readyz`.

`/healthz` says the process is alive and touches nothing else. `/readyz` says whether this
process can serve, and how well:
- 200 `ok`: the database answers a trivial query, and the cache's Redis and the broker (when
  configured) answer too;
- 200 `degraded`: the database answers but Redis, the broker or the read replica (when
  configured) does not. License clients are still served (throttles count in process memory,
  events wait in the outbox, reads go to the primary), so a load balancer must keep sending
  traffic: every web process would be degraded alike;
- 503 `unavailable`: the database does not answer (within DATABASE_CONNECT_TIMEOUT, or at once
  while its breaker is open): requests would get 503s too.

The middleware answers both before anything else runs, so probes that address the server by
its IP (a Host header not in ALLOWED_HOSTS) or over plain HTTP behind a TLS-terminating proxy
still get an answer, and no session, CSRF or auth work is done for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu import Connection

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS: Final = 1.0


def check_database(alias: str = "default") -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker(url: str) -> None:
    with Connection(
        url,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
        transport_options={
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
        },
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


def check_cache() -> None:
    """Raise while the cache's Redis is unavailable (its breaker open after this call)."""
    cache = caches["default"]
    breaker = getattr(cache, "breaker", None)  # portal.cache.ResilientRedisCache
    if breaker is not None:
        cache.has_key("readyz")
        if breaker.is_open:
            raise ConnectionError("the cache's Redis is unavailable; answering from memory")


def readiness() -> dict[str, str]:
    """Each check's outcome: "ok", or "failed" for the database and "degraded" for the others
    (the reason is logged, not shown)."""
    checks: dict[str, Callable[[], None]] = {"database": check_database, "cache": check_cache}
    if "replica" in settings.DATABASES:  # DATABASE_REPLICA_URL: reads fall back to the primary
        checks["replica"] = lambda: check_database("replica")
    broker_url = getattr(settings, "CELERY_BROKER_URL", "")
    if broker_url:
        checks["broker"] = lambda: check_broker(broker_url)
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the probe must not crash
            logger.warning("readiness check %s failed: %s", name, exc, extra={"check": name})
            results[name] = "failed" if name == "database" else "degraded"
        else:
            results[name] = "ok"
    return results


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    checks = readiness()
    failed = [name for name, outcome in checks.items() if outcome == "failed"]
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": checks}, status=503
        )
    degraded = [name for name, outcome in checks.items() if outcome == "degraded"]
    if degraded:
        return JsonResponse({"status": "degraded", "degraded": degraded, "checks": checks})
    return JsonResponse({"status": "ok", "checks": checks})


PROBES: Final[dict[str, Callable[[HttpRequest], HttpResponse]]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in {"GET", "HEAD"}:
            return self.get_response(request)
        response = probe(request)
        response["Cache-Control"] = "no-store"
        return response
