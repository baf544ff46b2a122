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


def _point(start, peak, closing, zone, overdraft_hours=0, **counts):
    """One point as the API writes it; counts not named are 0. Lines: 2 seats, 3 hard limit."""
    return {
        "start": start,
        "peak": peak,
        "closing": closing,
        "activations": counts.get("activations", 0),
        "overdraft_activations": counts.get("overdraft_activations", 0),
        "denials": counts.get("denials", 0),
        "releases": counts.get("releases", 0),
        "overdraft_hours": overdraft_hours,
        "overdraft_seat_hours": overdraft_hours,  # one seat over the 2 in every such hour
        "entitled": 2,
        "hard_limit": 3,
        "customer_cap": None,
        "zone": zone,
        "partial": False,
    }


def _usage(vendor, history, bucket):
    response = vendor.get(
        f"/api/v1/entitlements/{history.pk}/usage",
        {
            "start": "2026-03-02T06:15:00Z",  # T0 - 3 h
            "end": "2026-03-05T09:15:00Z",  # T0 + 3 days
            "bucket": bucket,
        },
    )
    assert response.status_code == 200, response.json()
    return response.json()


def test_daily_usage_of_the_history_worked_out_by_hand(vendor, history):
    """Mar 2: seats taken at 09:15, 10:05 and 10:55, so one seat over the 2 from the 10:00
    hour to the end of the day (10:00..23:00, 14 hours). Mar 3: still 3 until the denial and
    the release at 11:45, so 00:00..11:00 is over (12 hours). Mar 4: 2 seats all day. The range
    ends at Mar 5 09:15, inside Mar 5: buckets end at the last whole one, so Mar 5 is not a
    point (as the hourly range ends with the 08:00 hour)."""
    body = _usage(vendor, history, "day")
    assert (body["seats"], body["hard_limit"]) == (2, 3)
    assert body["points"] == [
        _point(
            "2026-03-02T00:00:00+00:00", 3, 3, "at_hard_limit", 14,
            activations=3, overdraft_activations=1,
        ),
        _point(
            "2026-03-03T00:00:00+00:00", 3, 2, "at_hard_limit", 12, denials=1, releases=1
        ),
        _point("2026-03-04T00:00:00+00:00", 2, 2, "within"),
    ]  # fmt: skip
    assert body["capacity"] == {
        "peak": 3,
        "p95_daily_peak": 3,
        "overdraft_hours": 26,
        "overdraft_seat_hours": 26,
        "denials": 1,
        "activations": 3,
        "demand": 3,  # the daily peaks were 3, 3, 2; a denial makes it at least the limit, 3
        "recommended_seats": 4,  # 3 with 5% headroom is 3.15, rounded up to whole seats
    }


def test_hourly_usage_of_the_history_worked_out_by_hand(vendor, history):
    """From the 06:00 hour of Mar 2 to the 08:00 hour of Mar 5: 18 + 24 + 24 + 9 = 75 hours."""
    body = _usage(vendor, history, "hour")
    points = {point["start"]: point for point in body["points"]}
    assert len(body["points"]) == len(points) == 75
    assert body["points"][0] == _point("2026-03-02T06:00:00+00:00", 0, 0, "within")
    assert body["points"][-1] == _point("2026-03-05T08:00:00+00:00", 2, 2, "within")
    assert points["2026-03-02T08:00:00+00:00"] == _point(
        "2026-03-02T08:00:00+00:00", 0, 0, "within"
    )
    assert points["2026-03-02T09:00:00+00:00"] == _point(
        "2026-03-02T09:00:00+00:00", 1, 1, "within", activations=1
    )
    assert points["2026-03-02T10:00:00+00:00"] == _point(
        "2026-03-02T10:00:00+00:00", 3, 3, "at_hard_limit", 1,
        activations=2, overdraft_activations=1,
    )  # fmt: skip
    assert points["2026-03-03T10:00:00+00:00"] == _point(
        "2026-03-03T10:00:00+00:00", 3, 3, "at_hard_limit", 1
    )
    assert points["2026-03-03T11:00:00+00:00"] == _point(
        "2026-03-03T11:00:00+00:00", 3, 2, "at_hard_limit", 1, denials=1, releases=1
    )
    assert points["2026-03-03T12:00:00+00:00"] == _point(
        "2026-03-03T12:00:00+00:00", 2, 2, "within"
    )
    over = [p["start"] for p in body["points"] if p["overdraft_hours"]]
    assert len(over) == 26
    assert (over[0], over[-1]) == ("2026-03-02T10:00:00+00:00", "2026-03-03T11:00:00+00:00")


def test_usage_equals_the_selector_output(vendor, history):
    """The API is the chart's selector, point for point (the figures are pinned above)."""
    start, end = T0 - timedelta(hours=3), T0 + timedelta(days=3)
    body = _usage(vendor, history, "hour")
    expected = selectors.usage_series(history, start=start, end=end, bucket="hour")
    assert [point["peak"] for point in body["points"]] == [want.peak for want in expected]


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
