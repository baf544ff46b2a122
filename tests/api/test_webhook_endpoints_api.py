"""Webhook endpoints over the vendor API: CRUD, the secret shown once, rotation, test pings."""

import uuid

import pytest

from licensing.services import Actor
from tests.api.conftest import bearer
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

API = "/api/v1/webhook-endpoints"


@pytest.fixture
def endpoint(receiver, account_manager):
    return services.endpoint_create(
        customer=None, url=receiver.url, actor=Actor.of(account_manager)
    )


def _create(vendor, **body):
    return vendor.post(API, body, format="json")


def test_create_answers_the_secret_once(vendor, receiver, account_manager):
    response = _create(vendor, url=receiver.url, description="CRM", event_types=["seat.denied"])
    assert response.status_code == 201, response.json()
    body = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert response["Cache-Control"] == "no-store"
    assert body["customer"] is None and body["event_types"] == ["seat.denied"]
    assert endpoint.created_by == account_manager and endpoint.description == "CRM"

    detail = vendor.get(f"{API}/{endpoint.pk}")
    listed = vendor.get(API)
    for response in (detail, listed):
        assert response.status_code == 200
        assert endpoint.secret not in response.content.decode()
    assert "secret" not in detail.json()
    assert "secret" not in listed.json()["results"][0]


def test_create_customer_endpoint(vendor, receiver, customer):
    response = _create(vendor, url=receiver.url, customer=str(customer.pk))
    assert response.status_code == 201, response.json()
    assert response.json()["customer"] == {
        "id": str(customer.pk),
        "name": customer.name,
        "slug": customer.slug,
    }
    assert WebhookEndpoint.objects.get().customer == customer


def test_create_for_unknown_customer_is_400(vendor, receiver):
    response = _create(vendor, url=receiver.url, customer=str(uuid.uuid4()))
    assert response.status_code == 400
    assert response.json()["errors"] == {"customer": ["No customer has this id."]}
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/hook",
        "http://localhost/hook",
    ],
)
def test_url_reaching_a_private_address_is_refused(vendor, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = _create(vendor, url=url)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert "webhooks cannot be sent there" in body["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "event_types": ["seat.stolen"]}, "event_types"),
        ({"url": "https://example.com/x", "event_types": [{}]}, "event_types"),
        ({"url": "https://example.com/x", "event_types": "seat.denied"}, "event_types"),
        ({"url": "https://example.com/x", "enabled": "yes"}, "enabled"),
        ({"url": "https://example.com/x", "secret": "whsec_mine"}, "secret"),
        ({}, "url"),
    ],
    ids=[
        "not-url",
        "ftp",
        "event-type",
        "event-type-object",
        "event-types-string",
        "enabled",
        "unknown-field",
        "missing",
    ],
)
def test_invalid_bodies_are_400_in_the_error_shape(vendor, body, field):
    response = _create(vendor, **body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    assert all(isinstance(m, str) for messages in errors.values() for m in messages), errors
    assert not WebhookEndpoint.objects.exists()


def test_list_has_vendor_wide_and_customer_endpoints(vendor, receiver, customer, other_customer):
    wide = services.endpoint_create(customer=None, url=receiver.url)
    acme = services.endpoint_create(customer=customer, url=receiver.url + "/acme")
    globex = services.endpoint_create(customer=other_customer, url=receiver.url + "/globex")

    def ids(query=""):
        response = vendor.get(f"{API}{query}")
        assert response.status_code == 200, response.json()
        return [e["id"] for e in response.json()["results"]]

    assert ids() == [str(wide.pk), str(acme.pk), str(globex.pk)]
    assert ids(f"?customer={customer.pk}") == [str(acme.pk)]
    assert ids("?limit=1&offset=2") == [str(globex.pk)]
    assert vendor.get(f"{API}?customer=acme").status_code == 400


def test_patch_changes_only_the_fields_sent(vendor, endpoint):
    response = vendor.patch(
        f"{API}/{endpoint.pk}",
        {"description": "ERP", "event_types": ["seat.denied", "seat.activated"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["event_types"] == ["seat.activated", "seat.denied"]
    endpoint.refresh_from_db()
    assert endpoint.description == "ERP" and endpoint.enabled
    assert endpoint.event_types == ["seat.activated", "seat.denied"]

    response = vendor.patch(f"{API}/{endpoint.pk}", {"enabled": False}, format="json")
    assert response.json()["enabled"] is False
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.description == "ERP"


def test_enabling_a_disabled_endpoint_clears_its_failures(vendor, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, consecutive_failures=9, disabled_reason="Every delivery failed."
    )
    response = vendor.patch(f"{API}/{endpoint.pk}", {"enabled": True}, format="json")
    assert response.status_code == 200
    assert response.json()["consecutive_failures"] == 0
    assert response.json()["disabled_reason"] == ""


def test_patch_to_a_refused_url_is_400_and_changes_nothing(vendor, endpoint, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = vendor.patch(
        f"{API}/{endpoint.pk}",
        {"url": "http://169.254.169.254/latest/", "description": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "link-local" in response.json()["errors"]["url"][0]
    stored = WebhookEndpoint.objects.get()
    assert stored.url == endpoint.url and stored.description == ""


def test_delete(vendor, endpoint):
    response = vendor.delete(f"{API}/{endpoint.pk}")
    assert response.status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert vendor.delete(f"{API}/{endpoint.pk}").status_code == 404


def test_test_ping_is_delivered(vendor, endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor.post(f"{API}/{endpoint.pk}/test")
    assert response.status_code == 202, response.json()
    delivery = WebhookDelivery.objects.get()
    assert response.json()["id"] == str(delivery.pk)
    assert response.json()["event_type"] == "webhook.test" and response.json()["event"] is None
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [r.json()["type"] for r in receiver.requests] == ["webhook.test"]
    receiver.requests[0].verify(endpoint.secret)


def test_rotate_secret_answers_it_once_and_the_old_one_keeps_signing(
    vendor, endpoint, receiver, django_capture_on_commit_callbacks
):
    old = endpoint.secret
    response = vendor.post(f"{API}/{endpoint.pk}/rotate-secret")
    assert response.status_code == 200, response.json()
    assert response["Cache-Control"] == "no-store"
    endpoint.refresh_from_db()
    new = response.json()["secret"]
    assert new == endpoint.secret != old and endpoint.previous_secret == old
    assert response.json()["previous_secret_expires_at"] is not None
    detail = vendor.get(f"{API}/{endpoint.pk}").content.decode()
    assert new not in detail and old not in detail

    with django_capture_on_commit_callbacks(execute=True):
        vendor.post(f"{API}/{endpoint.pk}/test")
    received = receiver.requests[0]
    received.verify(old)
    received.verify(new)


def test_read_only_token_cannot_write(vendor_ro, endpoint, receiver):
    url = f"{API}/{endpoint.pk}"
    for response in [
        vendor_ro.post(API, {"url": receiver.url}, format="json"),
        vendor_ro.patch(url, {"enabled": False}, format="json"),
        vendor_ro.delete(url),
        vendor_ro.post(f"{url}/test"),
        vendor_ro.post(f"{url}/rotate-secret"),
    ]:
        assert response.status_code == 403
        assert response.json()["code"] == "read_only_token"
    stored = WebhookEndpoint.objects.get()
    assert stored.enabled and stored.secret == endpoint.secret
    assert not WebhookDelivery.objects.exists()
    assert vendor_ro.get(url).status_code == 200
    assert vendor_ro.get(API).json()["count"] == 1


def test_tokens_outside_the_account_team_are_refused(customer_admin_token, endpoint):
    for path in (API, f"{API}/{endpoint.pk}"):
        response = bearer(customer_admin_token).get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
    response = bearer(customer_admin_token).post(f"{API}/{endpoint.pk}/rotate-secret")
    assert response.status_code == 401
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


def test_missing_token_is_401(api_client, db):
    response = api_client.get(API)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_unknown_endpoint_is_404_everywhere(vendor, db):
    missing = f"{API}/{uuid.uuid4()}"
    for response in [
        vendor.get(missing),
        vendor.patch(missing, {"enabled": False}, format="json"),
        vendor.delete(missing),
        vendor.post(f"{missing}/test"),
        vendor.post(f"{missing}/rotate-secret"),
        vendor.get(f"{API}/42"),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_list_query_count_does_not_grow(
    vendor, receiver, customer, other_customer, django_assert_num_queries
):
    def add(n):
        for i in range(n):
            owner = [None, customer, other_customer][i % 3]
            services.endpoint_create(customer=owner, url=f"{receiver.url}/{i}")

    add(2)
    assert vendor.get(API).status_code == 200  # the token's last use is recorded once
    with django_assert_num_queries(3):  # token, count, page
        assert vendor.get(API).status_code == 200
    add(6)
    with django_assert_num_queries(3):
        assert len(vendor.get(API).json()["results"]) == 8
