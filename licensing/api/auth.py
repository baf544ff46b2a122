import re
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from licensing import statements
from licensing.models import Entitlement

KEYWORD = "License"
_KEY_SHAPE = re.compile(r"^[0-9A-Z]{25}$")


def normalise_license_key(raw: str) -> str:
    """Accept keys as people type them: any case, with or without the dashes."""
    key = re.sub(r"[\s-]", "", raw).upper()
    if _KEY_SHAPE.match(key):
        return "-".join(key[i : i + 5] for i in range(0, 25, 5))
    return raw.strip()


_FIELDS = [field.attname for field in Entitlement._meta.concrete_fields]
_BY_KEY = (
    f"SELECT {', '.join(_FIELDS)} FROM {Entitlement._meta.db_table} WHERE license_key = %(key)s"
)


def _by_license_key(key: str) -> Entitlement | None:
    """The entitlement with this (unique) key: one indexed query, no join, no ORDER BY.

    Every client API call makes this lookup, so on PostgreSQL it is a prepared statement
    (`licensing.statements.run`); compiling the equivalent queryset cost about as much CPU as
    running it (docs/performance.md).
    """
    if not statements.available():
        return Entitlement.objects.filter(license_key=key).order_by("pk").first()
    rows = statements.run(_BY_KEY, {"key": key})
    return Entitlement.from_db(connection.alias, _FIELDS, rows[0]) if rows else None


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


def license_key_from_header(request: Request) -> str | None:
    """The normalised key the request names, or None when its header is unusable."""
    try:
        return _key_from_header(request)
    except exceptions.AuthenticationFailed:
        return None


class LicenseKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: License <license_key>`; `request.auth` is the Entitlement."""

    def authenticate(self, request: Request) -> tuple[Any, Entitlement]:
        key = _key_from_header(request)
        entitlement = _by_license_key(key) if key is not None else None
        if entitlement is None:
            raise exceptions.AuthenticationFailed(
                "This license key is not valid.", code="invalid_license_key"
            )
        return AnonymousUser(), entitlement

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'
