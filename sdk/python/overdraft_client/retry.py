"""When to ask the portal again: exponential backoff with full jitter, never sooner than the
portal's `Retry-After`.

Retried: no answer at all (refused, reset, timed out), any 5xx, and 429. Every client call is
safe to repeat: an activation is idempotent by fingerprint, a heartbeat renews the same seat,
a release of a released seat is a 204. Never retried: a 4xx other than 429 (400, 401, 403, 404,
409, 410), whose answer would not change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def retryable(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries per call (the first included); the n-th wait is drawn uniformly from
    0 to min(cap, base * 2**(n-1)) seconds ("full jitter", so that clients which lost the
    portal together do not come back together), and is at least the `Retry-After` the portal
    asked for. A `Retry-After` longer than `cap` ends the call at once (Unavailable, with
    `retry_after`): its caller decides what to do meanwhile; the background keeper waits it out.
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base <= 0 or self.cap <= 0:
            raise ValueError("Backoff needs attempts >= 1 and a positive base and cap")

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failure in a row."""
        ceiling = min(self.cap, self.base * 2 ** min(failures - 1, 62))
        wait = random.uniform(0, ceiling)
        return wait if retry_after is None else max(wait, retry_after)
