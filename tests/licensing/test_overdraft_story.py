"""The 100/120 story through the client API: ok, then overdraft, then denied."""

from licensing import services
from licensing.models import Event, Seat, UsageBucket

T = Event.Type


def _activate(client, fingerprint):
    return client.post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")


def _event_counts(entitlement):
    return {
        event_type: Event.objects.filter(entitlement=entitlement, type=event_type).count()
        for event_type in T.values
    }


def test_activations_go_ok_then_overdraft_then_denied_at_the_hard_limit(
    license_client, entitlement
):
    statuses = []
    for n in range(1, 121):
        response = _activate(license_client, f"machine-{n}")
        assert response.status_code == 201, response.json()
        body = response.json()
        statuses.append(body["status"])
        assert body["overdraft"] is (n > 100)
        assert body["seats"] == {
            "used": n,
            "entitled": 100,
            "hard_limit": 120,
            "customer_cap": None,
            "available": 120 - n,
        }

    denied = _activate(license_client, "machine-121")

    assert statuses == ["ok"] * 100 + ["overdraft"] * 20
    assert denied.status_code == 409
    body = denied.json()
    assert body["status"] == "denied"
    assert body["code"] == "hard_limit_reached"
    assert body["message"]
    assert body["seats"] == {
        "used": 120,
        "entitled": 100,
        "hard_limit": 120,
        "customer_cap": None,
        "available": 0,
    }
    assert body["retry_after"] is None  # named seats: nothing will free itself
    assert "Retry-After" not in denied.headers
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 120
    assert Seat.objects.filter(entitlement=entitlement, released_at__isnull=True).count() == 120
    assert Seat.objects.filter(entitlement=entitlement, overdraft=True).count() == 20


def test_the_story_writes_each_event_exactly_once(license_client, entitlement):
    for n in range(1, 122):
        _activate(license_client, f"machine-{n}")

    assert _event_counts(entitlement) == {
        T.ENTITLEMENT_CREATED: 1,
        T.SEAT_ACTIVATED: 120,
        T.SEAT_DENIED: 1,
        T.OVERDRAFT_STARTED: 1,
        T.HARD_LIMIT_REACHED: 1,
        T.CUSTOMER_CAP_REACHED: 0,
        T.SEAT_RELEASED: 0,
        T.SEAT_EXPIRED: 0,
        T.OVERDRAFT_ENDED: 0,
        T.ENTITLEMENT_UPDATED: 0,
        T.EXPANSION_REQUESTED: 0,
        T.EXPANSION_GRANTED: 0,
        T.EXPANSION_DECLINED: 0,
        T.LICENSE_KEY_ROTATED: 0,
        T.THRESHOLD_CROSSED: 0,
        T.RAISE_STARTED: 0,
        T.RAISE_ENDED: 0,
        T.STATEMENT_ISSUED: 0,
    }
    activated = Event.objects.filter(entitlement=entitlement, type=T.SEAT_ACTIVATED)
    assert activated.filter(data__overdraft=True).count() == 20
    assert activated.filter(data__overdraft=False).count() == 100
    started = Event.objects.get(entitlement=entitlement, type=T.OVERDRAFT_STARTED)
    assert started.data["seats"]["used"] == 101
    reached = Event.objects.get(entitlement=entitlement, type=T.HARD_LIMIT_REACHED)
    assert reached.data["seats"]["used"] == 120
    denial = Event.objects.get(entitlement=entitlement, type=T.SEAT_DENIED)
    assert denial.data["fingerprint"] == "machine-121"
    assert denial.customer_id == entitlement.customer_id


def test_the_story_is_summed_in_the_usage_buckets(license_client, entitlement):
    for n in range(1, 122):
        _activate(license_client, f"machine-{n}")

    buckets = list(UsageBucket.objects.filter(entitlement=entitlement).order_by("hour"))
    assert buckets  # one row, or two if the test straddled an hour
    assert sum(b.activations for b in buckets) == 120
    assert sum(b.overdraft_activations for b in buckets) == 20
    assert sum(b.denials for b in buckets) == 1
    assert sum(b.releases for b in buckets) == 0
    assert max(b.peak_used for b in buckets) == 120
    assert buckets[-1].closing_used == 120


def test_releasing_back_to_the_entitled_seats_ends_the_overdraft_once(license_client, entitlement):
    ids = [_activate(license_client, f"machine-{n}").json()["id"] for n in range(1, 121)]
    _activate(license_client, "machine-121")  # denied

    for n, seat_id in enumerate(reversed(ids[-20:]), start=1):
        response = license_client.delete(f"/api/v1/activations/{seat_id}")
        assert response.status_code == 204
        ended = Event.objects.filter(entitlement=entitlement, type=T.OVERDRAFT_ENDED).count()
        assert ended == (1 if n == 20 else 0)  # only the step from 101 to 100 ends it

    entitlement.refresh_from_db()
    assert entitlement.seats_used == 100
    counts = _event_counts(entitlement)
    assert counts[T.SEAT_RELEASED] == 20
    assert counts[T.OVERDRAFT_ENDED] == 1
    assert counts[T.OVERDRAFT_STARTED] == 1
    ended_event = Event.objects.get(entitlement=entitlement, type=T.OVERDRAFT_ENDED)
    assert ended_event.data["seats"]["used"] == 100
    buckets = list(UsageBucket.objects.filter(entitlement=entitlement).order_by("hour"))
    assert sum(b.releases for b in buckets) == 20
    assert buckets[-1].closing_used == 100
    assert max(b.peak_used for b in buckets) == 120

    status = license_client.get("/api/v1/entitlement").json()
    assert status["zone"] == "within"
    assert status["seats"]["used"] == 100


def test_a_customers_cap_denies_past_it_with_its_own_code(license_client, entitlement):
    """Capped at 110 by the customer: 110 seats, then 409 customer_cap_reached."""
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)
    for n in range(1, 111):
        assert _activate(license_client, f"machine-{n}").status_code == 201

    denied = _activate(license_client, "machine-111")

    assert denied.status_code == 409
    assert denied.json() == {
        "status": "denied",
        "code": "customer_cap_reached",
        "message": (
            "Activation denied: your organisation's own cap of 110 seats is reached"
            " (100 entitled). Release a seat, or an admin of your organisation can raise the cap."
        ),
        "seats": {
            "used": 110,
            "entitled": 100,
            "hard_limit": 120,
            "customer_cap": 110,
            "available": 0,
        },
        "retry_after": None,
    }
    counts = _event_counts(entitlement)
    assert (counts[T.CUSTOMER_CAP_REACHED], counts[T.HARD_LIMIT_REACHED]) == (1, 0)
    assert Event.objects.get(type=T.SEAT_DENIED).data["code"] == "customer_cap_reached"
