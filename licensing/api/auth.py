import re
from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from licensing import selectors
from licensing.models import Entitlement

KEYWORD = "License"
_KEY_SHAPE = re.compile(r"^[0-9A-Z]{25}$")


def normalise_license_key(raw: str) -> str:
    """Accept keys as people type them: any case, with or without the dashes."""
    key = re.sub(r"[\s-]", "", raw).upper()
    if _KEY_SHAPE.match(key):
        return "-".join(key[i : i + 5] for i in range(0, 25, 5))
    return raw.strip()


def _key_from_header(request: Request) -> str | None:
    """The normalised key from `Authorization: License <key>`; None when no stored key could
    match it. Raises AuthenticationFailed (with what is wrong) for a missing or malformed
    header."""
    header = authentication.get_authorization_header(request)
    if not header:
        raise exceptions.AuthenticationFailed(
            "Send the license key as 'Authorization: License <key>'.",
            code="invalid_license_key",
        )
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(
            "The Authorization header is not valid UTF-8.", code="invalid_license_key"
        ) from None
    parts = text.split()
    if len(parts) != 2 or parts[0].lower() != KEYWORD.lower():
        raise exceptions.AuthenticationFailed(
            "Malformed Authorization header: expected 'License <key>'.",
            code="invalid_license_key",
        )
    key = normalise_license_key(parts[1])
    # No stored key is longer or holds control characters (PostgreSQL refuses NUL in text).
    return key if len(key) <= 64 and key.isprintable() else None


class LicenseKey:
    """The license key a request sent (`request.auth`). Its entitlement is looked up on first
    use: an activation's first step needs only the key (licensing.statements), so the common
    activation makes no lookup at all."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self._entitlement: Entitlement | None = None

    @property
    def entitlement(self) -> Entitlement:
        """The key's entitlement; AuthenticationFailed (401) when it names none."""
        if self._entitlement is None:
            found = selectors.entitlement_by_license_key(self.key) if self.key else None
            if found is None:
                raise invalid_license_key()
            self._entitlement = found
        return self._entitlement


def invalid_license_key() -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(
        "This license key is not valid.", code="invalid_license_key"
    )


class LicenseKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: License <license_key>`; `request.auth` is the LicenseKey. A missing or
    malformed header fails here; a well-formed key that names no entitlement fails where its
    entitlement is first needed, with the same 401."""

    def authenticate(self, request: Request) -> tuple[Any, LicenseKey]:
        return AnonymousUser(), LicenseKey(_key_from_header(request))

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'
