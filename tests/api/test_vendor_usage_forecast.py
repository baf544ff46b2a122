"""The usage endpoint's `forecast`: the portal's forecast as of now, whatever the range asked."""

from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from licensing import selectors
from licensing.models import Entitlement
from tests.portal.test_usage_forecast import T0, growing

pytestmark = pytest.mark.django_db


def _usage(vendor: Any, entitlement: Entitlement, start: str, end: str) -> dict[str, Any]:
    with time_machine.travel(T0, tick=False):
        response = vendor.get(
            f"/api/v1/entitlements/{entitlement.pk}/usage",
            {"start": start, "end": end, "bucket": "day"},
        )
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def test_usage_returns_the_forecast_of_now(
    vendor: Any, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement, _ = growing(make_entitlement)

    body = _usage(vendor, entitlement, "2026-03-01T00:00:00Z", "2026-03-12T00:00:00Z")

    found = body["forecast"]
    expected = selectors.usage_forecast(entitlement, now=T0)
    assert {key: found[key] for key in ("available", "reason", "as_of", "history_days")} == {
        "available": True,
        "reason": "",
        "as_of": "2026-03-11",
        "history_days": 56,
    }
    assert (found["horizon_days"], found["weekly_growth"]) == (90, 7.0)
    assert found["entitled"] == {
        "name": "entitled seats",
        "seats": 100,
        "reached": False,
        "expected": "2026-03-31",
        "earliest": expected.entitled.earliest.isoformat(),  # type: ignore[union-attr]
        "latest": expected.entitled.latest.isoformat(),  # type: ignore[union-attr]
    }
    assert (found["limit"]["name"], found["limit"]["seats"], found["limit"]["expected"]) == (
        "hard limit",
        120,
        "2026-04-20",
    )
    assert len(found["days"]) == 90
    assert found["days"][0] == {
        "day": "2026-03-12",
        "expected": 81.0,
        "low": round(expected.days[0].low, 1),
        "high": round(expected.days[0].high, 1),
    }


def test_the_forecast_does_not_depend_on_the_range_asked(
    vendor: Any, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement, _ = growing(make_entitlement)
    recent = _usage(vendor, entitlement, "2026-03-01T00:00:00Z", "2026-03-12T00:00:00Z")
    old = _usage(vendor, entitlement, "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z")
    assert recent["forecast"] == old["forecast"]


def test_too_little_history_says_why(vendor: Any, entitlement: Entitlement) -> None:
    response = vendor.get(
        f"/api/v1/entitlements/{entitlement.pk}/usage",
        {"start": "2026-03-01T00:00:00Z", "end": "2026-03-12T00:00:00Z", "bucket": "day"},
    )
    found = response.json()["forecast"]
    assert found["available"] is False
    assert found["reason"] == "it needs 14 complete days of use, there are 0"
    assert (found["entitled"], found["limit"], found["days"]) == (None, None, [])
