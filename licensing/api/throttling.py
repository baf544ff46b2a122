"""Rate limits for both APIs, kept in the default cache (Redis when REDIS_URL is set).

- per vendor API token (`API_THROTTLE_TOKEN`, e.g. "1000/min");
- per license key on the client API (`API_THROTTLE_LICENSE`, e.g. "600/min");
- failed authentications per client address (`API_THROTTLE_AUTH_FAILURES`), so guessing
  license keys or tokens is slow. Only failures count, and a locked address is refused only
  what fails: a request whose key or token is valid is always served (limited per key or
  token alone), so a shared address (an office, a proxy) cannot be locked out by its noisiest
  member. The address is REMOTE_ADDR, which portal.proxy sets from X-Forwarded-For only when
  the peer is a trusted proxy (TRUSTED_PROXIES).

Each limit is a fixed-window counter (one `incr` per request: one Redis round trip) rather
than DRF's sliding-window history, which would rewrite a list of timestamps in the cache on
every activation. A client may burst up to twice the rate across a window boundary; that is
fine for limits meant to stop runaways and guessing, not to meter. When Redis is away the cache
answers from process memory (portal.cache): limits then count per process, and no request
fails for it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from licensing.api.auth import LicenseKey
from licensing.models import ApiToken

_PERIODS = {"s": 1, "min": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


@functools.lru_cache(maxsize=64)  # read on every API call; the settings hold a handful of rates
def parse_rate(name: str, rate: str) -> tuple[int, int]:
    """`"600/min"` -> (600, 60); raises ImproperlyConfigured naming the setting."""
    match = _RATE.match(rate.lower())
    if not match or match.group(2) not in _PERIODS or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{name} must look like '600/min' (per s, min, hour or day), got {rate!r}"
        )
    return int(match.group(1)), _PERIODS[match.group(2)]


class FixedWindowThrottle(BaseThrottle):
    """Allow `rate` requests per window for each identity; `setting` names the rate."""

    setting = ""

    def identity(self, request: Request, view: APIView) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        ident = self.identity(request, view)
        if ident is None:
            return True
        count, self._wait = hit(self.setting, ident)
        return count <= limit_of(self.setting)

    def wait(self) -> float | None:
        return self._wait


def limit_of(setting: str) -> int:
    """Requests allowed per window by the rate `setting` names."""
    return parse_rate(setting, getattr(settings, setting))[0]


def _window_key(setting: str, ident: str) -> tuple[str, float]:
    """The cache key counting `ident` in this window of `setting`, and seconds left in it."""
    _, period = parse_rate(setting, getattr(settings, setting))
    now = time.time()
    window = int(now // period)
    return f"throttle:{setting}:{ident}:{window}", (window + 1) * period - now


def hit(setting: str, ident: str) -> tuple[int, float]:
    """Count one request for `ident`; returns the count in this window and seconds left."""
    key, left = _window_key(setting, ident)
    backend = caches["default"]
    # incr first (the common case once a window has started), add on a miss. The key names its
    # window, so it may live a little past the window's end and never counts into the next.
    with contextlib.suppress(ValueError):
        return int(backend.incr(key)), left
    if backend.add(key, 1, timeout=int(left) + 2):
        return 1, left
    return int(backend.incr(key)), left  # another request added it meanwhile


class TokenThrottle(FixedWindowThrottle):
    setting = "API_THROTTLE_TOKEN"

    def identity(self, request: Request, view: APIView) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiToken) else None


class LicenseKeyThrottle(FixedWindowThrottle):
    """Per license key as the client sent it (normalised: however it is spelled), counted
    before the key's entitlement is looked up."""

    setting = "API_THROTTLE_LICENSE"

    def identity(self, request: Request, view: APIView) -> str | None:
        return request.auth.key if isinstance(request.auth, LicenseKey) else None


class AuthFailureThrottleMixin:
    """Count failed authentications per client address; once an address has failed too often
    in the window, its failures get 429 instead of 401. Valid credentials are always served.

    Counted where DRF handles the failure, wherever it was found: a malformed header or an
    unknown token fails in authentication, an unknown license key where its entitlement is
    first needed (licensing.api.auth.LicenseKey).
    """

    AUTH_FAILURES_SETTING = "API_THROTTLE_AUTH_FAILURES"

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.AuthenticationFailed):  # not a missing token
            setting = self.AUTH_FAILURES_SETTING
            failures, left = hit(setting, client_ip(self.request))  # type: ignore[attr-defined]
            if failures > limit_of(setting):
                exc = exceptions.Throttled(
                    wait=left, detail="Too many failed authentication attempts from this address."
                )
        return super().handle_exception(exc)  # type: ignore[misc]


def client_ip(request: Request | HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, which portal.proxy has already resolved through any
    trusted proxies."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")
