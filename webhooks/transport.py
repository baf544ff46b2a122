"""The one place webhooks leave the building: address policy and the HTTP POST.

Every outgoing request resolves the host name, checks every address it resolves to, and then
connects to a checked address itself (sending the original Host header and TLS server name),
so a DNS answer that changes between the check and the connection cannot reach a refused
address. Redirects are never followed: a 3xx is reported as a failure.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from django.conf import settings

EXCERPT_BYTES: Final = 1024
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named explicitly even where `is_global` already covers them, so the intent is on record.
_REFUSED_NETWORKS: Final = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, including 169.254.169.254 (cloud metadata)
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "fc00::/7",  # unique local, including fd00:ec2::254 (AWS metadata over IPv6)
        "fe80::/10",
        "ff00::/8",
    )
]


class RefusedAddress(Exception):
    """The URL reaches an address webhooks may not be sent to (or cannot be resolved)."""


@dataclasses.dataclass(frozen=True)
class Response:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def is_public_address(ip: _IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
        if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 wraps an IPv4 address
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if any(ip in net for net in _REFUSED_NETWORKS):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_URLS", False))


def _split(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise RefusedAddress("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise RefusedAddress("The URL has no host name.")
    if parts.username or parts.password:
        raise RefusedAddress("Credentials in the URL are not allowed; use the signing secret.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedAddress("The URL's port is not valid.") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port, path


def resolve(host: str, port: int) -> list[_IPAddress]:
    """Every address `host` resolves to, each checked; raises RefusedAddress."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"The host name {host!r} does not resolve ({exc}).") from None
    addresses: list[_IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise RefusedAddress(f"The host name {host!r} does not resolve.")
    if not _allow_private():
        for ip in addresses:
            if not is_public_address(ip):
                raise RefusedAddress(
                    f"{host} resolves to {ip}, a loopback, private, link-local or reserved"
                    " address; webhooks cannot be sent there. For local testing, set"
                    " WEBHOOKS_ALLOW_PRIVATE_URLS=1 on the portal."
                )
    return addresses


def check_url(url: str) -> None:
    """Refuse a URL that is malformed or reaches a refused address (when it is saved)."""
    _scheme, host, port, _path = _split(url)
    resolve(host, port)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        # The certificate is checked against the URL's host name, not the pinned address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Response:
    """POST `body` to `url`; never raises for network trouble, reports it in `error`."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, path = _split(url)
        ip = str(resolve(host, port)[0])
    except RefusedAddress as exc:
        return Response(None, "", str(exc), elapsed())
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, ip=ip, timeout=timeout)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "OverdraftPortal-Webhooks/1",
                **headers,
            },
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        error = ""
        if 300 <= response.status < 400:
            location = response.getheader("Location", "")
            error = f"Redirects are not followed (to {location or 'nowhere'})."[:500]
        return Response(response.status, excerpt, error, elapsed())
    except TimeoutError:
        return Response(None, "", f"Timed out after {timeout:g} s.", elapsed())
    except (OSError, http.client.HTTPException) as exc:
        return Response(None, "", f"{type(exc).__name__}: {exc}"[:500], elapsed())
    finally:
        connection.close()
