"""Bodies Django refuses before any view still get the APIs' JSON error shape, never HTML."""

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

TOO_BIG = b'{"fingerprint": "' + b"x" * 3_000_000 + b'"}'


def _assert_json_400(response: Any, *, mentions: str) -> None:
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid_request"
    assert mentions in body["message"]


def test_a_body_over_the_upload_limit_on_the_client_api_is_a_json_400(
    client: Client, entitlement: Any
) -> None:
    response = client.post(
        "/api/v1/activations",
        TOO_BIG,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"License {entitlement.license_key}",
    )
    _assert_json_400(response, mentions="larger than the limit of 2621440 bytes")
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 0


def test_a_body_over_the_upload_limit_on_the_vendor_api_is_a_json_400(
    client: Client, token: str
) -> None:
    response = client.post(
        "/api/v1/customers",
        TOO_BIG,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    _assert_json_400(response, mentions="larger than the limit")


def test_a_content_length_that_is_not_a_number_reads_as_no_body(
    client: Client, entitlement: Any
) -> None:
    """Django reads a malformed Content-Length as 0 (gunicorn refuses it before Django)."""
    response = client.post(
        "/api/v1/activations",
        b'{"fingerprint": "a"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"License {entitlement.license_key}",
        CONTENT_LENGTH="abc",
    )
    _assert_json_400(response, mentions="fingerprint")


def test_pages_refuse_an_oversized_form_with_the_styled_400_page(client: Client) -> None:
    response = client.post("/accounts/login/", {"login": "x" * 3_000_000}, HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert b"That request could not be read" in response.content
