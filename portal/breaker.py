"""Circuit breakers for the services a request depends on (the cache's Redis, PostgreSQL).

Without one, a dead or hung service costs every request its own timeout. With one, the first
failure opens the breaker: for `retry_seconds` callers skip the service at once (the cache
answers from its local fallback, the database raises so the request gets a 503), then one
caller at a time tries it again, and a success closes the breaker. Each change of state is
logged once and counted in /metrics.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

DEGRADED = Gauge(
    "portal_dependency_degraded",
    "1 while a process's breaker for this dependency is open (the dependency failed lately).",
    ["dependency"],
    multiprocess_mode="livemax",
)
OPENED = Counter(
    "portal_dependency_breaker_opened",
    "Times a breaker opened: the dependency failed after working.",
    ["dependency"],
)


class CircuitBreaker:
    """Closed: every call goes through. Open (after a failure): `allow()` says no, except to
    one caller at a time once `retry_seconds` have passed since the last failure."""

    def __init__(
        self, name: str, *, retry_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at = 0.0  # 0.0 while closed
        self._probing = False
        DEGRADED.labels(dependency=name).set(0)

    @property
    def is_open(self) -> bool:
        return self._retry_at != 0.0

    def allow(self) -> bool:
        if not self._retry_at:  # closed: no lock on the common path
            return True
        with self._lock:
            if self._probing or self._clock() < self._retry_at:
                return False
            self._probing = True  # this caller probes; the others keep skipping
            return True

    @contextlib.contextmanager
    def attempt(self, failures: type[BaseException]) -> Iterator[None]:
        """Around one call to the dependency (after `allow()`): an exception of `failures`
        opens the breaker and propagates; any other outcome closes it."""
        try:
            yield
        except failures as error:
            self.failed(error)
            raise
        except BaseException:
            self.succeeded()  # the dependency answered; the call failed for its own reasons
            raise
        self.succeeded()

    def succeeded(self) -> None:
        if not self._retry_at:
            return
        with self._lock:
            if not self._retry_at:
                return
            self._retry_at, self._probing = 0.0, False
        DEGRADED.labels(dependency=self.name).set(0)
        logger.warning("%s is back: breaker closed", self.name, extra={"dependency": self.name})

    def failed(self, error: BaseException) -> None:
        with self._lock:
            opening = not self._retry_at
            self._retry_at = self._clock() + self.retry_seconds
            self._probing = False
        if opening:
            DEGRADED.labels(dependency=self.name).set(1)
            OPENED.labels(dependency=self.name).inc()
            logger.warning(
                "%s failed (%s: %s): breaker open, trying again every %g s",
                self.name,
                type(error).__name__,
                error,
                self.retry_seconds,
                extra={"dependency": self.name},
            )
