"""Probes for load balancers and orchestrators: `/healthz` and `/readyz`.

`/healthz` says the process is alive and touches nothing else. `/readyz` says this process can
serve: the database answers a trivial query and, when CELERY_BROKER_URL is set, the broker
accepts a connection, each within a short timeout; otherwise 503 with the checks that failed.

The middleware answers both before anything else runs, so probes that address the server by
its IP (a Host header not in ALLOWED_HOSTS) or over plain HTTP behind a TLS-terminating proxy
still get an answer, and no session, CSRF or auth work is done for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu import Connection

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS: Final = 2.0


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


def readiness() -> dict[str, str]:
    """Each check's outcome: "ok", or "failed" (the reason is logged, not shown)."""
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    broker_url = getattr(settings, "CELERY_BROKER_URL", "")
    if broker_url:
        checks["broker"] = lambda: check_broker(broker_url)
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the probe must not crash
            logger.warning("readiness check %s failed: %s", name, exc, extra={"check": name})
            results[name] = "failed"
        else:
            results[name] = "ok"
    return results


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    checks = readiness()
    failed = [name for name, outcome in checks.items() if outcome != "ok"]
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": checks}, status=503
        )
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
