"""The portal's public keys, which check lease tokens offline.

Either pinned (`Client(jwks=...)`: those keys and no others, never fetched; a vendor who ships
the keys in the product must ship the new public key after each rotation), or fetched from the
portal's `/.well-known/jwks.json` when a token names a key id not yet known, and kept on disk
when the client has a `cache_dir`. A rotation at the portal keeps old keys published, so a
client's cached keys go on checking the tokens they checked; a token from the new key makes
the client fetch the keys again. An unknown key id is looked up at most once a minute, so a
forged token cannot make a client hammer the portal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from overdraft_client import leases
from overdraft_client.cache import DiskCache
from overdraft_client.errors import OverdraftError

REFETCH_SECONDS: Final = 60.0

logger = logging.getLogger("overdraft_client")

JWKS = dict[str, Any]


def _valid(jwks: Any) -> bool:
    return isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)


class KeyStore:
    def __init__(
        self,
        *,
        fetch: Callable[[], JWKS],
        pinned: Mapping[str, Any] | None = None,
        cache: DiskCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if pinned is not None and not _valid(pinned):
            raise ValueError('jwks must be a JWKS: {"keys": [...]}')
        self._fetch = fetch
        self._pinned = pinned is not None
        self._cache = cache
        self._clock = clock
        self._lock = threading.Lock()
        self._looked_up: dict[str, float] = {}  # unknown kid -> when it was last fetched for
        self._jwks: JWKS = dict(pinned) if pinned is not None else {"keys": []}
        if pinned is None and cache is not None:
            cached = cache.read(cache.jwks_path())
            if _valid(cached):
                self._jwks = cached

    @property
    def jwks(self) -> JWKS:
        with self._lock:
            return self._jwks

    def _knows(self, kid: str) -> bool:
        return any(isinstance(k, dict) and k.get("kid") == kid for k in self.jwks["keys"])

    def for_token(self, token: str) -> JWKS:
        """The keys to check `token` with: fetched again first if it names an unknown key
        (not for pinned keys, and at most once a minute per key id)."""
        kid = leases.key_id(token)
        if kid is None or self._pinned or self._knows(kid):
            return self.jwks
        now = self._clock()
        with self._lock:
            last = self._looked_up.get(kid)
            if last is not None and now - last < REFETCH_SECONDS:
                return self._jwks
            self._looked_up[kid] = now
            if len(self._looked_up) > 100:  # forget the oldest lookups of forged key ids
                del self._looked_up[min(self._looked_up, key=self._looked_up.__getitem__)]
        self.refresh()
        return self.jwks

    def refresh(self) -> None:
        """Fetch the portal's keys now (and cache them); on failure keep the ones known."""
        if self._pinned:
            return
        try:
            fetched = self._fetch()
        except OverdraftError as exc:
            logger.warning("overdraft_client: cannot fetch the portal's keys: %s", exc)
            return
        if not _valid(fetched):
            logger.warning("overdraft_client: the portal's JWKS is malformed; keeping the known")
            return
        with self._lock:
            self._jwks = fetched
        if self._cache is not None:
            self._cache.write(self._cache.jwks_path(), fetched)
