"""The endpoint form offers the format (Standard Webhooks, Slack, Teams); the pages show it."""

import pytest

from webhooks.models import WebhookEndpoint


@pytest.fixture
def admin_client(client, customer_admin):
    client.force_login(customer_admin)
    return client


@pytest.mark.parametrize(
    "endpoint_format, label, signed",
    [
        ("standard", "Standard Webhooks (signed JSON)", True),
        ("slack", "Slack incoming webhook", False),
        ("teams", "Microsoft Teams incoming webhook", False),
    ],
)
def test_create_with_each_format(
    admin_client, customer, receiver, allow_private, endpoint_format, label, signed
):
    response = admin_client.post(
        f"/c/{customer.slug}/webhooks/new/",
        {"url": receiver.url, "format": endpoint_format, "enabled": "on"},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.format == endpoint_format
    secret_page = response.content.decode()
    assert ("Slack and Teams bodies are not signed" in secret_page) is not signed

    detail = admin_client.get(f"/c/{customer.slug}/webhooks/{endpoint.pk}/").content.decode()
    assert f"<dt>Format</dt><dd>{label}</dd>" in detail
    assert ("Not signed (Slack and Teams ignore signatures)" in detail) is not signed
    listed = admin_client.get(f"/c/{customer.slug}/webhooks/").content.decode()
    assert f"<td>{label}</td>" in listed


def test_unknown_format_is_a_form_error_and_nothing_is_created(
    admin_client, customer, receiver, allow_private
):
    response = admin_client.post(
        f"/c/{customer.slug}/webhooks/new/",
        {"url": receiver.url, "format": "discord", "enabled": "on"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "format": ["Select a valid choice. discord is not one of the available choices."]
    }
    assert 'id="format-errors"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_form_offers_the_formats_with_standard_ticked(admin_client, customer):
    html = admin_client.get(f"/c/{customer.slug}/webhooks/new/").content.decode()
    assert '<input type="radio" name="format" value="standard"' in html
    assert '<input type="radio" name="format" value="slack"' in html
    assert '<input type="radio" name="format" value="teams"' in html
    assert 'value="standard" id="id_format_0" checked' in html
    assert "Slack or Teams: a readable message with a link to the usage chart" in html


def test_edit_changes_the_format_and_a_form_without_it_keeps_it(
    admin_client, customer, customer_endpoint
):
    base = f"/c/{customer.slug}/webhooks/{customer_endpoint.pk}"
    edit = admin_client.get(f"{base}/edit/").content.decode()
    assert 'value="standard" id="id_format_0" checked' in edit

    response = admin_client.post(
        f"{base}/edit/", {"url": customer_endpoint.url, "format": "teams", "enabled": "on"}
    )
    assert response.status_code == 302
    customer_endpoint.refresh_from_db()
    assert customer_endpoint.format == "teams"

    admin_client.post(f"{base}/edit/", {"url": customer_endpoint.url, "enabled": "on"})
    customer_endpoint.refresh_from_db()
    assert customer_endpoint.format == "teams"
