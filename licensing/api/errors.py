"""One error shape for every API answer: `{"code", "message", "errors"?}`."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from licensing import errors

_DOMAIN_STATUS: dict[type[errors.LicensingError], int] = {
    errors.EntitlementSuspended: status.HTTP_403_FORBIDDEN,
    errors.EntitlementExpired: status.HTTP_403_FORBIDDEN,
    errors.EntitlementNotStarted: status.HTTP_403_FORBIDDEN,
    errors.SeatNotFound: status.HTTP_404_NOT_FOUND,
    errors.SeatNotHeld: status.HTTP_410_GONE,
}

_CODES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.ParseError: ("invalid_json", "The request body is not valid JSON."),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", ""),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", ""),
    exceptions.NotAcceptable: ("not_acceptable", ""),
    exceptions.PermissionDenied: ("permission_denied", ""),
    exceptions.Throttled: ("throttled", ""),
}


def error_body(code: str, message: str, errors_: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    if errors_:
        body["errors"] = errors_
    return body


def _field_errors(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_errors(item) for item in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, errors.LicensingError):
        extra = {"reason": exc.reason} if isinstance(exc, errors.SeatNotHeld) else {}
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, **extra), status=_DOMAIN_STATUS.get(type(exc), 400)
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(int(wait + 0.999))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header

    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        body = error_body("invalid_request", _summary(fields), fields)
    elif isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "not_authenticated"
        body = error_body(str(code), str(exc.detail))
    else:
        code, message = _CODES.get(type(exc), (str(exc.default_code), ""))
        body = error_body(code, message or str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _summary(fields: dict[str, Any]) -> str:
    for name, problems in fields.items():
        first = problems[0] if isinstance(problems, list) and problems else problems
        if isinstance(first, str):
            return first if name == "non_field_errors" else f"{name}: {first}"
    return "The request is invalid."
