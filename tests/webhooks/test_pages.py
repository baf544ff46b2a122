"""Endpoint pages: the account team's vendor-wide endpoints, a customer admin's own."""

import pytest

from portal.models import User
from webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def login(client):
    def as_user(user: User):
        client.force_login(user)
        return client

    return as_user


def test_customer_admin_creates_endpoint_and_sees_secret_once(
    login, customer_admin, customer, receiver, allow_private, django_capture_on_commit_callbacks
):
    client = login(customer_admin)
    response = client.post(
        f"/c/{customer.slug}/webhooks/new/",
        {
            "url": receiver.url,
            "description": "ERP",
            "event_types": ["seat.denied"],
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.customer == customer and endpoint.created_by == customer_admin
    assert endpoint.event_types == ["seat.denied"]
    assert endpoint.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    detail = client.get(f"/c/{customer.slug}/webhooks/{endpoint.pk}/")
    assert detail.status_code == 200 and endpoint.secret not in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/c/{customer.slug}/webhooks/{endpoint.pk}/test/", follow=True)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded" and len(receiver.requests) == 1
    assert b"Attempts" in response.content

    old = endpoint.secret
    response = client.post(f"/c/{customer.slug}/webhooks/{endpoint.pk}/rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in response.content.decode()

    client.post(f"/c/{customer.slug}/webhooks/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.exists()


def test_refused_url_shows_an_error(login, customer_admin, customer, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = login(customer_admin).post(
        f"/c/{customer.slug}/webhooks/new/", {"url": "http://10.0.0.7/hook", "enabled": "on"}
    )
    assert response.status_code == 200
    assert b"private" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_team_page_lists_vendor_endpoints(
    login, account_manager, vendor_endpoint, customer_endpoint
):
    response = login(account_manager).get("/team/webhooks/")
    assert response.status_code == 200
    assert vendor_endpoint.url.encode() in response.content


def test_outsiders_viewers_and_customers_get_404(
    login, outsider, viewer, customer_admin, customer, customer_endpoint, vendor_endpoint
):
    base = f"/c/{customer.slug}/webhooks/"
    for user in (outsider, viewer):
        client = login(user)
        assert client.get(base).status_code == 404
        assert client.get(f"{base}{customer_endpoint.pk}/").status_code == 404
        assert client.post(f"{base}{customer_endpoint.pk}/rotate/").status_code == 404
    client = login(customer_admin)
    assert client.get("/team/webhooks/").status_code == 404
    assert client.get(f"{base}{vendor_endpoint.pk}/").status_code == 404  # not theirs


def test_delivery_list_query_count_is_flat(
    login, account_manager, vendor_endpoint, django_assert_max_num_queries
):
    for _ in range(30):
        WebhookDelivery.objects.create(endpoint=vendor_endpoint, event_type="webhook.test")
    client = login(account_manager)
    with django_assert_max_num_queries(10):
        response = client.get(f"/team/webhooks/{vendor_endpoint.pk}/")
    assert response.status_code == 200
