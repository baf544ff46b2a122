"""Activating again with a fingerprint that holds a seat returns that seat."""

from licensing.models import Event, Seat, UsageBucket


def _activate(client, fingerprint, **extra):
    return client.post("/api/v1/activations", {"fingerprint": fingerprint, **extra}, format="json")


def test_reactivating_a_held_fingerprint_returns_the_same_seat_with_200(
    license_client, entitlement
):
    first = _activate(license_client, "laptop-7", label="Ada's laptop")
    again = _activate(license_client, "laptop-7")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "ok"
    assert again.json()["seats"]["used"] == 1
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 1
    assert Seat.objects.filter(entitlement=entitlement).count() == 1
    assert Seat.objects.get().label == "Ada's laptop"  # an omitted label keeps the old one
    assert Event.objects.filter(type=Event.Type.SEAT_ACTIVATED).count() == 1
    assert UsageBucket.objects.get(entitlement=entitlement).activations == 1


def test_reactivation_matches_the_fingerprint_after_stripping_whitespace(
    license_client, entitlement
):
    first = _activate(license_client, "laptop-7")
    again = _activate(license_client, "  laptop-7\t")

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_reactivating_an_overdraft_seat_still_reports_overdraft(make_entitlement, api_client):
    entitlement = make_entitlement(seats=1, hard_limit=2)
    api_client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    _activate(api_client, "a")
    first = _activate(api_client, "b")
    again = _activate(api_client, "b")

    assert first.json()["status"] == again.json()["status"] == "overdraft"
    assert again.status_code == 200
    assert again.json()["overdraft"] is True


def test_reactivating_at_the_hard_limit_is_not_denied(make_entitlement, api_client):
    entitlement = make_entitlement(seats=1, hard_limit=1)
    api_client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    _activate(api_client, "only")

    again = _activate(api_client, "only")

    assert again.status_code == 200
    assert not Event.objects.filter(type=Event.Type.SEAT_DENIED).exists()


def test_activating_after_release_creates_a_new_seat(license_client, entitlement):
    first = _activate(license_client, "laptop-7").json()["id"]
    assert license_client.delete(f"/api/v1/activations/{first}").status_code == 204

    response = _activate(license_client, "laptop-7")

    assert response.status_code == 201
    second = response.json()["id"]
    assert second != first
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 1
    assert Seat.objects.get(pk=first).released_at is not None
    assert Seat.objects.get(pk=second).released_at is None
    assert Event.objects.filter(type=Event.Type.SEAT_ACTIVATED).count() == 2
