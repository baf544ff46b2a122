"""Bad input to the client API: a clear 4xx with `code` and `message`, never a 500, no writes."""

import json
import uuid
from collections import Counter
from typing import Any

import pytest
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Entitlement, Event, Seat, UsageBucket

NOTHING = object()


def _state(entitlement: Entitlement) -> tuple[int, ...]:
    entitlement.refresh_from_db()
    return (
        Seat.objects.count(),
        Event.objects.count(),
        UsageBucket.objects.count(),
        entitlement.seats_used,
    )


def _assert_clear_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def seat(entitlement):
    return _take(entitlement, "held")


def _take(entitlement: Entitlement, fingerprint: str) -> Seat:
    seat = services.seat_activate(entitlement=entitlement, fingerprint=fingerprint).seat
    assert seat is not None
    return seat


def _post_raw(client: APIClient, body: Any, content_type: str = "application/json"):
    return client.generic("POST", "/api/v1/activations", body, content_type=content_type)


# --- request bodies of POST /api/v1/activations ---------------------------------------------

RAW_BODIES = {
    "empty": b"",
    "truncated-json": b'{"fingerprint": ',
    "not-json": b"fingerprint=abc",
    "trailing-garbage": b'{"fingerprint": "a"} x',
    "json-list": b"[]",
    "json-list-of-object": b'[{"fingerprint": "a"}]',
    "json-string": b'"a"',
    "json-null": b"null",
    "json-number": b"42",
    "json-true": b"true",
    "empty-object": b"{}",
    "non-utf8": b'{"fingerprint": "\xff\xfe"}',
    "lone-surrogate": b'{"fingerprint": "\\ud800"}',
    "nan": b'{"fingerprint": NaN}',
    "deep-nesting": b'{"fingerprint": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.mark.parametrize("raw", RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_body_that_is_not_a_json_object_with_a_fingerprint_is_refused(
    license_client, entitlement, raw
):
    before = _state(entitlement)

    response = _post_raw(license_client, raw)

    body = _assert_clear_error(response, 400)
    assert body["code"] in {"invalid_json", "invalid_request"}
    assert _state(entitlement) == before


FIELD_VALUES = {
    "number": 42,
    "float": 4.2,
    "bool": True,
    "object": {"id": "a"},
    "list": ["a"],
    "empty-list": [],
    "null": None,
    "empty": "",
    "spaces": "   ",
    "whitespace-mix": " \t\n ",
    "too-long": "a" * 10_000,
    "just-too-long": "a" * 256,
    "nul": "abc\x00def",
    "only-nul": "\x00",
    "escape": "abc\x1b[31m",
    "newline-inside": "abc\ndef",
    "delete-char": "abc\x7f",
    "bell": "\x07machine",
}


@pytest.mark.parametrize("value", FIELD_VALUES.values(), ids=FIELD_VALUES.keys())
def test_invalid_fingerprint_is_refused_with_a_field_error(license_client, entitlement, value):
    before = _state(entitlement)

    response = license_client.post("/api/v1/activations", {"fingerprint": value}, format="json")

    body = _assert_clear_error(response, 400, "invalid_request")
    assert "fingerprint" in body["errors"]
    assert body["message"].startswith("fingerprint: ")
    assert _state(entitlement) == before


@pytest.mark.parametrize(
    "value",
    [42, True, {"a": 1}, ["a"], "b" * 256, "bad\x00label", "bad\x1blabel"],
    ids=["number", "bool", "object", "list", "too-long", "nul", "escape"],
)
def test_invalid_label_is_refused_with_a_field_error(license_client, entitlement, value):
    before = _state(entitlement)

    response = license_client.post(
        "/api/v1/activations", {"fingerprint": "ok", "label": value}, format="json"
    )

    body = _assert_clear_error(response, 400, "invalid_request")
    assert "label" in body["errors"]
    assert _state(entitlement) == before


UNICODE = {
    "emoji": "💻 laptop 🚀",
    "cjk": "工作站-七号",
    "accents": "Zoë's MacBook",
    "rtl": "מחשב-נייד",
    "combining": "e\u0301e\u0301",
    "max-length-wide": "界" * 255,
}


@pytest.mark.parametrize("fingerprint", UNICODE.values(), ids=UNICODE.keys())
def test_unicode_fingerprints_are_valid(license_client, entitlement, fingerprint):
    response = license_client.post(
        "/api/v1/activations", {"fingerprint": fingerprint, "label": fingerprint}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["fingerprint"] == fingerprint
    stored = Seat.objects.get(pk=response.json()["id"])
    assert stored.fingerprint == stored.label == fingerprint
    again = license_client.post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == response.json()["id"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/xml",
    ],
)
def test_body_that_is_not_json_is_unsupported(license_client, entitlement, content_type):
    before = _state(entitlement)

    response = _post_raw(license_client, "fingerprint=abc", content_type)

    _assert_clear_error(response, 415, "unsupported_media_type")
    assert _state(entitlement) == before


def test_form_encoded_activation_is_unsupported(license_client, entitlement):
    before = _state(entitlement)

    response = license_client.post("/api/v1/activations", {"fingerprint": "abc"})  # multipart

    _assert_clear_error(response, 415, "unsupported_media_type")
    assert _state(entitlement) == before


# --- activation ids in the URL --------------------------------------------------------------

BAD_IDS = {
    "unknown-uuid": str(uuid.uuid4()),
    "malformed": "not-a-uuid",
    "almost-uuid": "12345678-1234-1234-1234-12345678901",
    "integer": "1",
    "nul": "%00",
    "percent-encoded-junk": "%ff%fe",
    "huge": "a" * 5000,
    "unicode": "%E2%9C%93",
}


@pytest.mark.parametrize("action", ["heartbeat", "release"])
@pytest.mark.parametrize("seat_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_unknown_or_malformed_activation_id_is_not_found(
    license_client, entitlement, seat, action, seat_id
):
    before = _state(entitlement)

    if action == "heartbeat":
        response = license_client.post(f"/api/v1/activations/{seat_id}/heartbeat")
    else:
        response = license_client.delete(f"/api/v1/activations/{seat_id}")

    _assert_clear_error(response, 404, "activation_not_found")
    assert _state(entitlement) == before


@pytest.mark.parametrize("action", ["heartbeat", "release"])
def test_activation_id_of_another_entitlement_is_not_found(
    license_client, entitlement, make_entitlement, action
):
    other = make_entitlement()
    theirs = _take(other, "theirs")
    before, other_before = _state(entitlement), _state(other)

    if action == "heartbeat":
        response = license_client.post(f"/api/v1/activations/{theirs.pk}/heartbeat")
    else:
        response = license_client.delete(f"/api/v1/activations/{theirs.pk}")

    _assert_clear_error(response, 404, "activation_not_found")
    assert _state(entitlement) == before
    assert _state(other) == other_before
    assert Seat.objects.get(pk=theirs.pk).released_at is None


# --- methods --------------------------------------------------------------------------------

WRONG_METHODS = [
    ("get", "/api/v1/activations"),
    ("put", "/api/v1/activations"),
    ("patch", "/api/v1/activations"),
    ("delete", "/api/v1/activations"),
    ("get", "/api/v1/activations/{id}/heartbeat"),
    ("put", "/api/v1/activations/{id}/heartbeat"),
    ("delete", "/api/v1/activations/{id}/heartbeat"),
    ("get", "/api/v1/activations/{id}"),
    ("post", "/api/v1/activations/{id}"),
    ("put", "/api/v1/activations/{id}"),
    ("patch", "/api/v1/activations/{id}"),
    ("post", "/api/v1/entitlement"),
    ("put", "/api/v1/entitlement"),
    ("delete", "/api/v1/entitlement"),
]


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_wrong_method_is_not_allowed(license_client, entitlement, seat, method, path):
    before = _state(entitlement)

    response = getattr(license_client, method)(
        path.format(id=seat.pk), {"fingerprint": "x"}, format="json"
    )

    _assert_clear_error(response, 405, "method_not_allowed")
    assert "Allow" in response.headers
    assert _state(entitlement) == before


# --- the blanket guarantee ------------------------------------------------------------------

JUNK: list[Any] = [
    *(raw for raw in RAW_BODIES.values()),
    *(json.dumps({"fingerprint": v}).encode() for v in FIELD_VALUES.values()),
    json.dumps({"fingerprint": "ok", "label": {"x": 1}}).encode(),
    json.dumps({"fingerprint": "ok" * 200, "label": "x" * 10_000}).encode(),
    b"\x00\x01\x02",
    b"{" * 10_000,
    '{"fingerprint": "\U0001f4bb"}'.encode("utf-16"),
]
PATHS = [
    "/api/v1/activations",
    "/api/v1/activations/{held}/heartbeat",
    "/api/v1/activations/{unknown}",
    "/api/v1/activations/not-a-uuid/heartbeat",
    "/api/v1/activations/not-a-uuid",
    "/api/v1/entitlement",
]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_no_junk_input_on_any_endpoint_causes_a_server_error(
    license_client, entitlement, seat, method
):
    anonymous = APIClient()
    wrong_key = APIClient()
    wrong_key.credentials(HTTP_AUTHORIZATION="License \x00\xff junk")
    before = _state(entitlement)
    answered: Counter[int] = Counter()
    addresses = (f"10.0.{n // 250}.{n % 250 + 1}" for n in range(100_000))

    for path in PATHS:
        url = path.format(held=seat.pk, unknown=uuid.uuid4())
        for client, bodies in (
            (license_client, JUNK),
            (anonymous, JUNK[:3]),
            (wrong_key, JUNK[:3]),
        ):
            for body in bodies:
                for content_type in ("application/json", "text/plain"):
                    # A fresh address each time, so the failed-authentication throttle (429)
                    # does not stop the requests before they reach the code under test.
                    response = client.generic(
                        method, url, body, content_type=content_type, REMOTE_ADDR=next(addresses)
                    )
                    assert response.status_code < 500, (method, url, body[:60])
                    answered[response.status_code] += 1

    print(f"\n{method}: {dict(answered)}")
    # Only the status and a heartbeat on the held seat succeed with the right key (both ignore
    # the body); without it, authentication refuses before the body is read.
    assert set(answered) <= {200, 400, 401, 404, 405, 415}
    assert _state(entitlement) == before
