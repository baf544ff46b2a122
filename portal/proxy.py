"""The client's address behind trusted proxies (TRUSTED_PROXIES), set once as REMOTE_ADDR.

Every limit and record that names an address (the APIs' failed-auth lockout, allauth's login
limits, the audit log, /metrics' same-host rule) reads REMOTE_ADDR, so resolving it here, first,
gives them all the same answer. X-Forwarded-For is believed only from a trusted peer, and only
as far as trusted proxies wrote it: read from the right, each hop is the address the proxy
before it saw, and the first hop that is not a trusted proxy is the client (anything to its
left is the client's own claim). The peer's address stays in META["PORTAL_PEER_ADDR"].
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def _address(raw: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(raw.strip())
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address | None) -> bool:
    return address is not None and any(address in net for net in settings.TRUSTED_PROXIES)


def client_address(peer: str, forwarded_for: str) -> str:
    """The client's address for a request from `peer` carrying `forwarded_for`."""
    if not _trusted(_address(peer)):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break  # garbage written by a trusted proxy: go no further than the last good hop
        client = str(address)
        if not _trusted(address):
            break
    return client


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.TRUSTED_PROXIES:
            peer = str(request.META.get("REMOTE_ADDR") or "")
            request.META["PORTAL_PEER_ADDR"] = peer
            request.META["REMOTE_ADDR"] = client_address(
                peer, request.META.get("HTTP_X_FORWARDED_FOR", "")
            )
        return self.get_response(request)
