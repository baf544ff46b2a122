"""Structured logs: JSON lines with the request id, one line per API call with its result."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from licensing.models import Entitlement
from portal.logging import JsonFormatter, request_id_var


def test_a_json_line_has_time_level_logger_message_request_id_and_extra_fields() -> None:
    record = logging.getLogger("portal.test").makeRecord(
        "portal.test", logging.WARNING, __file__, 1, "seat %s taken", ("42",), None,
        extra={"entitlement_id": "e-1", "seats": {"used": 3}},
    )  # fmt: skip
    token = request_id_var.set("req-123")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "portal.test"
    assert entry["message"] == "seat 42 taken"
    assert entry["request_id"] == "req-123"
    assert entry["entitlement_id"] == "e-1"
    assert entry["seats"] == {"used": 3}


def test_exceptions_stay_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] is None
    assert "ValueError: boom" in entry["exc_info"]


def test_each_activation_logs_one_line_with_the_request_id_and_result(
    make_entitlement: Callable[..., Entitlement], json_log: Any
) -> None:
    lines = json_log("portal.access")
    entitlement = make_entitlement(seats=1, hard_limit=2)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    for n in range(3):
        response = api.post(
            "/api/v1/activations",
            {"fingerprint": f"host-{n}"},
            format="json",
            HTTP_X_REQUEST_ID=f"lb-req-{n}",
        )
        assert response["X-Request-ID"] == f"lb-req-{n}"

    logged = lines()
    assert [(e["request_id"], e["activation_result"], e["status"]) for e in logged] == [
        ("lb-req-0", "ok", 201),
        ("lb-req-1", "overdraft", 201),
        ("lb-req-2", "denied", 409),
    ]
    entry = logged[-1]
    assert entry["logger"] == "portal.access"
    assert entry["method"] == "POST"
    assert entry["path"] == "/api/v1/activations"
    assert entry["view"] == "api:activation-create"
    assert entry["error_code"] == "hard_limit_reached"
    assert entry["message"] == "POST /api/v1/activations 409 denied"
    assert entry["duration_ms"] >= 0


def test_api_errors_log_their_code_and_no_activation_result(db: Any, json_log: Any) -> None:
    lines = json_log("portal.access")
    response = APIClient().post(
        "/api/v1/activations",
        {"fingerprint": "x"},
        format="json",
        HTTP_AUTHORIZATION="License NOT-A-KEY",
    )
    assert response.status_code == 401
    (entry,) = lines()
    assert entry["error_code"] == "invalid_license_key"
    assert "activation_result" not in entry


def test_pages_are_not_logged_per_request(client: Client, db: Any, json_log: Any) -> None:
    lines = json_log("portal.access")
    client.get("/accounts/login/")
    assert lines() == []


def test_an_unsafe_incoming_request_id_is_replaced(client: Client, db: Any) -> None:
    for bad in ['evil" "level": "CRITICAL', "x" * 200, "two words", "line\nbreak"]:
        response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), bad
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_every_log_line_of_a_request_carries_its_id(
    client: Client, db: Any, settings: Any, json_log: Any
) -> None:
    """Lines logged inside the request (a failed readiness check) and by Django after the
    middleware returned (the 404 response log) both carry the request's id."""
    health_lines = json_log("portal.health")
    request_lines = json_log("django.request")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    client.get("/readyz", HTTP_X_REQUEST_ID="probe-7")
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="page-8")
    assert [e["request_id"] for e in health_lines()] == ["probe-7"]
    assert health_lines()[0]["check"] == "broker"
    # Django logs the 404 itself, after the middleware returned (the degraded probe is a 200).
    assert [e["request_id"] for e in request_lines()] == ["page-8"]
