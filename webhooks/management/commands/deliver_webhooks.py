"""`manage.py deliver_webhooks`: the webhook dispatcher (webhooks.dispatcher), until stopped.

The Procfile's `dispatcher`. It claims due deliveries from the database and keeps up to
WEBHOOKS_DISPATCH_THREADS attempts in flight; SIGTERM or SIGINT stops claiming, finishes and
records the attempts in flight, and exits. A dispatcher killed outright loses nothing: its
claims lapse after WEBHOOKS_CLAIM_SECONDS and are attempted again (receivers dedupe on the
`webhook-id` header). Several dispatchers share the work through the claims.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from webhooks.dispatcher import Dispatcher

logger = logging.getLogger(__name__)

# After a database error, wait this long before claiming again.
RETRY_SECONDS = 2.0


class Command(BaseCommand):
    help = "Deliver webhooks: claim due deliveries and send many at once, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--threads", type=int, default=None, help="attempts in flight at most")

    def handle(self, *args: object, threads: int | None = None, **options: object) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        dispatcher = Dispatcher(threads=threads)
        self.stdout.write(
            f"webhook dispatcher started, {dispatcher.threads} attempts in flight at most"
        )
        self.stdout.flush()
        try:
            while not stop.is_set():
                try:
                    dispatcher.run(stop)
                except DatabaseError:
                    logger.warning("webhook dispatcher: database error; retrying", exc_info=True)
                    close_old_connections()
                    stop.wait(RETRY_SECONDS)
        finally:
            started = time.monotonic()
            dispatcher.close()
            logger.info(
                "webhook dispatcher stopped after %d attempts (%.1f s to finish)",
                dispatcher.attempted,
                time.monotonic() - started,
            )
