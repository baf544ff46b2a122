"""OpenAPI pieces shared by both APIs: auth schemes, error responses, pagination, docs page.

Every operation lists each status it can answer with, and each error body is the one shape of
`licensing.api.errors`, so generated clients and schemathesis can hold the API to it.
"""

from __future__ import annotations

from typing import Any, Final

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from licensing.api.serializers import (
    DeniedSerializer,
    EntitlementStatusSerializer,
    ErrorSerializer,
    GrantedSerializer,
    SeatNotHeldSerializer,
)


class LicenseKeyScheme(OpenApiAuthenticationExtension):
    target_class = "licensing.api.auth.LicenseKeyAuthentication"
    name = "LicenseKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Client API: `Authorization: License <license_key>`.",
        }


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "licensing.api.tokens.BearerTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Vendor API: `Authorization: Bearer <token>` of an account-team "
            "member (create one under Team → API tokens or with `manage.py create_api_token`).",
        }


_ERRORS: Final = {
    400: "Invalid input: `code` is `invalid_request` (field errors in `errors`) or `invalid_json`.",
    401: "Missing, unknown or revoked credentials (`not_authenticated`, `invalid_license_key`, "
    "`invalid_token`).",
    403: "Not allowed: `read_only_token` for a write with a read-only token.",
    404: "No such object, or not one these credentials may see (`not_found`).",
    405: "Method not allowed here (`method_not_allowed`).",
    406: "Only JSON is served (`not_acceptable`).",
    409: "Conflict.",
    410: "Gone.",
    415: "Send JSON (`unsupported_media_type`).",
    429: "Too many requests (`throttled`); wait `Retry-After` seconds.",
}

RETRY_AFTER: Final = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)


def error(status: int, description: str = "") -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description or _ERRORS[status])


def responses(
    ok: dict[int, Any], *statuses: int, write: bool = False, body: bool = False
) -> dict[int, Any]:
    """Success responses plus the errors every call can give and the `statuses` listed.

    `body`: the call reads a JSON body (400, 415); `write`: a read-only token gets 403.
    """
    errors = {401, 405, 406, 429, *statuses}
    if body:
        errors |= {400, 415}
    if write:
        errors.add(403)
    return {**ok, **{status: error(status) for status in sorted(errors)}}


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=`; a bad value is a 400, not silently replaced."""

    default_limit = 50
    max_limit = 500

    def _number(self, request: Request, name: str, minimum: int, maximum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            raise serializers.ValidationError(
                {name: [f"Must be a whole number from {minimum} to {maximum}."]}
            )
        return value

    def get_limit(self, request: Request) -> int:
        value = self._number(request, self.limit_query_param, 1, self.max_limit)
        return self.default_limit if value is None else value

    def get_offset(self, request: Request) -> int:
        return self._number(request, self.offset_query_param, 0, 10**9) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        bounds = {"limit": (1, self.max_limit), "offset": (0, 10**9)}
        for param in params:
            low, high = bounds[param["name"]]
            param["schema"] = {"type": "integer", "minimum": low, "maximum": high}
        return params


def close_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: vendor request bodies refuse unknown fields (BodySerializer)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.removeprefix("Patched") in _CLOSED_BODIES:
            component["additionalProperties"] = False
        elif name == "ActivationInputRequest":
            # Shipped clients may send fields a newer portal knows and this one does not.
            component["additionalProperties"] = True
    return result


_CLOSED_BODIES: Final = {
    "CustomerCreateRequest",
    "ProductCreateRequest",
    "EntitlementCreateRequest",
    "EntitlementUpdateRequest",
    "RaiseGrantRequest",
}


# Swagger UI renders with inline style attributes; scripts still load only from the portal.
DOCS_CSP: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


class DocsView(SpectacularSwaggerSplitView):
    """Interactive docs at /api/docs/: assets from drf-spectacular-sidecar, no CDN."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response


# --- client API operations: keyword arguments for `extend_schema` in licensing.api.client ------

_FORBIDDEN_CLIENT = error(
    403,
    "The entitlement cannot grant seats now: `entitlement_suspended`, `entitlement_expired` "
    "or `entitlement_not_started`.",
)
ACTIVATION_ID: Final = OpenApiParameter(
    "activation_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The activation id."
)
DENIED_RETRY_AFTER: Final = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[409, 429],
    description="Seconds to wait: throttled, or until the earliest floating lease runs out.",
)


def _client(ok: dict[int, Any], *statuses: int, body: bool = False) -> dict[int, Any]:
    answers = responses(ok, *statuses, body=body)
    if 403 in answers:
        answers[403] = _FORBIDDEN_CLIENT
    return answers


ACTIVATION_CREATE: Final[dict[str, Any]] = {
    "operation_id": "activations_create",
    "tags": ["client"],
    "summary": "Take a seat",
    "description": "201 a new seat, 200 the seat this fingerprint already holds (lease "
    "renewed), 409 denied at the hard limit. `status` is `overdraft` above the entitled seats.",
    "parameters": [DENIED_RETRY_AFTER],
    "responses": _client(
        {
            201: OpenApiResponse(GrantedSerializer, description="Seat granted."),
            200: OpenApiResponse(GrantedSerializer, description="Seat already held."),
            409: OpenApiResponse(DeniedSerializer, description="Denied: hard limit reached."),
        },
        403,
        body=True,
    ),
}
ACTIVATION_HEARTBEAT: Final[dict[str, Any]] = {
    "operation_id": "activations_heartbeat",
    "tags": ["client"],
    "summary": "Extend a floating seat's lease",
    "request": None,
    "parameters": [ACTIVATION_ID, RETRY_AFTER],
    "responses": _client(
        {
            200: OpenApiResponse(GrantedSerializer, description="Lease extended."),
            410: OpenApiResponse(
                SeatNotHeldSerializer,
                description="`seat_not_held`: released, expired or revoked; activate again.",
            ),
        },
        403,
        404,
    ),
}
ACTIVATION_RELEASE: Final[dict[str, Any]] = {
    "operation_id": "activations_release",
    "tags": ["client"],
    "summary": "Release a seat",
    "parameters": [ACTIVATION_ID, RETRY_AFTER],
    "responses": _client(
        {204: OpenApiResponse(description="Released (also when it already was).")}, 403, 404
    ),
}
ENTITLEMENT_STATUS: Final[dict[str, Any]] = {
    "operation_id": "entitlement_status",
    "tags": ["client"],
    "summary": "The license key's entitlement: usage and zone",
    "parameters": [RETRY_AFTER],
    "responses": _client({200: EntitlementStatusSerializer}),
}
