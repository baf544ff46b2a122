"""The Event table is the outbox: fan-out turns events into deliveries and emails.

`events_committed` is registered with `licensing.hooks` and queues the fan-out task right after
the domain's commit (with a broker, batched per process: see `_Kicks`). Queueing is bounded and
never raises: when the broker is down the events stay undispatched and `sweep` queues them again
later, so none is lost.

Tasks are queued by name (`webhooks.tasks` registers them under these names and calls this
module), so the two modules do not import each other.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from licensing import services
from licensing.models import AlertThreshold, Event
from webhooks import emails
from webhooks.dispatcher import Dispatcher
from webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

FAN_OUT_BATCH = 100
SWEEP_LIMIT = 5000
# The names of the tasks (webhooks.tasks) this module queues.
FAN_OUT: Final = "webhooks.fan_out"
# Still registered for messages queued before the dispatcher (webhooks.dispatcher) existed.
DELIVER: Final = "webhooks.deliver"
# Zone emails (admins who want them and the account manager); requests for more seats have
# recipients of their own (`emails.EXPANSION_EVENT_TYPES`).
EMAIL_EVENT_TYPES = frozenset(
    {Event.Type.OVERDRAFT_STARTED.value, Event.Type.HARD_LIMIT_REACHED.value}
)


def enqueue(name: str, *args: Any) -> bool:
    """Queue the task `name` (run now, in this process, without a broker); False (logged,
    never raised) when the broker cannot take it."""
    try:
        current_app.tasks[name].apply_async(args=args, retry=False)
    except Exception:  # kombu/redis raise several types for a broker that is down
        logger.warning("could not queue %s%r; a sweep will retry", name, args, exc_info=True)
        return False
    return True


def events_committed(event_seqs: Sequence[int]) -> None:
    if current_app.conf.task_always_eager:  # no broker: fan out now, in this process
        enqueue(FAN_OUT, list(event_seqs))
    else:
        _kicks.add(event_seqs)


# With a broker, publishing one Celery message per commit cost ~0.6 ms of CPU inside every
# activation (docs/performance.md). Instead the request only appends the event numbers here,
# and one thread per process publishes what gathered every KICK_INTERVAL seconds, so a busy
# process sends a few messages a second and the request never touches the broker. Seqs a
# dying process had not published yet, or that a down broker refused, are left undispatched
# for `sweep`, like any lost kick.
KICK_INTERVAL = 0.05
# Kicks a process keeps while the broker does not take them (down, or hung until its socket
# gives up): past this, the oldest are dropped. They are only a shortcut: every event stays
# undispatched in the database until a fan-out marks it, and the sweep queues it then.
MAX_PENDING_KICKS = 10 * SWEEP_LIMIT


class _Kicks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._seqs: list[int] = []
        self._pid = 0

    def add(self, event_seqs: Sequence[int]) -> None:
        with self._lock:
            self._seqs.extend(event_seqs)
            if len(self._seqs) > MAX_PENDING_KICKS:
                del self._seqs[: len(self._seqs) - MAX_PENDING_KICKS]
            if self._pid != os.getpid():  # the first kick of this process (gunicorn forks)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="outbox-kicks", daemon=True).start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(KICK_INTERVAL)
            self._wake.clear()
            self.publish()

    def publish(self) -> None:
        with self._lock:
            seqs, self._seqs = self._seqs, []
        for start in range(0, len(seqs), FAN_OUT_BATCH):
            try:  # sent to the broker: published even if the app was switched to eager meanwhile
                current_app.send_task(
                    FAN_OUT, args=[seqs[start : start + FAN_OUT_BATCH]], retry=False
                )
            except Exception:  # kombu/redis raise several types for a broker that is down
                logger.warning(
                    "could not queue fan-out of %d events; a sweep will retry",
                    len(seqs) - start,
                    exc_info=True,
                )
                return


_kicks = _Kicks()


def fan_out(event_seqs: Iterable[int], *, now: datetime | None = None) -> int:
    """Create the deliveries and send the emails of undispatched events; mark them dispatched.

    One transaction for the batch: the events are claimed with `FOR UPDATE SKIP LOCKED` (an
    event being fanned out elsewhere is skipped, one already dispatched too), one INSERT
    creates every delivery of the batch (unique per endpoint and event, so a repeat creates
    none), one UPDATE marks them. Returns the deliveries created; the dispatcher claims them
    from the database (webhooks.delivery), nothing is queued per delivery.
    """
    now = now or timezone.now()
    seqs = sorted(set(event_seqs))
    if not seqs:
        return 0
    with transaction.atomic():
        # Lock only the event rows (`of`): a join would lock the shared customer row too,
        # and concurrent fan-outs would then skip each other's events.
        events = list(
            Event.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=seqs, dispatched_at__isnull=True)
            .order_by("seq")
        )
        if not events:
            return 0
        customers = {event.customer_id for event in events}
        endpoints = list(
            WebhookEndpoint.objects.filter(
                Q(customer__isnull=True) | Q(customer_id__in=customers), enabled=True
            )
        )
        deliveries = [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                message_id=event.public_id,
                event_type=event.type,
                next_attempt_at=now,
                created_at=now,
            )
            for event in events
            for endpoint in endpoints
            if _reaches(endpoint, event)
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        for event in events:
            if event.type in EMAIL_EVENT_TYPES:
                emails.send_event_email(event)
            elif event.type in emails.EXPANSION_EVENT_TYPES:
                emails.send_expansion_email(event)
            elif event.type == Event.Type.THRESHOLD_CROSSED:
                emails.send_threshold_email(event)
            elif event.type in emails.RAISE_EVENT_TYPES:
                emails.send_raise_email(event)
            elif event.type == Event.Type.STATEMENT_ISSUED:
                emails.send_statement_email(event)
        readings = _readings(events)
        watched = set(  # one query; most entitlements have no thresholds
            AlertThreshold.objects.filter(entitlement_id__in=readings).values_list(
                "entitlement_id", flat=True
            )
        )
        for entitlement_id in sorted(watched, key=str):
            services.thresholds_check(
                entitlement_id=entitlement_id, readings=readings[entitlement_id], now=now
            )
        Event.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
    return len(deliveries)


# The events that carry a new reading of the seats in use, for the threshold alerts.
_SEAT_CHANGES: Final = frozenset(
    {
        Event.Type.SEAT_ACTIVATED.value,
        Event.Type.SEAT_RELEASED.value,
        Event.Type.SEAT_EXPIRED.value,
    }
)


def _reaches(endpoint: WebhookEndpoint, event: Event) -> bool:
    """A customer's endpoint gets its customer's events, except the account team's own
    threshold alerts; a vendor-wide endpoint every event it subscribed to."""
    if endpoint.customer_id not in (None, event.customer_id) or not endpoint.wants(event.type):
        return False
    vendor_only = event.type == Event.Type.THRESHOLD_CROSSED and (
        event.data.get("threshold", {}).get("audience") == AlertThreshold.Audience.VENDOR
    )
    return endpoint.customer_id is None or not vendor_only


def _readings(events: Sequence[Event]) -> dict[Any, list[int]]:
    """The seats in use after each seat change, per entitlement, in the order they happened."""
    found: dict[Any, list[int]] = {}
    for event in events:
        if event.type in _SEAT_CHANGES and event.entitlement_id is not None:
            found.setdefault(event.entitlement_id, []).append(event.data["seats"]["used"])
    return found


def deliveries_ready() -> None:
    """New deliveries are due (a fan-out or a redelivery committed). Without a broker nothing
    else will attempt them, so they are delivered now, in this process; with one, the
    dispatcher claims them from the database within `webhooks.dispatcher.POLL_SECONDS`."""
    if current_app.conf.task_always_eager:
        deliver_due()


def sweep(*, min_age: timedelta = timedelta(seconds=30), now: datetime | None = None) -> int:
    """Fan out, here, the events left undispatched for `min_age` (their kick was lost: a
    broker that was down, a process that died); returns how many deliveries that created.

    The sweep does the fan-out itself rather than queueing it again, so an event whose
    fan-out task is only waiting in the queue is never queued twice: whichever comes first
    claims it (`fan_out` skips events another transaction holds or already dispatched).
    """
    now = now or timezone.now()
    seqs = list(
        Event.objects.filter(dispatched_at__isnull=True, occurred_at__lte=now - min_age)
        .order_by("seq")
        .values_list("seq", flat=True)[:SWEEP_LIMIT]
    )
    created = sum(
        fan_out(seqs[start : start + FAN_OUT_BATCH]) for start in range(0, len(seqs), FAN_OUT_BATCH)
    )
    if created:
        deliveries_ready()
    return created


def deliver_due(*, budget_seconds: float | None = None) -> int:
    """Attempt the due deliveries now, in this process, many at once (webhooks.dispatcher),
    until none is due or the budget (WEBHOOKS_DRAIN_SECONDS) is spent; returns the attempts."""
    dispatcher = Dispatcher()
    try:
        return dispatcher.drain(
            budget_seconds=settings.WEBHOOKS_DRAIN_SECONDS
            if budget_seconds is None
            else budget_seconds
        )
    finally:
        dispatcher.close()
