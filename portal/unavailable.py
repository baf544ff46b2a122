"""A database outage answers 503 `service_unavailable` with Retry-After, never a 500.

The database's errors of availability (OperationalError: refused, timed out, the breaker in
portal.postgres open, the server gone mid-query; InterfaceError: a connection already closed)
become one answer: JSON on the APIs, the styled 503 page elsewhere. The middleware catches them
from views; `portal.views.server_error` catches those raised elsewhere (a middleware saving the
session), so there is no path to a 500 for them. Once the database answers again, requests
succeed with nothing restarted: Django drops broken connections at the end of each request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def is_database_outage(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


def response(request: HttpRequest, error: BaseException) -> HttpResponse:
    retry_after = settings.DATABASE_RETRY_SECONDS
    logger.warning(
        "database unavailable for %s %s: %s", request.method, request.path, error, exc_info=False
    )
    if request.path.startswith("/api/"):
        answer: HttpResponse = JsonResponse(
            {
                "code": "service_unavailable",
                "message": f"The service is briefly unavailable. Retry in {retry_after} seconds.",
            },
            status=503,
        )
    else:
        # Rendered without the request: the page must not touch sessions or users (the database).
        answer = HttpResponse(
            render_to_string("503.html", {"retry_after": retry_after}), status=503
        )
    answer["Retry-After"] = str(retry_after)
    answer["Cache-Control"] = "no-store"
    return answer


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return response(request, exception) if is_database_outage(exception) else None
