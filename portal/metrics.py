"""Prometheus metrics at `/metrics`.

Business figures (activations by result, outbox backlog, webhook deliveries by status) are
computed from the database at scrape time with a few aggregate queries: they are the same
whichever web process answers the scrape, survive restarts, and cost the hot path nothing.
Request latency is measured in-process per view; with several gunicorn workers, set
PROMETHEUS_MULTIPROC_DIR to an empty folder (scripts/stack does) so a scrape adds up every
worker's samples (prometheus_client's multiprocess mode).

Access: with METRICS_TOKEN set, `Authorization: Bearer <token>`; unset, only from the same host
(127.0.0.1 or ::1).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from django.conf import settings
from django.db.models import Count, Min, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from licensing.models import Event, UsageBucket
from webhooks.models import DeliveryAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

METRICS_PATH: Final = "/metrics"
_LOCAL_ADDRESSES: Final = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, per view.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def _count_by(rows: QuerySet[Any], field: str) -> dict[Any, int]:
    """How many rows have each value of `field`, in one GROUP BY query.

    `order_by()` clears any ordering the queryset carries: ordered columns would join the
    GROUP BY and split the counts.
    """
    return dict(rows.order_by().values_list(field).annotate(n=Count("id")).values_list(field, "n"))


class DatabaseCollector(Collector):
    """Figures read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily(
            "portal_metrics_database_up", "1 when the database figures below could be read."
        )
        try:
            families = list(self._families())
        except Exception:  # a scrape during a database outage still returns process metrics
            logger.warning("metrics: could not read the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        # UsageBucket rows are kept for ever (retention prunes only raw events), so these sums
        # only grow: a proper counter. `activations` counts every granted seat, overdraft too.
        totals = UsageBucket.objects.aggregate(
            granted=Sum("activations"),
            overdraft=Sum("overdraft_activations"),
            denied=Sum("denials"),
        )
        granted, overdraft = totals["granted"] or 0, totals["overdraft"] or 0
        activations = CounterMetricFamily(
            "portal_activations",
            "Seat activations by result: ok (within the entitled seats), overdraft, denied.",
            labels=["result"],
        )
        activations.add_metric(["ok"], granted - overdraft)
        activations.add_metric(["overdraft"], overdraft)
        activations.add_metric(["denied"], totals["denied"] or 0)
        yield activations

        # The partial index licensing_event_undispatched serves both.
        backlog = Event.objects.filter(dispatched_at__isnull=True).aggregate(
            count=Count("seq"), oldest=Min("occurred_at")
        )
        yield GaugeMetricFamily(
            "portal_outbox_backlog",
            "Events not yet fanned out to webhooks and emails.",
            value=backlog["count"],
        )
        oldest = backlog["oldest"]
        age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "portal_outbox_oldest_age_seconds",
            "Age of the oldest undispatched event (0 when the outbox is empty).",
            value=max(age, 0.0),
        )

        deliveries = GaugeMetricFamily(
            "portal_webhook_deliveries",
            "Webhook deliveries by status (pending ones are still being retried).",
            labels=["status"],
        )
        by_status = _count_by(WebhookDelivery.objects.all(), "status")
        for status in WebhookDelivery.Status.values:
            deliveries.add_metric([status], by_status.get(status, 0))
        yield deliveries

        attempts = CounterMetricFamily(
            "portal_webhook_attempts",
            "HTTP attempts to deliver webhooks by outcome.",
            labels=["outcome"],
        )
        by_outcome = _count_by(DeliveryAttempt.objects.all(), "succeeded")
        attempts.add_metric(["succeeded"], by_outcome.get(True, 0))
        attempts.add_metric(["failed"], by_outcome.get(False, 0))
        yield attempts


def render() -> bytes:
    """The exposition text: this process's (or all workers') metrics plus the database's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process = CollectorRegistry()
        multiprocess.MultiProcessCollector(process)
    else:
        process = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return generate_latest(process) + generate_latest(database)


def allowed(request: HttpRequest) -> HttpResponse | None:
    """None when the scrape may proceed, else the refusal to send."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return None
        response = HttpResponse("metrics: bearer token required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.META.get("REMOTE_ADDR") in _LOCAL_ADDRESSES:
        return None
    return HttpResponse("metrics: only from this host (set METRICS_TOKEN)\n", status=403)


def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = allowed(request)
    if refusal is not None:
        refusal["Content-Type"] = "text/plain; charset=utf-8"
        return refusal
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


def _view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return "static"  # served by WhiteNoise before URL resolution
        return "unmatched"  # 404s: never the raw path, which would explode the label set
    return match.view_name or "unnamed"


class MetricsMiddleware:
    """Serves `/metrics` and times every other request per view name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == METRICS_PATH and request.method in {"GET", "HEAD"}:
            response = metrics_view(request)
            response["Cache-Control"] = "no-store"
            return response
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        REQUEST_LATENCY.labels(view=_view_label(request), method=method).observe(
            time.perf_counter() - started
        )
        return response
