"""entitlement_update: limits never drop below the seats in use; raises take effect at once."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Entitlement, Event

T = Event.Type


def _fill(entitlement: Entitlement, count: int) -> None:
    for n in range(count):
        result = services.seat_activate(entitlement=entitlement, fingerprint=f"m-{n}")
        assert result.granted


def _events(entitlement: Entitlement, *types: str) -> list[Event]:
    return list(Event.objects.filter(entitlement=entitlement, type__in=types))


def _client(entitlement: Entitlement) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    return client


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"seats": 99}, "seats", "110 seats are in use, so the entitled seats cannot go below 100"),
        ({"hard_limit": 109}, "hard_limit", "110 seats are in use, so the hard limit cannot go"),
        ({"seats": 130}, "hard_limit", "cannot be below the entitled seats"),
    ],
    ids=["seats-lowered-further-below-use", "hard-limit-below-use", "hard-limit-below-seats"],
)
def test_impossible_limits_are_refused_and_nothing_changes(entitlement, change, field, words):
    _fill(entitlement, 110)
    events_before = Event.objects.count()

    with pytest.raises(ValidationError) as refused:
        services.entitlement_update(entitlement=entitlement, **change)

    assert field in refused.value.message_dict
    assert words in " ".join(refused.value.message_dict[field])
    stored = Entitlement.objects.get(pk=entitlement.pk)
    assert (stored.seats, stored.hard_limit, stored.seats_used) == (100, 120, 110)
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)
    assert Event.objects.count() == events_before


def test_lowering_seats_below_the_seats_in_use_is_refused(entitlement):
    _fill(entitlement, 90)

    with pytest.raises(ValidationError) as refused:
        services.entitlement_update(entitlement=entitlement, seats=89)

    assert refused.value.message_dict["seats"] == [
        "90 seats are in use, so the entitled seats cannot go below 90."
        " Release or revoke seats first."
    ]
    assert Entitlement.objects.get(pk=entitlement.pk).seats == 100


def test_raising_the_hard_limit_lets_a_denied_client_in_at_once(entitlement):
    _fill(entitlement, 120)
    client = _client(entitlement)
    denied = client.post("/api/v1/activations", {"fingerprint": "late"}, format="json")
    assert denied.status_code == 409

    services.entitlement_update(entitlement=entitlement, hard_limit=125)
    response = client.post("/api/v1/activations", {"fingerprint": "late"}, format="json")

    assert response.status_code == 201
    assert response.json()["seats"] == {
        "used": 121,
        "entitled": 100,
        "hard_limit": 125,
        "customer_cap": None,
        "available": 4,
    }


def test_update_writes_one_updated_event_with_the_changes(entitlement):
    services.entitlement_update(entitlement=entitlement, seats=110, hard_limit=150)

    (event,) = _events(entitlement, T.ENTITLEMENT_UPDATED)
    assert event.data["changes"] == {"seats": [100, 110], "hard_limit": [120, 150]}
    assert event.data["seats"] == {
        "used": 0,
        "entitled": 110,
        "hard_limit": 150,
        "customer_cap": None,
        "available": 150,
    }
    stored = Entitlement.objects.get(pk=entitlement.pk)
    assert (stored.seats, stored.hard_limit) == (110, 150)


def test_update_that_changes_nothing_writes_no_event(entitlement):
    services.entitlement_update(entitlement=entitlement, seats=100, hard_limit=120)

    assert _events(entitlement, T.ENTITLEMENT_UPDATED) == []


def test_raising_seats_above_use_while_in_overdraft_ends_the_overdraft_once(entitlement):
    _fill(entitlement, 110)

    services.entitlement_update(entitlement=entitlement, seats=110)

    (ended,) = _events(entitlement, T.OVERDRAFT_ENDED)
    assert ended.data["seats"]["entitled"] == 110
    assert len(_events(entitlement, T.OVERDRAFT_STARTED)) == 1
    services.entitlement_update(entitlement=entitlement, seats=115)  # still out of overdraft
    assert len(_events(entitlement, T.OVERDRAFT_ENDED)) == 1


def test_lowering_seats_down_to_the_seats_in_use_is_allowed(entitlement):
    _fill(entitlement, 90)

    services.entitlement_update(entitlement=entitlement, seats=90, hard_limit=100)

    stored = Entitlement.objects.get(pk=entitlement.pk)
    assert (stored.seats, stored.hard_limit, stored.seats_used) == (90, 100, 90)
    assert _events(entitlement, T.OVERDRAFT_STARTED, T.HARD_LIMIT_REACHED) == []


@pytest.mark.parametrize(
    "change",
    [{"status": "suspended"}, {"hard_limit": 130}, {"seats": 105}, {"lease_seconds": 600}],
    ids=["suspend", "raise-hard-limit", "raise-seats-still-below-use", "lease"],
)
def test_an_entitlement_in_overdraft_can_still_be_changed(entitlement, change):
    _fill(entitlement, 110)

    services.entitlement_update(entitlement=entitlement, **change)

    stored = Entitlement.objects.get(pk=entitlement.pk)
    for name, value in change.items():
        assert getattr(stored, name) == value
    assert stored.seats_used == 110
    assert len(_events(entitlement, T.ENTITLEMENT_UPDATED)) == 1
    assert _events(entitlement, T.OVERDRAFT_ENDED) == []


def test_lowering_the_hard_limit_to_the_seats_in_use_reaches_it(entitlement):
    _fill(entitlement, 110)

    services.entitlement_update(entitlement=entitlement, hard_limit=110)

    (reached,) = _events(entitlement, T.HARD_LIMIT_REACHED)
    assert reached.data["seats"] == {
        "used": 110,
        "entitled": 100,
        "hard_limit": 110,
        "customer_cap": None,
        "available": 0,
    }
    response = _client(entitlement).post("/api/v1/activations", {"fingerprint": "x"}, format="json")
    assert response.status_code == 409


def test_no_hard_limit_means_never_denied(make_entitlement):
    unlimited = make_entitlement(seats=2, hard_limit=None)
    client = _client(unlimited)

    responses = [
        client.post("/api/v1/activations", {"fingerprint": f"m-{n}"}, format="json")
        for n in range(10)
    ]

    assert [r.status_code for r in responses] == [201] * 10
    assert [r.json()["status"] for r in responses] == ["ok"] * 2 + ["overdraft"] * 8
    assert responses[-1].json()["seats"] == {
        "used": 10,
        "entitled": 2,
        "hard_limit": None,
        "customer_cap": None,
        "available": None,
    }
    assert len(_events(unlimited, T.OVERDRAFT_STARTED)) == 1
    assert _events(unlimited, T.HARD_LIMIT_REACHED, T.SEAT_DENIED) == []


def test_removing_the_hard_limit_lets_a_full_entitlement_grow(entitlement):
    _fill(entitlement, 120)

    services.entitlement_update(entitlement=entitlement, hard_limit=None)

    assert services.seat_activate(entitlement=entitlement, fingerprint="more").status == "overdraft"
    (event,) = _events(entitlement, T.ENTITLEMENT_UPDATED)
    assert event.data["changes"] == {"hard_limit": [120, None]}


def test_hard_limit_equal_to_seats_means_no_overdraft(make_entitlement):
    strict = make_entitlement(seats=3, hard_limit=3)
    client = _client(strict)

    statuses = [
        client.post("/api/v1/activations", {"fingerprint": f"m-{n}"}, format="json")
        for n in range(4)
    ]

    assert [r.status_code for r in statuses] == [201, 201, 201, 409]
    assert [r.json()["status"] for r in statuses] == ["ok", "ok", "ok", "denied"]
    assert "overdraft" not in statuses[-1].json()["message"]
    assert _events(strict, T.OVERDRAFT_STARTED) == []
    assert len(_events(strict, T.HARD_LIMIT_REACHED)) == 1
