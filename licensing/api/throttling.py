"""Rate limits for both APIs, kept in the default cache (Redis when REDIS_URL is set).

- per vendor API token (`API_THROTTLE_TOKEN`, e.g. "1000/min");
- per license key on the client API (`API_THROTTLE_LICENSE`, e.g. "600/min");
- failed authentications per client IP (`API_THROTTLE_AUTH_FAILURES`), so guessing license
  keys or tokens is slow. Successful requests never count against the IP.

Each limit is a fixed-window counter (one atomic `incr` per request: one Redis round trip)
rather than DRF's sliding-window history, which would rewrite a list of timestamps in the cache
on every activation. A client may burst up to twice the rate across a window boundary; that is
fine for limits meant to stop runaways and guessing, not to meter.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from redis.exceptions import NoScriptError
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from licensing.models import ApiToken, Entitlement

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


def _redis(backend: BaseCache) -> Any | None:
    """The Redis client of the default cache, or None when the cache is not Redis.

    Built once per cache object (one per thread): Django's RedisCache builds a new client
    object on every call, which showed in the activation profile.
    """
    if not isinstance(backend, RedisCache):
        return None
    client = getattr(backend, "_throttle_client", None)
    if client is None:
        client = backend._cache.get_client(write=True)
        backend._throttle_client = client  # type: ignore[attr-defined]
    return client


def _redis_key(backend: BaseCache, key: str) -> str:
    # make_key, not make_and_validate_key: validation only warns about keys memcached would
    # refuse, and Redis takes any key.
    return backend.make_key(key)


def hit(setting: str, ident: str) -> tuple[int, float]:
    """Count one request for `ident`; returns the count in this window and seconds left."""
    key, left = _window_key(setting, ident)
    backend = caches["default"]
    timeout = int(left) + 2
    client = _redis(backend)
    if client is not None:
        # One round trip: INCR creates the counter at 1. The key names its window, so
        # renewing the expiry on every hit still lets it die just after the window ends.
        redis_key = _redis_key(backend, key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(redis_key)
        pipe.expire(redis_key, timeout)
        return int(pipe.execute()[0]), left
    # Other caches: incr first (the common case once a window has started), add on a miss.
    with contextlib.suppress(ValueError):
        return int(backend.incr(key)), left
    if backend.add(key, 1, timeout=timeout):
        return 1, left
    return int(backend.incr(key)), left  # another request added it meanwhile


def count(setting: str, ident: str) -> tuple[int, float]:
    key, left = _window_key(setting, ident)
    backend = caches["default"]
    client = _redis(backend)
    if client is not None:
        return int(client.get(_redis_key(backend, key)) or 0), left
    return int(backend.get(key, 0)), left


# One command, so one request and one reply to encode and parse (a pipeline of three cost
# more client CPU): read KEYS[1], count one more in KEYS[2], renew its expiry (ARGV[1]).
_COUNT_AND_HIT = """
local counted = redis.call('GET', KEYS[1])
local hits = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {counted or 0, hits}
"""
_COUNT_AND_HIT_SHA1 = hashlib.sha1(_COUNT_AND_HIT.encode()).hexdigest()


def count_and_hit(
    count_setting: str, count_ident: str, hit_setting: str, hit_ident: str
) -> tuple[tuple[int, float], tuple[int, float]]:
    """`count(count_setting, count_ident)` and `hit(hit_setting, hit_ident)` in one Redis
    round trip (two on other caches)."""
    backend = caches["default"]
    client = _redis(backend)
    if client is None:
        return count(count_setting, count_ident), hit(hit_setting, hit_ident)
    count_key, count_left = _window_key(count_setting, count_ident)
    hit_key, hit_left = _window_key(hit_setting, hit_ident)
    keys_and_expiry = (
        _redis_key(backend, count_key),
        _redis_key(backend, hit_key),
        int(hit_left) + 2,
    )
    try:  # by its SHA1 once Redis knows the script; else sent whole, which teaches Redis the SHA1
        counted, hits = client.evalsha(_COUNT_AND_HIT_SHA1, 2, *keys_and_expiry)
    except NoScriptError:
        counted, hits = client.eval(_COUNT_AND_HIT, 2, *keys_and_expiry)
    return (int(counted or 0), count_left), (int(hits), hit_left)


class TokenThrottle(FixedWindowThrottle):
    setting = "API_THROTTLE_TOKEN"

    def identity(self, request: Request, view: APIView) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiToken) else None


class LicenseKeyThrottle(FixedWindowThrottle):
    """Per license key, counted by the key the client sent (normalised), so that the count
    can ride in the failed-auth check's round trip (`AuthFailureThrottleMixin`)."""

    setting = "API_THROTTLE_LICENSE"

    def allow_request(self, request: Request, view: APIView) -> bool:
        counted = getattr(request, "pre_auth_counts", None)
        if counted is None or not isinstance(request.auth, Entitlement):
            return super().allow_request(request, view)
        hits, self._wait = counted[1]
        return hits <= limit_of(self.setting)

    def identity(self, request: Request, view: APIView) -> str | None:
        return request.auth.license_key if isinstance(request.auth, Entitlement) else None


def client_ip(request: Request | HttpRequest) -> str:
    """The peer address; behind a proxy, its last hop must set REMOTE_ADDR (not trusting XFF)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class AuthFailureThrottleMixin:
    """Refuse an IP with 429 once it has failed authentication too often in the window.

    Runs around authentication (DRF checks throttles only after it), so a guesser is stopped
    before the lookup and every failed guess counts.
    """

    AUTH_FAILURES_SETTING = "API_THROTTLE_AUTH_FAILURES"

    def pre_auth_hit(self, request: Request) -> tuple[str, str] | None:
        """(setting, identity) of a rate limit to count in the same round trip as the
        failed-auth check, before authentication; None for none."""
        return None

    def perform_authentication(self, request: Request) -> None:
        setting = self.AUTH_FAILURES_SETTING
        counted = getattr(request, "pre_auth_counts", None)  # by licensing.api.lane
        also = self.pre_auth_hit(request)
        if counted is not None:
            failures, left = counted[0]
        elif also is None:
            failures, left = count(setting, client_ip(request))
        else:
            counted = count_and_hit(setting, client_ip(request), *also)
            failures, left = counted[0]
        request.pre_auth_counts = counted  # type: ignore[attr-defined]
        if failures >= limit_of(setting):
            raise exceptions.Throttled(
                wait=left, detail="Too many failed authentication attempts from this address."
            )
        try:
            super().perform_authentication(request)  # type: ignore[misc]
        except exceptions.AuthenticationFailed:  # a wrong key or token, not a missing one
            hit(setting, client_ip(request))
            raise


def license_call_allowed(request: HttpRequest, key: str) -> bool:
    """What the client API's throttles would decide for a call with license `key`: the
    caller's failed authentications and one more call of the key, counted in one round trip.
    The counts stay on the request (`pre_auth_counts`), so a DRF view that gets the call
    afterwards does not count it again."""
    failures_setting = AuthFailureThrottleMixin.AUTH_FAILURES_SETTING
    license_setting = LicenseKeyThrottle.setting
    counted = count_and_hit(failures_setting, client_ip(request), license_setting, key)
    request.pre_auth_counts = counted  # type: ignore[attr-defined]
    (failures, _), (hits, _) = counted
    return failures < limit_of(failures_setting) and hits <= limit_of(license_setting)
