"""The webhook endpoint's `format` over the vendor API: written on create and update, read back,
refused when unknown, and documented in the OpenAPI schema."""

import pytest

from webhooks import services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

API = "/api/v1/webhook-endpoints"


@pytest.mark.parametrize("endpoint_format", ["standard", "slack", "teams"])
def test_create_with_each_format(vendor, receiver, endpoint_format):
    response = vendor.post(API, {"url": receiver.url, "format": endpoint_format}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == endpoint_format
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.format == endpoint_format
    assert vendor.get(f"{API}/{endpoint.pk}").json()["format"] == endpoint_format
    assert vendor.get(API).json()["results"][0]["format"] == endpoint_format


def test_format_defaults_to_standard(vendor, receiver):
    response = vendor.post(API, {"url": receiver.url}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "standard"
    assert WebhookEndpoint.objects.get().format == "standard"


@pytest.mark.parametrize(
    "value, message",
    [
        ("discord", '"discord" is not a valid choice.'),
        ("Slack", '"Slack" is not a valid choice.'),
        (None, "This field may not be null."),
    ],
)
def test_unknown_format_is_400_and_nothing_is_created(vendor, receiver, value, message):
    response = vendor.post(API, {"url": receiver.url, "format": value}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["errors"] == {"format": [message]}
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_the_format_and_leaves_it_when_left_out(vendor, receiver):
    endpoint = services.endpoint_create(customer=None, url=receiver.url)
    response = vendor.patch(f"{API}/{endpoint.pk}", {"format": "slack"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["format"] == "slack"
    response = vendor.patch(f"{API}/{endpoint.pk}", {"description": "#licensing"}, format="json")
    assert response.json()["format"] == "slack"
    endpoint.refresh_from_db()
    assert endpoint.format == "slack" and endpoint.description == "#licensing"


def test_patch_to_an_unknown_format_is_400_and_changes_nothing(vendor, receiver):
    endpoint = services.endpoint_create(customer=None, url=receiver.url, format="teams")
    response = vendor.patch(f"{API}/{endpoint.pk}", {"format": "discord"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"format": ['"discord" is not a valid choice.']}
    endpoint.refresh_from_db()
    assert endpoint.format == "teams"


def test_schema_documents_the_format(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schemas = response.json()["components"]["schemas"]
    assert schemas["WebhookEndpointFormatEnum"]["enum"] == ["standard", "slack", "teams"]
    for name in (
        "WebhookEndpoint",
        "WebhookEndpointSecret",
        "WebhookEndpointCreateRequest",
        "PatchedWebhookEndpointUpdateRequest",
    ):
        field = schemas[name]["properties"]["format"]
        assert field["allOf"] == [{"$ref": "#/components/schemas/WebhookEndpointFormatEnum"}]
        assert "Slack and Teams messages are not signed." in field["description"]
    assert schemas["WebhookEndpointCreateRequest"]["properties"]["format"]["default"] == "standard"
