from licensing.models import Event


def test_first_activation_is_ok(license_client, entitlement):
    response = license_client.post("/api/v1/activations", {"fingerprint": "m-1"}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "ok"
    assert Event.objects.filter(type="seat.activated").count() == 1
