"""The usage endpoint answers the portal chart's numbers: the same selector, the same points."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from licensing import selectors, services

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


@pytest.fixture
def history(make_entitlement):
    """A morning into overdraft and a denial the next day."""
    small = make_entitlement(seats=2, hard_limit=3, starts_at=T0 - timedelta(days=1))
    with time_machine.travel(T0, tick=False) as clock:
        for i in range(3):
            services.seat_activate(entitlement=small, fingerprint=f"m-{i}")
            clock.shift(timedelta(minutes=50))
        clock.shift(timedelta(days=1))
        services.seat_activate(entitlement=small, fingerprint="late")
        seat = services.seat_activate(entitlement=small, fingerprint="m-0").seat
        assert seat is not None
        services.seat_release(entitlement=seat.entitlement, seat_id=seat.pk)
    return small


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_usage_equals_the_selector_output(vendor, history, bucket):
    start, end = T0 - timedelta(hours=3), T0 + timedelta(days=3)
    response = vendor.get(
        f"/api/v1/entitlements/{history.pk}/usage",
        {"start": start.isoformat(), "end": end.isoformat(), "bucket": bucket},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    expected = selectors.usage_series(history, start=start, end=end, bucket=bucket)
    assert len(body["points"]) == len(expected) > 0
    for point, want in zip(body["points"], expected, strict=True):
        assert datetime.fromisoformat(point["start"]) == want.start
        assert {k: v for k, v in point.items() if k != "start"} == {
            k: v for k, v in want.as_dict().items() if k != "start"
        }
    assert (body["seats"], body["hard_limit"]) == (2, 3)
    assert max(p["peak"] for p in body["points"]) == 3
    assert sum(p["denials"] for p in body["points"]) == 1


def test_usage_defaults_to_hourly_buckets(vendor, history):
    response = vendor.get(
        f"/api/v1/entitlements/{history.pk}/usage",
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"},
    )
    assert response.json()["bucket"] == "hour"
    assert len(response.json()["points"]) == 24


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"start": "2026-03-02T00:00:00Z"},
        {"start": "2026-03-03T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z", "bucket": "week"},
        {"start": "2000-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z", "bucket": "hour"},
        {"start": "yesterday", "end": "2030-01-01T00:00:00Z"},
    ],
    ids=str,
)
def test_bad_usage_queries_are_400(vendor, entitlement, query):
    response = vendor.get(f"/api/v1/entitlements/{entitlement.pk}/usage", query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("bucket", "end", "message"),
    [
        ("hour", "2027-01-01T00:00:00Z", "At most 400 days of hourly buckets at once."),
        ("day", "2031-01-01T00:00:00Z", "At most 1830 days of daily buckets at once."),
    ],
)
def test_too_long_a_usage_range_says_how_long_it_may_be(vendor, entitlement, bucket, end, message):
    response = vendor.get(
        f"/api/v1/entitlements/{entitlement.pk}/usage",
        {"start": "2025-01-01T00:00:00Z", "end": end, "bucket": bucket},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"end": [message]}
    assert response.json()["message"] == f"end: {message}"
