"""/healthz (process alive) and /readyz (database and broker reachable)."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from django.db.utils import ConnectionHandler
from django.test import Client

from portal import health


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_healthz_answers_without_touching_the_database(client: Client) -> None:
    # No `db` fixture: any database access would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_probes_answer_a_host_name_not_in_allowed_hosts(client: Client, db: Any) -> None:
    """Load balancers address servers by IP; the probe must not fail host validation."""
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200


def test_readyz_is_ok_when_the_database_answers(client: Client, db: Any, settings: Any) -> None:
    settings.CELERY_BROKER_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(
    client: Client, db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real connection attempt to a closed port (or a SQLite file that cannot exist)."""
    settings.CELERY_BROKER_URL = ""
    broken = dict(settings.DATABASES["default"])
    if broken["ENGINE"].endswith("sqlite3"):
        broken["NAME"] = "/nonexistent-folder/portal.sqlite3"
    else:
        broken.update(HOST="127.0.0.1", PORT=str(_closed_port()))
        broken["OPTIONS"] = {"connect_timeout": 2}
    handler = ConnectionHandler({"default": broken})
    monkeypatch.setattr(health, "connections", handler)
    try:
        response = client.get("/readyz")
    finally:
        handler.close_all()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failed": ["database"],
        "checks": {"database": "failed", "cache": "ok"},
    }


def test_readyz_is_200_degraded_naming_the_broker_when_it_is_unreachable(
    client: Client, db: Any, settings: Any
) -> None:
    """Events wait in the outbox while the broker is away: the web tier still serves, so a
    load balancer must not take it out."""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "degraded": ["broker"],
        "checks": {"database": "ok", "cache": "ok", "broker": "degraded"},
    }


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_readyz_checks_a_reachable_broker(client: Client, db: Any, settings: Any) -> None:
    settings.CELERY_BROKER_URL = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/6"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_probes_only_answer_get_and_head(client: Client, db: Any) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 404
