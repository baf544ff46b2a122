"""The client API's lane (licensing/api/lane.py) answers exactly as the DRF views do.

The same calls go to two alike entitlements: once answered by the lane, once with the lane's
statements switched off so that every call reaches the DRF view. Status, headers and bodies
must match (ids aside).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from licensing import statements
from licensing.api import client as client_views
from licensing.models import Entitlement

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = datetime(2026, 4, 6, 10, 30, tzinfo=UTC)
SKIP_HEADERS = {"X-Request-ID", "Date"}


def _calls(key: str) -> list[tuple[int, dict[str, str], Any]]:
    http = Client(HTTP_AUTHORIZATION=f"License {key}")
    answers = []

    def keep(response: Any) -> Any:
        headers = {k: v for k, v in response.headers.items() if k not in SKIP_HEADERS}
        body = response.json() if response.content else None
        answers.append((response.status_code, headers, body))
        return body

    with time_machine.travel(T0, tick=False):
        ids = []
        for n in range(3):  # 2 entitled, 3 hard: ok, ok, overdraft
            body = keep(
                http.post(
                    "/api/v1/activations",
                    {"fingerprint": f"host-{n}", "label": "Build agent"},
                    content_type="application/json; charset=utf-8",
                )
            )
            ids.append(body.pop("id"))
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        keep(http.post(f"/api/v1/activations/{ids[0]}/heartbeat", HTTP_ACCEPT="*/*"))["id"] = ""
        keep(http.delete(f"/api/v1/activations/{ids[2]}"))
    return answers


def _two_alike(make_entitlement: Any) -> tuple[Entitlement, Entitlement]:
    kwargs = {"seats": 2, "hard_limit": 3, "lease_seconds": 900, "starts_at": T0 - timedelta(1)}
    return make_entitlement(**kwargs), make_entitlement(**kwargs)


def test_lane_answers_as_the_drf_views_do(
    make_entitlement: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lane, drf = _two_alike(make_entitlement)

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the lane handed a common-case call to DRF")

    with monkeypatch.context() as patch:
        for view in ("ActivationCreateView", "ActivationHeartbeatView", "ActivationReleaseView"):
            patch.setattr(getattr(client_views, view), "dispatch", must_not_run)
        lane_answers = _calls(lane.license_key)

    monkeypatch.setattr(statements, "available", lambda: False)
    drf_answers = _calls(drf.license_key)

    assert [a[0] for a in lane_answers] == [201, 201, 201, 200, 204]
    for lane_answer, drf_answer in zip(lane_answers, drf_answers, strict=True):
        assert lane_answer[0] == drf_answer[0]
        assert lane_answer[1] == drf_answer[1]
        assert lane_answer[2] == drf_answer[2]
    lane.refresh_from_db()
    drf.refresh_from_db()
    assert lane.seats_used == drf.seats_used == 2


def test_lane_counts_each_request_once_against_the_rate_limit(
    throttle_rates: Any, entitlement: Entitlement
) -> None:
    """Five calls pass at 5/min whether the lane or DRF answered them (a heartbeat for an
    unknown seat goes to DRF after the lane counted it), and the sixth is refused."""
    http = Client(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    assert (
        http.post("/api/v1/activations", {"fingerprint": "a"}, "application/json").status_code
        == 201
    )
    for _ in range(2):
        assert (
            http.post(
                "/api/v1/activations/00000000-0000-4000-8000-000000000000/heartbeat"
            ).status_code
            == 404
        )
    assert (
        http.post("/api/v1/activations", {"fingerprint": "a"}, "application/json").status_code
        == 200
    )
    assert http.get("/api/v1/entitlement").status_code == 200
    refused = http.post("/api/v1/activations", {"fingerprint": "b"}, "application/json")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"


def test_lane_leaves_content_negotiation_to_drf(entitlement: Entitlement) -> None:
    http = Client(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    response = http.post(
        "/api/v1/activations", {"fingerprint": "a"}, "application/json", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 406
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 0
