"""Rate limits for both APIs, kept in the default cache (Redis when REDIS_URL is set).

- per vendor API token (`API_THROTTLE_TOKEN`, e.g. "1000/min");
- per license key on the client API (`API_THROTTLE_LICENSE`, e.g. "600/min");
- failed authentications per client IP (`API_THROTTLE_AUTH_FAILURES`), so guessing license
  keys or tokens is slow. Successful requests never count against the IP.

Each limit is a fixed-window counter (one atomic `incr` per request) rather than DRF's
sliding-window history, which would rewrite a list of timestamps in the cache on every
activation. A client may burst up to twice the rate across a window boundary; that is fine for
limits meant to stop runaways and guessing, not to meter.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from licensing.models import ApiToken, Entitlement

_PERIODS = {"s": 1, "min": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


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
        return count <= parse_rate(self.setting, getattr(settings, self.setting))[0]

    def wait(self) -> float | None:
        return self._wait


def _window(setting: str) -> tuple[int, int, float]:
    num, period = parse_rate(setting, getattr(settings, setting))
    now = time.time()
    window = int(now // period)
    return num, window, (window + 1) * period - now


def hit(setting: str, ident: str) -> tuple[int, float]:
    """Count one request for `ident`; returns the count in this window and seconds left."""
    _, window, left = _window(setting)
    key = f"throttle:{setting}:{ident}:{window}"
    if cache.add(key, 1, timeout=int(left) + 2):
        return 1, left
    try:
        return int(cache.incr(key)), left
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=int(left) + 2)
        return 1, left


def count(setting: str, ident: str) -> tuple[int, float]:
    _, window, left = _window(setting)
    return int(cache.get(f"throttle:{setting}:{ident}:{window}", 0)), left


class TokenThrottle(FixedWindowThrottle):
    setting = "API_THROTTLE_TOKEN"

    def identity(self, request: Request, view: APIView) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiToken) else None


class LicenseKeyThrottle(FixedWindowThrottle):
    setting = "API_THROTTLE_LICENSE"

    def identity(self, request: Request, view: APIView) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, Entitlement) else None


def client_ip(request: Request) -> str:
    """The peer address; behind a proxy, its last hop must set REMOTE_ADDR (not trusting XFF)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class AuthFailureThrottleMixin:
    """Refuse an IP with 429 once it has failed authentication too often in the window.

    Runs around authentication (DRF checks throttles only after it), so a guesser is stopped
    before the lookup and every failed guess counts.
    """

    AUTH_FAILURES_SETTING = "API_THROTTLE_AUTH_FAILURES"

    def perform_authentication(self, request: Request) -> None:
        setting = self.AUTH_FAILURES_SETTING
        limit = parse_rate(setting, getattr(settings, setting))[0]
        failures, left = count(setting, client_ip(request))
        if failures >= limit:
            raise exceptions.Throttled(
                wait=left, detail="Too many failed authentication attempts from this address."
            )
        try:
            super().perform_authentication(request)  # type: ignore[misc]
        except exceptions.AuthenticationFailed:  # a wrong key or token, not a missing one
            hit(setting, client_ip(request))
            raise
