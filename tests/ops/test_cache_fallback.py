"""The cache's Redis away: every cache call is answered from process memory, Redis is left
alone for a while after a failure (one timeout per interval, not per call), and it shows in
/readyz, /metrics and one log line per change of state."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from prometheus_client import REGISTRY

from portal.breaker import CircuitBreaker
from tests.servers import free_port


@pytest.fixture
def dead_redis(settings: Any) -> Any:
    """The default cache pointed at a port nothing listens on."""
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            "RETRY_SECONDS": 60,
        }
    }
    return caches["default"]


def _fallback_calls() -> float:
    return REGISTRY.get_sample_value("portal_cache_fallback_calls_total") or 0.0


def test_every_cache_call_is_answered_from_memory_while_redis_is_away(dead_redis: Any) -> None:
    before = _fallback_calls()
    assert dead_redis.add("k", 1, timeout=60) is True
    assert dead_redis.incr("k") == 2
    assert dead_redis.get("k") == 2
    dead_redis.set("other", "value")
    assert dead_redis.get_many(["k", "other"]) == {"k": 2, "other": "value"}
    with pytest.raises(ValueError):
        dead_redis.incr("missing")  # Django's contract holds in the fallback too
    assert dead_redis.breaker.is_open
    assert _fallback_calls() - before == 6


def test_one_log_line_when_the_breaker_opens_not_one_per_call(
    dead_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.breaker"):
        for n in range(20):
            dead_redis.set(f"k{n}", n)
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.breaker"]
    assert len(lines) == 1
    assert "breaker open" in lines[0]


def test_license_clients_are_served_with_the_cache_away(
    dead_redis: Any, license_client: Any
) -> None:
    for n in range(3):
        response = license_client.post("/api/v1/activations", {"fingerprint": f"m{n}"}, "json")
        assert response.status_code == 201
    assert license_client.get("/api/v1/entitlement").json()["seats"]["used"] == 3


def test_throttles_still_count_in_memory(
    dead_redis: Any, settings: Any, license_client: Any
) -> None:
    settings.API_THROTTLE_LICENSE = "2/min"
    statuses = [license_client.get("/api/v1/entitlement").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_readyz_says_degraded_naming_the_cache_and_stays_200(
    dead_redis: Any, client: Client, db: Any, settings: Any
) -> None:
    settings.CELERY_BROKER_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "degraded": ["cache"],
        "checks": {"database": "ok", "cache": "degraded"},
    }


def test_metrics_show_the_open_breaker(dead_redis: Any, client: Client, db: Any) -> None:
    dead_redis.get("anything")
    text = client.get("/metrics").content.decode()
    name = dead_redis.breaker.name
    assert f'portal_dependency_degraded{{dependency="{name}"}} 1.0' in text
    assert "portal_cache_fallback_calls_total" in text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestBreaker:
    def test_closed_lets_every_call_through(self) -> None:
        breaker = CircuitBreaker("t", retry_seconds=60)
        assert all(breaker.allow() for _ in range(5))

    def test_open_refuses_until_the_retry_time_then_lets_one_caller_probe(self) -> None:
        clock = Clock()
        breaker = CircuitBreaker("t", retry_seconds=5, clock=clock)
        breaker.failed(ConnectionError("refused"))
        assert not breaker.allow()
        clock.now += 4.9
        assert not breaker.allow()
        clock.now += 0.2
        assert breaker.allow()  # the probe
        assert not breaker.allow()  # everyone else, while it probes
        breaker.succeeded()
        assert not breaker.is_open
        assert breaker.allow() and breaker.allow()

    def test_a_failed_probe_opens_it_for_another_interval(self) -> None:
        clock = Clock()
        breaker = CircuitBreaker("t", retry_seconds=5, clock=clock)
        breaker.failed(ConnectionError("refused"))
        clock.now += 5.1
        with pytest.raises(ConnectionError), breaker.attempt(ConnectionError):
            assert breaker.allow()
            raise ConnectionError("still refused")
        assert not breaker.allow()
        clock.now += 5.1
        assert breaker.allow()

    def test_an_answer_that_is_an_error_of_another_kind_closes_it(self) -> None:
        breaker = CircuitBreaker("t", retry_seconds=0)
        breaker.failed(ConnectionError("refused"))
        with pytest.raises(ValueError), breaker.attempt(ConnectionError):
            assert breaker.allow()
            raise ValueError("incr of a missing key")
        assert not breaker.is_open
