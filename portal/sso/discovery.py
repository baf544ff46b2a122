"""A provider's discovery document (`<issuer>/.well-known/openid-configuration`), fetched and
checked when a connection is saved, so a wrong issuer is an error on the form, not a failed
sign-in later."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

from webhooks.transport import is_public_address

TIMEOUT_SECONDS: Final = 5
REQUIRED: Final = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _refuse(message: str) -> ValidationError:
    return ValidationError({"issuer": [message]}, code="invalid")


def check_address(issuer: str) -> None:
    """https, and a public address, unless SSO_ALLOW_PRIVATE_ISSUERS (tests, development):
    the portal fetches from this address, so it must not reach the portal's own network."""
    parts = urlsplit(issuer)
    allow_private = settings.SSO_ALLOW_PRIVATE_ISSUERS
    if parts.scheme not in {"https", *(["http"] if allow_private else [])}:
        raise _refuse("The issuer must be an https:// address.")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise _refuse(
            "The issuer must be a plain https:// address, e.g. https://login.example.com."
        )
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse(f"{parts.hostname} does not resolve: is the issuer right?") from None
    for info in infos:
        if not is_public_address(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])):
            raise _refuse(f"{parts.hostname} is not a public address.")


def fetch(issuer: str) -> dict[str, Any]:
    """The discovery document of `issuer`, or a ValidationError on `issuer` saying what is
    wrong (unreachable, not a provider, or a provider whose issuer is another)."""
    check_address(issuer)
    url = discovery_url(issuer)
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        raise _refuse(f"Could not reach {url} ({type(exc).__name__}).") from None
    if response.status_code != 200:
        raise _refuse(
            f"{url} answered {response.status_code}: this is not the issuer of an OpenID"
            " Connect provider."
        )
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise _refuse(f"{url} is not a discovery document (no JSON object).")
    named = document.get("issuer")
    if named != issuer:
        raise _refuse(
            f"The provider at {url} names its issuer {named!r}, not {issuer!r}. Enter the"
            " issuer exactly as your provider publishes it."
        )
    missing = [key for key in REQUIRED if not isinstance(document.get(key), str)]
    if missing:
        raise _refuse(f"{url} lacks {', '.join(missing)}: the provider cannot be used.")
    return document
