"""The webhook dispatcher: many deliveries in flight at once, each endpoint on its own.

`manage.py deliver_webhooks` runs `Dispatcher.run` until it is stopped (the Procfile's
`dispatcher`; more than one share the work through the claims). `drain` is the same loop until
nothing is due or a time budget runs out: `outbox.deliver_due` runs it where no dispatcher
process does the work (in-process without a broker: the demo and the tests) and as the periodic
safety net behind the dispatcher.

Threads, not an event loop: an attempt is I/O (connect, send, wait for the receiver), and the
transport (webhooks.transport) connects to the address it checked itself, through http.client,
which an asyncio client would have to reimplement. WEBHOOKS_DISPATCH_THREADS threads wait on
receivers and touch no database; the loop's own thread alone claims, signs and records, in
batches (webhooks.delivery). A failing endpoint gets one attempt in flight and at most one per
WEBHOOKS_FAILING_INTERVAL_SECONDS, so its retries trickle instead of arriving in a burst.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from webhooks import delivery, transport

logger = logging.getLogger(__name__)

# How long the loop waits for an attempt to finish when nothing could be claimed: also how
# soon a new delivery is seen.
POLL_SECONDS: Final = 0.1
# Attempts that finish within this long of each other are recorded (and their slots claimed
# again) together: one transaction for many, at the cost of this much latency.
BATCH_SECONDS: Final = 0.01

Outcome = tuple[delivery.Request, transport.Response]


class Dispatcher:
    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads or settings.WEBHOOKS_DISPATCH_THREADS
        # No endpoint may take more than a quarter of the threads: it takes more than four
        # slow endpoints at once to hold up a healthy one (then raise the threads, or run
        # another dispatcher).
        self.per_endpoint = max(min(settings.WEBHOOKS_ENDPOINT_IN_FLIGHT, self.threads // 4), 1)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webhook")
        self._done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._busy = Counter[Any]()  # attempts in flight per endpoint
        self._in_flight = 0
        self._failing_started: dict[Any, float] = {}  # endpoint: its last attempt's start
        self.attempted = 0

    def run(
        self, stop: threading.Event, *, until_idle: bool = False, deadline: float | None = None
    ) -> int:
        """Claim, send and record until `stop` is set (or, with `until_idle`, until nothing is
        due and nothing in flight; or the monotonic `deadline` passes). In-flight attempts are
        always finished and recorded before it returns. Returns the attempts made."""
        attempted = self.attempted
        try:
            while True:
                claiming = not stop.is_set() and (deadline is None or time.monotonic() < deadline)
                claimed = self._claim() if claiming else 0
                if not self._in_flight and (not claiming or (until_idle and not claimed)):
                    break
                self._record(wait=POLL_SECONDS)
        finally:
            while self._in_flight:
                self._record(wait=POLL_SECONDS)
        return self.attempted - attempted

    def drain(self, *, budget_seconds: float) -> int:
        """Deliver what is due now, until nothing is or the budget is spent."""
        return self.run(
            threading.Event(), until_idle=True, deadline=time.monotonic() + budget_seconds
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _claim(self) -> int:
        free = self.threads - self._in_flight
        now_mono = time.monotonic()
        if free <= 0:
            return 0
        interval = settings.WEBHOOKS_FAILING_INTERVAL_SECONDS
        self._failing_started = {
            endpoint: started
            for endpoint, started in self._failing_started.items()
            if now_mono - started < interval
        }
        now = timezone.now()
        claimed = delivery.claim_due(
            now,
            limit=free,
            per_endpoint=self.per_endpoint,
            busy=self._busy,
            held=set(self._failing_started),
        )
        for item in claimed:
            endpoint = item.endpoint
            if not endpoint.enabled:
                delivery.give_up([item])
                continue
            if endpoint.consecutive_failures or endpoint.paused_at is not None:
                if endpoint.pk in self._failing_started:
                    # Claimed past the spacing (two in one claim): let the lease lapse.
                    continue
                self._failing_started[endpoint.pk] = now_mono
            request = delivery.prepare(item, now)
            self._busy[endpoint.pk] += 1
            self._in_flight += 1
            self._pool.submit(self._send, request)
        return len(claimed)

    def _send(self, request: delivery.Request) -> None:
        try:
            response = delivery.send(request)
        except Exception as exc:  # the transport reports network trouble; this is a bug
            logger.exception("webhook attempt crashed")
            response = transport.Response(None, "", f"{type(exc).__name__}: {exc}"[:500], 0)
        self._done.put((request, response))

    def _record(self, *, wait: float) -> None:
        """Wait up to `wait` for an attempt to finish, then gather what finishes within
        BATCH_SECONDS more (or until nothing is in flight), and record them together."""
        outcomes: list[Outcome] = []
        try:
            outcomes.append(self._done.get(timeout=wait) if wait else self._done.get_nowait())
        except queue.Empty:
            return
        until = time.monotonic() + BATCH_SECONDS
        while len(outcomes) < self._in_flight:
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                outcomes.append(self._done.get(timeout=left))
            except queue.Empty:
                break
        if not outcomes:
            return
        for request, response in outcomes:
            endpoint_id = request.delivery.endpoint_id
            self._busy[endpoint_id] -= 1
            if not self._busy[endpoint_id]:
                del self._busy[endpoint_id]
            self._in_flight -= 1
            if response.ok and not response.error:
                self._failing_started.pop(endpoint_id, None)
        self.attempted += len(outcomes)
        delivery.record(outcomes, timezone.now())
