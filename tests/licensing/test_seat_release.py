"""DELETE /api/v1/activations/{id} gives the seat back, idempotently."""

from licensing.models import Event, Seat, UsageBucket


def test_release_frees_the_seat_and_writes_one_event(license_client, entitlement):
    seat_id = license_client.post(
        "/api/v1/activations", {"fingerprint": "m-1"}, format="json"
    ).json()["id"]

    response = license_client.delete(f"/api/v1/activations/{seat_id}")

    assert response.status_code == 204
    assert response.content == b""
    seat = Seat.objects.get(pk=seat_id)
    assert seat.released_at is not None
    assert seat.release_reason == Seat.ReleaseReason.RELEASED
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 0
    event = Event.objects.get(type=Event.Type.SEAT_RELEASED)
    assert event.data["activation_id"] == seat_id
    assert event.data["reason"] == "released"
    bucket = UsageBucket.objects.get(entitlement=entitlement)
    assert (bucket.releases, bucket.closing_used, bucket.peak_used) == (1, 0, 1)


def test_releasing_twice_answers_204_and_changes_nothing_the_second_time(
    license_client, entitlement
):
    seat_id = license_client.post(
        "/api/v1/activations", {"fingerprint": "m-1"}, format="json"
    ).json()["id"]
    license_client.post("/api/v1/activations", {"fingerprint": "m-2"}, format="json")

    first = license_client.delete(f"/api/v1/activations/{seat_id}")
    second = license_client.delete(f"/api/v1/activations/{seat_id}")

    assert first.status_code == second.status_code == 204
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 1
    assert Event.objects.filter(type=Event.Type.SEAT_RELEASED).count() == 1
    assert UsageBucket.objects.get(entitlement=entitlement).releases == 1


def test_releasing_a_seat_of_another_entitlement_is_not_found(
    license_client, entitlement, make_entitlement, api_client
):
    other = make_entitlement()
    api_client.credentials(HTTP_AUTHORIZATION=f"License {other.license_key}")
    other_seat = api_client.post(
        "/api/v1/activations", {"fingerprint": "theirs"}, format="json"
    ).json()["id"]

    response = license_client.delete(f"/api/v1/activations/{other_seat}")

    assert response.status_code == 404
    assert response.json()["code"] == "activation_not_found"
    assert Seat.objects.get(pk=other_seat).released_at is None
    other.refresh_from_db()
    assert other.seats_used == 1
