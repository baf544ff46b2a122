"""The client API's common case, answered without DRF (docs/performance.md).

A request that is well formed and goes the usual way (known license key, a body the domain's
cleaners accept, no rate limit reached, a seat free or held) is answered here with one Redis
round trip and one SQL statement. Anything else is handed, untouched, to the DRF view, which
answers it as it always has: errors, 429s, denials, re-activations, SQLite. So every answer
is the DRF view's answer, byte for byte (tests/api/test_lane.py compares them), and the OpenAPI
schema keeps documenting the DRF views.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from licensing import services
from licensing.api import client
from licensing.api.auth import license_key_from_header
from licensing.api.throttling import license_call_allowed

JSON = "application/json"
Handler = Callable[..., HttpResponse | None]


class _Answer(HttpResponse):
    """JSON rendered as DRF's JSONRenderer does; `data` kept, as on DRF's Response (the access
    log reads it)."""

    def __init__(self, data: Any, *, status: int, allow: str) -> None:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        super().__init__(body, content_type=JSON, status=status)
        self.data = data
        self["Allow"] = allow


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: DRF's parser refuses them too


def _license_key(request: HttpRequest) -> str | None:
    accept = request.META.get("HTTP_ACCEPT")
    if accept and accept not in ("*/*", JSON):
        return None  # content negotiation is DRF's
    return license_key_from_header(request)  # type: ignore[arg-type]


def _activate(request: HttpRequest) -> HttpResponse | None:
    if request.content_type != JSON:
        return None
    key = _license_key(request)
    if key is None:
        return None
    try:
        data = json.loads(request.body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    cleaned = client.well_formed_activation(data)
    if cleaned is None or not license_call_allowed(request, key):
        return None
    fingerprint, label = cleaned
    result = services.seat_activate_common(license_key=key, fingerprint=fingerprint, label=label)
    if result is None or result.seat is None:
        return None
    body = client.granted_body(result.seat, result.counts, result.message)
    return _Answer(body, status=201, allow="POST, OPTIONS")


def _seat_call(request: HttpRequest, activation_id: str) -> tuple[str, uuid.UUID] | None:
    key = _license_key(request)
    if key is None:
        return None
    try:
        seat_id = uuid.UUID(activation_id)
    except ValueError:
        return None
    if not license_call_allowed(request, key):
        return None
    return key, seat_id


def _heartbeat(request: HttpRequest, activation_id: str) -> HttpResponse | None:
    call = _seat_call(request, activation_id)
    if call is None:
        return None
    renewed = services.seat_heartbeat_common(license_key=call[0], seat_id=call[1])
    if renewed is None:
        return None
    seat, counts = renewed
    body = client.granted_body(seat, counts, client.heartbeat_message(seat))
    return _Answer(body, status=200, allow="POST, OPTIONS")


def _release(request: HttpRequest, activation_id: str) -> HttpResponse | None:
    call = _seat_call(request, activation_id)
    if call is None or not services.seat_release_common(license_key=call[0], seat_id=call[1]):
        return None
    response = HttpResponse(status=204)
    del response["Content-Type"]  # as DRF answers an empty body
    response["Allow"] = "DELETE, OPTIONS"
    return response


def _lane(drf_view: Callable[..., HttpResponse], method: str, handler: Handler) -> Any:
    """A view: `handler` answers the common case of `method`, `drf_view` everything else."""

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == method:
            response = handler(request, *args, **kwargs)
            if response is not None:
                return response
        return drf_view(request, *args, **kwargs)

    # What drf-spectacular and Django read from a DRF view function.
    view.cls = drf_view.cls  # type: ignore[attr-defined]
    view.initkwargs = drf_view.initkwargs  # type: ignore[attr-defined]
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


activation_create = _lane(client.ActivationCreateView.as_view(), "POST", _activate)
activation_heartbeat = _lane(client.ActivationHeartbeatView.as_view(), "POST", _heartbeat)
activation_release = _lane(client.ActivationReleaseView.as_view(), "DELETE", _release)
