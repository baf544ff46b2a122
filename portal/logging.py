"""Structured logs: a JSON formatter, request ids, and one log line per API request.

`LOG_FORMAT=json` switches the console handler to `JsonFormatter` (one JSON object per line,
for a log shipper); the default plain text keeps the embedded demo readable. Every record
logged while a request is being handled carries that request's id, taken from a sane incoming
`X-Request-ID` (set by the load balancer) or generated here, and returned in the response.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

from django.http import HttpRequest, HttpResponse

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER: Final = "X-Request-ID"
_REQUEST_ID_META: Final = "HTTP_X_REQUEST_ID"
# Ids from outside end up in every log line: short, and nothing that could forge a field or a
# line (no quotes, spaces or control characters).
_SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
# The view whose log line carries the activation result (ok / overdraft / denied).
ACTIVATION_VIEW: Final = "api:activation-create"

access_logger = logging.getLogger("portal.access")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def current_request_id() -> str | None:
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _record_request_id(record),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _record_request_id(record: logging.LogRecord) -> str | None:
    # Django logs 4xx/5xx responses ("django.request") after the middleware has returned, with
    # the request attached to the record: its id is kept on the request for that.
    return (
        getattr(record, "request_id", None)
        or request_id_var.get()
        or getattr(getattr(record, "request", None), "request_id", None)
    )


def _request_id(request: HttpRequest) -> str:
    # META, not request.headers: building the headers mapping cost more than the rest of this.
    incoming = request.META.get(_REQUEST_ID_META, "")
    if _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name or "") if match is not None else ""


def _api_fields(request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    """The activation result and error code, read from the DRF response the view returned."""
    fields: dict[str, Any] = {}
    data = getattr(response, "data", None)
    if not isinstance(data, dict):
        return fields
    if _view_name(request) == ACTIVATION_VIEW and data.get("status") in {
        "ok",
        "overdraft",
        "denied",
    }:
        fields["activation_result"] = data["status"]
    if response.status_code >= 400 and isinstance(data.get("code"), str):
        fields["error_code"] = data["code"]
    return fields


class RequestIdMiddleware:
    """Give every request an id (contextvar + response header); log one line per API call.

    First in MIDDLEWARE, so the id is set for everything after it, health checks included.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if request.path.startswith("/api/") and access_logger.isEnabledFor(logging.INFO):
                self._log(request, response, time.perf_counter() - started)
            return response
        finally:
            request_id_var.reset(token)

    def _log(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        fields = {
            "method": request.method,
            "path": request.path,
            "view": _view_name(request),
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
            **_api_fields(request, response),
        }
        result = fields.get("activation_result")
        access_logger.info(
            "%s %s %s%s",
            request.method,
            request.path,
            response.status_code,
            f" {result}" if result else "",
            extra=fields,
        )
