"""The library's errors. Each carries the portal's stable `code` when the portal gave one.

    OverdraftError
    ├── Unavailable        the portal could not be reached, or answered 5xx/429, on every try
    ├── InvalidLease       a lease token that does not license this client now
    └── APIError           an answer that asking again will not change (4xx)
        ├── InvalidRequest       400 invalid_request / invalid_json
        ├── InvalidLicenseKey    401 invalid_license_key
        ├── EntitlementUnusable  403 entitlement_suspended / _expired / _not_started
        ├── ActivationNotFound   404 activation_not_found
        └── SeatNotHeld          410 seat_not_held (released, expired or revoked: activate again)

A denial (409) is not an error: `Client.activate()` returns `Denied`.
"""

from __future__ import annotations

from typing import Any


class OverdraftError(Exception):
    """Base of the library's errors."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class Unavailable(OverdraftError):
    """The portal could not be reached, or kept answering 5xx or 429, for as long as the call
    was allowed to retry. `retry_after` is the portal's `Retry-After` (seconds), if it sent one:
    ask again no sooner."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "unavailable",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after


class InvalidLease(OverdraftError):
    """A lease token that does not license this client now; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_lease")


class APIError(OverdraftError):
    """A 4xx answer other than a denial: retrying it would get the same answer."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        status: int | None = None,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.errors = errors


class InvalidRequest(APIError):
    """400: the request was malformed (e.g. an empty or too long fingerprint); see `errors`."""


class InvalidLicenseKey(APIError):
    """401: no entitlement has this license key (mistyped, or rotated out past its grace)."""


class EntitlementUnusable(APIError):
    """403: the entitlement cannot grant seats now; `code` is `entitlement_suspended`,
    `entitlement_expired` or `entitlement_not_started`."""


class ActivationNotFound(APIError):
    """404: no activation with this id exists for this license key."""


class SeatNotHeld(APIError):
    """410: the seat was released, expired or revoked; activate again for a new one."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: InvalidLicenseKey,
    403: EntitlementUnusable,
    404: ActivationNotFound,
    410: SeatNotHeld,
}


def api_error(status: int, body: Any) -> APIError:
    """The error of a 4xx answer with the portal's `{code, message, errors?}` body."""
    body = body if isinstance(body, dict) else {}
    message = body.get("message") or f"The portal answered HTTP {status}."
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
    return _BY_STATUS.get(status, APIError)(
        str(message), code=str(body.get("code") or ""), status=status, errors=errors
    )
