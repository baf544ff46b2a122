"""The default cache on Redis, which degrades to process memory instead of failing.

The cache holds rate-limit counters (the APIs' throttles, allauth's login limits). A license
server that refuses every seat because its rate-limit store is away is worse than one with a
rougher limit for a while, so every operation here that Redis cannot answer in time (refused,
reset, or hung past `socket_timeout`) is answered by a bounded per-process LocMemCache, and a
circuit breaker (portal.breaker) keeps the following calls off Redis until it answers again:
a dead or hung Redis costs one short timeout per `RETRY_SECONDS` and process, not one per call.
While degraded, limits count per process, so a client may get up to one limit per web process.

Settings (portal/settings.py builds them from REDIS_URL, REDIS_TIMEOUT_MS and
REDIS_RETRY_SECONDS): `OPTIONS` as for Django's RedisCache (socket timeouts included),
`RETRY_SECONDS`, and `FALLBACK_MAX_ENTRIES` for the local fallback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from prometheus_client import Counter
from redis.exceptions import RedisError

from portal.breaker import CircuitBreaker

FALLBACK_CALLS = Counter(
    "portal_cache_fallback_calls",
    "Cache operations answered by the process's local fallback because Redis was unavailable.",
)

# Django builds one backend object per thread; the breaker is one per process and location.
_breakers: dict[str, CircuitBreaker] = {}

# INCRBY only if the key exists, as Django's incr() promises, in one round trip (Django's own
# RedisCache asks EXISTS first: two). Throttles call this once per API request.
_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return false
"""


def _guarded(name: str, on_redis: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
        breaker = self.breaker
        if breaker.allow():
            with contextlib.suppress(RedisError), breaker.attempt(RedisError):
                return on_redis(self, *args, **kwargs)
        FALLBACK_CALLS.inc()
        return getattr(self.fallback, name)(*args, **kwargs)

    method.__name__ = name
    return method


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.breaker = _breakers.setdefault(
            server,
            CircuitBreaker(f"cache Redis {server}", retry_seconds=params.get("RETRY_SECONDS", 5)),
        )
        self.fallback = LocMemCache(
            f"redis-fallback:{server}",
            {
                **{k: v for k, v in params.items() if k in ("KEY_PREFIX", "VERSION", "TIMEOUT")},
                "OPTIONS": {"MAX_ENTRIES": params.get("FALLBACK_MAX_ENTRIES", 10_000)},
            },
        )
        self._client: Any = None
        self._incr_script: Any = None

    def _redis_incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if self._client is None:  # Django's client would build a Redis object per call
            self._client = self._cache.get_client(write=True)
            self._incr_script = self._client.register_script(_INCR_EXISTING)
        # make_key: validation only warns about keys memcached would refuse
        redis_key = self.make_key(key, version=version)
        value = self._incr_script(keys=[redis_key], args=[delta])  # EVALSHA, EVAL on NOSCRIPT
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(value)

    add = _guarded("add", RedisCache.add)
    get = _guarded("get", RedisCache.get)
    set = _guarded("set", RedisCache.set)
    touch = _guarded("touch", RedisCache.touch)
    delete = _guarded("delete", RedisCache.delete)
    get_many = _guarded("get_many", RedisCache.get_many)
    has_key = _guarded("has_key", RedisCache.has_key)
    incr = _guarded("incr", _redis_incr)
    set_many = _guarded("set_many", RedisCache.set_many)
    delete_many = _guarded("delete_many", RedisCache.delete_many)
    clear = _guarded("clear", RedisCache.clear)
