import re
from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from licensing.models import Entitlement

KEYWORD = "License"
_KEY_SHAPE = re.compile(r"^[0-9A-Z]{25}$")


def normalise_license_key(raw: str) -> str:
    """Accept keys as people type them: any case, with or without the dashes."""
    key = re.sub(r"[\s-]", "", raw).upper()
    if _KEY_SHAPE.match(key):
        return "-".join(key[i : i + 5] for i in range(0, 25, 5))
    return raw.strip()


def _by_license_key(key: str) -> Entitlement | None:
    """The entitlement with this (unique) key: one indexed query, no join, no ORDER BY.

    Raw SQL because every client API call makes this lookup, and compiling the equivalent
    queryset cost about as much CPU as running it (docs/performance.md).
    """
    table = Entitlement._meta.db_table
    found = Entitlement.objects.raw(f"SELECT * FROM {table} WHERE license_key = %s", [key])
    return next(iter(found), None)


class LicenseKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: License <license_key>`; `request.auth` is the Entitlement."""

    def authenticate(self, request: Request) -> tuple[Any, Entitlement]:
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
        usable = len(key) <= 64 and key.isprintable()
        entitlement = _by_license_key(key) if usable else None
        if entitlement is None:
            raise exceptions.AuthenticationFailed(
                "This license key is not valid.", code="invalid_license_key"
            )
        return AnonymousUser(), entitlement

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'
