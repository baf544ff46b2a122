"""portal.wsgi sends client API calls through the short middleware list, the rest through all.

These call the WSGI application itself, as gunicorn does (the test client builds its own
handler with the full list and would not notice).
"""

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import RequestFactory

from licensing.models import Entitlement
from portal import wsgi

pytestmark = pytest.mark.django_db(transaction=True)


def _call(
    method: str, path: str, *, key: str = "", body: Any = None, host: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"License {key}"} if key else {}
    # The environ Django's test client would hand its own handler, handed to ours instead.
    environ = (
        RequestFactory()
        .generic(
            method, path, raw, "application/json", secure=True, headers=headers, HTTP_HOST=host
        )
        .environ
    )
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    chunks = wsgi.application(environ, start_response)
    content = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return answer["status"], answer["headers"], content


@pytest.mark.parametrize(
    ("path", "client_api"),
    [
        ("/api/v1/activations", True),
        ("/api/v1/activations/3f0c/heartbeat", True),
        ("/api/v1/activations/3f0c", True),
        ("/api/v1/entitlement", True),
        ("/api/v1/entitlements", False),
        ("/api/v1/entitlements/3f0c/seats", False),
        ("/api/v1/activationsx", False),
        ("/api/schema/", False),
        ("/c/acme/", False),
    ],
)
def test_which_paths_take_the_short_list(path: str, client_api: bool) -> None:
    assert wsgi.is_client_api(path) is client_api


def test_short_list_is_the_full_list_in_the_same_order_minus_some() -> None:
    full = settings.MIDDLEWARE
    assert [name for name in full if name in settings.CLIENT_API_MIDDLEWARE] == (
        settings.CLIENT_API_MIDDLEWARE
    )
    assert getattr(wsgi.client_api, "_middleware_chain", None) is not None
    assert getattr(wsgi.portal, "_middleware_chain", None) is not None


def test_activation_through_the_short_list_keeps_ids_and_security_headers(
    entitlement: Entitlement,
) -> None:
    status, headers, content = _call(
        "POST", "/api/v1/activations", key=entitlement.license_key, body={"fingerprint": "w-1"}
    )
    assert status == 201, content
    assert json.loads(content)["status"] == "ok"
    assert headers["x-request-id"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in headers
    assert "set-cookie" not in headers  # no session, no CSRF cookie
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 1


def test_short_list_still_refuses_unknown_hosts(entitlement: Entitlement) -> None:
    status, _, _ = _call(
        "POST",
        "/api/v1/activations",
        key=entitlement.license_key,
        body={"fingerprint": "w-2"},
        host="evil.example",
    )
    assert status == 400
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 0


def test_bad_input_through_the_short_list_gets_the_api_error_shape(
    entitlement: Entitlement,
) -> None:
    status, headers, content = _call(
        "POST", "/api/v1/activations", key=entitlement.license_key, body={"fingerprint": 7}
    )
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(content)["code"] == "invalid_request"
    status, _, content = _call("GET", "/api/v1/entitlement", key="nope")
    assert status == 401
    assert json.loads(content)["code"] == "invalid_license_key"


def test_other_paths_keep_the_full_list() -> None:
    status, headers, _ = _call("GET", "/accounts/login/")
    assert status == 200
    assert "csrftoken" in headers.get("set-cookie", "")
