"""Prometheus metrics at /metrics: content computed from the database, and who may read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from licensing.models import Entitlement, Event
from portal import metrics
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

TOKEN = "metrics-token-0123456789"


def _samples(response: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def no_token(settings: Any) -> None:
    settings.METRICS_TOKEN = ""


@pytest.mark.usefixtures("no_token")
def test_metrics_are_served_to_this_host_without_a_token(client: Client, db: Any) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.usefixtures("no_token")
def test_metrics_are_refused_to_other_hosts_without_a_token(client: Client, db: Any) -> None:
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 403
    assert b"portal_" not in response.content


def test_metrics_need_the_bearer_token_when_one_is_set(
    client: Client, db: Any, settings: Any
) -> None:
    settings.METRICS_TOKEN = TOKEN
    # With a token set, being local is not enough (a reverse proxy on the same host is local).
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="10.0.0.5")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="10.0.0.5")
    assert right.status_code == 200
    assert b"portal_activations_total" in right.content


@pytest.mark.usefixtures("no_token")
def test_activations_are_counted_by_result(
    client: Client, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=2)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    statuses = [
        api.post("/api/v1/activations", {"fingerprint": f"host-{n}"}, format="json").json()[
            "status"
        ]
        for n in range(4)
    ]
    assert statuses == ["ok", "overdraft", "denied", "denied"]

    samples = _samples(client.get("/metrics"))
    assert _value(samples, "portal_activations_total", result="ok") == 1
    assert _value(samples, "portal_activations_total", result="overdraft") == 1
    assert _value(samples, "portal_activations_total", result="denied") == 2
    assert _value(samples, "portal_metrics_database_up") == 1


@pytest.mark.usefixtures("no_token")
def test_outbox_backlog_counts_undispatched_events(
    client: Client, entitlement: Entitlement
) -> None:
    # No commit happens inside the test transaction, so nothing has been fanned out yet.
    undispatched = Event.objects.filter(dispatched_at__isnull=True).count()
    assert undispatched > 0
    samples = _samples(client.get("/metrics"))
    assert _value(samples, "portal_outbox_backlog") == undispatched
    assert _value(samples, "portal_outbox_oldest_age_seconds") >= 0

    Event.objects.update(dispatched_at=timezone.now())
    samples = _samples(client.get("/metrics"))
    assert _value(samples, "portal_outbox_backlog") == 0
    assert _value(samples, "portal_outbox_oldest_age_seconds") == 0


@pytest.mark.usefixtures("no_token")
def test_webhook_deliveries_are_counted_by_status_and_attempts_by_outcome(
    client: Client, entitlement: Entitlement
) -> None:
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    event = Event.objects.filter(entitlement=entitlement).first()
    assert event is not None
    statuses = ["succeeded", "succeeded", "pending", "permanent_failure"]
    for status in statuses:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_type="seat.activated", status=status
        )
        DeliveryAttempt.objects.create(delivery=delivery, succeeded=status == "succeeded")
    WebhookDelivery.objects.create(endpoint=endpoint, event=event, event_type=event.type)

    samples = _samples(client.get("/metrics"))
    assert _value(samples, "portal_webhook_deliveries", status="succeeded") == 2
    assert _value(samples, "portal_webhook_deliveries", status="pending") == 2
    assert _value(samples, "portal_webhook_deliveries", status="permanent_failure") == 1
    assert _value(samples, "portal_webhook_deliveries", status="failed") == 0
    assert _value(samples, "portal_webhook_attempts_total", outcome="succeeded") == 2
    assert _value(samples, "portal_webhook_attempts_total", outcome="failed") == 2


@pytest.mark.usefixtures("no_token")
def test_a_scrape_costs_four_aggregate_queries_whatever_the_data(
    client: Client, entitlement: Entitlement, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(4):
        assert client.get("/metrics").status_code == 200


@pytest.mark.usefixtures("no_token")
def test_request_latency_is_recorded_per_view_name(
    client: Client, license_client: APIClient
) -> None:
    def count() -> float:
        labels = {"view": "api:activation-create", "method": "POST"}
        value = REGISTRY.get_sample_value("portal_http_request_duration_seconds_count", labels)
        return value or 0.0

    before = count()
    license_client.post("/api/v1/activations", {"fingerprint": "timed"}, format="json")
    license_client.post("/api/v1/activations", {"fingerprint": "timed"}, format="json")
    assert count() == before + 2
    client.get("/no-such-page/")
    assert REGISTRY.get_sample_value(
        "portal_http_request_duration_seconds_count", {"view": "unmatched", "method": "GET"}
    )
    samples = _samples(client.get("/metrics"))
    assert (
        _value(
            samples,
            "portal_http_request_duration_seconds_count",
            view="api:activation-create",
            method="POST",
        )
        == before + 2
    )


@pytest.mark.usefixtures("no_token")
def test_metrics_still_answer_when_the_database_does_not(
    client: Client, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: metrics.DatabaseCollector) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr(metrics.DatabaseCollector, "_families", broken)
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response)
    assert _value(samples, "portal_metrics_database_up") == 0
    assert not any(name == "portal_activations_total" for name, _labels in samples)
