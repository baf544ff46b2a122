"""Delivery attempts: claim due deliveries, sign, POST through the transport, record, schedule.

- **Claims, not queue messages.** Due deliveries are claimed from the database in batches
  (`claim_due`): the rows are locked with `SELECT … FOR UPDATE SKIP LOCKED` and their
  `next_attempt_at` moved a lease (WEBHOOKS_CLAIM_SECONDS) into the future in the same
  transaction, so two dispatchers never take the same delivery, nothing is queued twice, and a
  dispatcher that dies mid-attempt only delays its claims until the lease runs out.
- **Each endpoint on its own.** A claim takes at most an endpoint's free slots (the
  dispatcher's share per endpoint; one for an endpoint whose last attempt failed, at most one
  attempt per WEBHOOKS_FAILING_INTERVAL_SECONDS), oldest first per endpoint, so a slow or
  failing endpoint backs up only itself. An endpoint failing for PAUSE_AFTER is paused (its
  owner is emailed): one probe delivery every PROBE_INTERVAL, whose success resumes it; failing
  for DISABLE_AFTER disables it.
- **One body per format.** `message_body` builds what an endpoint is sent: signed Standard
  Webhooks JSON, or a Slack or Teams message (webhooks.chat), unsigned.
- **Recorded in bulk.** The outcomes of many attempts are written in one transaction
  (`record`): their DeliveryAttempt rows, the deliveries' next steps, the endpoints' health.

`webhooks.dispatcher` runs these with many HTTP calls in flight; `attempt` is one delivery,
synchronously (the same steps), for a redelivery without a dispatcher.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from webhooks import chat, emails, signing, transport
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# Wait after the 1st, 2nd, ... failed attempt: about 20 hours in all, then the delivery fails.
RETRY_DELAYS: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_ATTEMPTS: Final = len(RETRY_DELAYS) + 1
JITTER: Final = 0.15
# An endpoint that has failed without a single success for this long is paused (one probe
# every PROBE_INTERVAL), and after DISABLE_AFTER disabled.
PAUSE_AFTER: Final = timedelta(hours=1)
PROBE_INTERVAL: Final = timedelta(minutes=5)
DISABLE_AFTER: Final = timedelta(days=1)
TEST_EVENT_TYPE: Final = "webhook.test"


def retry_delay(attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts, with +-15 % jitter so retries spread out."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def is_permanent(status_code: int | None) -> bool:
    """4xx tells us the receiver will never accept this message, except 408 and 429."""
    return status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429)


TEST_MESSAGE: Final = "A test event from the Overdraft Portal: your endpoint works."
# What a claim loads with each delivery: all that its body needs (a chat message names the
# customer and product and links to the entitlement), so preparing it runs no query.
_CLAIMED: Final = (
    "endpoint",
    "event__entitlement__customer",
    "event__entitlement__product",
)


def message_body(delivery: WebhookDelivery) -> bytes:
    """The body of a delivery, in its endpoint's format: Standard Webhooks JSON, or a Slack
    or Teams message (webhooks.chat)."""
    event = delivery.event
    endpoint_format = delivery.endpoint.format
    if endpoint_format != WebhookEndpoint.Format.STANDARD:
        if event is not None:
            message = chat.Message.of(event)
        else:
            message = chat.Message(TEST_MESSAGE, TEST_EVENT_TYPE)
        return chat.body(endpoint_format, message)
    if event is not None:
        data = {"event_id": str(event.public_id), **event.data}
        return signing.body(event.type, event.occurred_at, data)
    return signing.body(
        TEST_EVENT_TYPE,
        delivery.created_at,
        {"endpoint_id": str(delivery.endpoint_id), "message": TEST_MESSAGE},
    )


# --- claims -----------------------------------------------------------------------------------


def _lease(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOKS_CLAIM_SECONDS)


def claim_due(
    now: datetime,
    *,
    limit: int,
    per_endpoint: int,
    busy: Mapping[Any, int] | None = None,
    held: Collection[Any] = (),
) -> list[WebhookDelivery]:
    """Claim up to `limit` due deliveries (with their endpoint and event), oldest first per
    endpoint, each endpoint up to its free slots: `per_endpoint` (one while the endpoint is
    failing) minus `busy[endpoint]`, the attempts the caller has in flight there. Endpoints
    in `held` are skipped (the caller spaces a failing endpoint's attempts). A paused endpoint
    gets one delivery, its probe, when the probe is due (and its next probe is moved on)."""
    busy = busy or {}
    if limit <= 0:
        return []
    due = Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
    ranked = _candidates(now, per_endpoint=per_endpoint, held=held, limit=limit * 4)
    wanted: list[Any] = []
    probes: list[Any] = []
    for delivery_id, endpoint_id, rank, failures, paused_at in ranked:
        slots = 1 if paused_at is not None or failures else per_endpoint
        if rank > slots - busy.get(endpoint_id, 0):
            continue
        wanted.append(delivery_id)
        if paused_at is not None:
            probes.append(endpoint_id)
        if len(wanted) >= limit:
            break
    if not wanted:
        return []
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(due, pk__in=wanted)
            .values_list("pk", flat=True)
        )
        if not ids:
            return []
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=_lease(now))
        if probes:
            WebhookEndpoint.objects.filter(pk__in=probes).update(next_probe_at=now + PROBE_INTERVAL)
    claimed = {
        delivery.pk: delivery
        for delivery in WebhookDelivery.objects.select_related(*_CLAIMED).filter(pk__in=ids)
    }
    return [claimed[pk] for pk in wanted if pk in claimed]


_DELIVERY = WebhookDelivery._meta
_ENDPOINT = WebhookEndpoint._meta


def _column(meta: Any, name: str) -> str:
    return str(meta.get_field(name).column)


# PostgreSQL: each open endpoint's oldest due deliveries through the index on (endpoint, next
# attempt), a few probes per endpoint whatever the backlog. The window query below ranked the
# whole backlog at every claim (24 ms a claim with 3,000 due).
_CANDIDATES_SQL: Final = f"""
SELECT d.id, e.id, d.rank, e.{_column(_ENDPOINT, "consecutive_failures")},
       e.{_column(_ENDPOINT, "paused_at")}
FROM {_ENDPOINT.db_table} e
CROSS JOIN LATERAL (
    SELECT x.id, x.{_column(_DELIVERY, "next_attempt_at")} AS due_at,
           row_number() OVER (ORDER BY x.{_column(_DELIVERY, "next_attempt_at")}, x.id) AS rank
    FROM {_DELIVERY.db_table} x
    WHERE x.{_column(_DELIVERY, "endpoint")} = e.id
      AND x.{_column(_DELIVERY, "status")} = %(pending)s
      AND x.{_column(_DELIVERY, "next_attempt_at")} <= %(now)s
    ORDER BY x.{_column(_DELIVERY, "next_attempt_at")}, x.id
    LIMIT %(per_endpoint)s
) d
WHERE (NOT e.{_column(_ENDPOINT, "enabled")}
       OR e.{_column(_ENDPOINT, "paused_at")} IS NULL
       OR e.{_column(_ENDPOINT, "next_probe_at")} <= %(now)s)
  AND NOT (e.id = ANY(%(held)s))
ORDER BY d.due_at, d.id
LIMIT %(limit)s
"""


def _candidates(
    now: datetime, *, per_endpoint: int, held: Collection[Any], limit: int
) -> list[tuple[Any, Any, int, int, datetime | None]]:
    """(delivery, endpoint, its rank in the endpoint's due deliveries, the endpoint's
    consecutive failures, paused at) of the oldest due deliveries of each open endpoint, up to
    `per_endpoint` each, oldest first. Open: not paused (or its probe is due), or disabled (its
    deliveries are claimed to be given up: a test message sent to it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _CANDIDATES_SQL,
                {
                    "pending": WebhookDelivery.Status.PENDING.value,
                    "now": now,
                    "per_endpoint": per_endpoint,
                    "held": list(held),
                    "limit": limit,
                },
            )
            return cursor.fetchall()
    open_endpoints = (
        Q(endpoint__enabled=False)
        | Q(endpoint__paused_at__isnull=True)
        | Q(endpoint__next_probe_at__lte=now)
    )
    return list(
        WebhookDelivery.objects.filter(
            open_endpoints, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .exclude(endpoint_id__in=list(held))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("endpoint_id")],
                order_by=[F("next_attempt_at").asc(), F("id").asc()],
            )
        )
        .filter(rank__lte=per_endpoint)
        .order_by("next_attempt_at", "id")
        .values_list(
            "id", "endpoint_id", "rank", "endpoint__consecutive_failures", "endpoint__paused_at"
        )[:limit]
    )


def claim(delivery_id: Any, now: datetime) -> WebhookDelivery | None:
    """Claim one delivery by id, if it is due (a redelivery's first attempt)."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=_lease(now))
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related(*_CLAIMED).get(pk=delivery_id)


# --- one attempt: the request, its outcome ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    delivery: WebhookDelivery
    started_at: datetime
    url: str
    payload: bytes
    headers: dict[str, str]


def prepare(delivery: WebhookDelivery, now: datetime) -> Request:
    """The request of a claimed delivery: a Standard Webhooks message signed with every
    current secret, or an unsigned Slack or Teams message (those services ignore signatures)."""
    endpoint = delivery.endpoint
    payload = message_body(delivery)
    headers: dict[str, str] = {}
    if endpoint.is_signed:
        headers = signing.headers(
            message_id=str(delivery.message_id),
            payload=payload,
            secrets=endpoint.signing_secrets(now),
            now=now,
        )
    return Request(delivery, now, endpoint.url, payload, headers)


def send(request: Request) -> transport.Response:
    """POST it (no database: safe in any thread)."""
    return transport.post(
        request.url, request.payload, request.headers, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS
    )


def attempt(delivery_id: Any, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Try a due delivery once; None when it is not due (done, or claimed by someone else)."""
    now = now or timezone.now()
    delivery = claim(delivery_id, now)
    if delivery is None:
        return None
    if not delivery.endpoint.enabled:
        give_up([delivery])
        return delivery
    request = prepare(delivery, now)
    record([(request, send(request))], timezone.now())
    return delivery


def give_up(deliveries: Sequence[WebhookDelivery]) -> None:
    """Claimed deliveries of an endpoint disabled meanwhile: failed, not attempted."""
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None
    )
    for delivery in deliveries:
        delivery.status = WebhookDelivery.Status.FAILED


# --- recording outcomes -----------------------------------------------------------------------


def _next_step(delivery: WebhookDelivery, response: transport.Response, now: datetime) -> bool:
    """Set the delivery's status and next attempt after this response; True if it succeeded."""
    succeeded = response.ok and not response.error
    Status = WebhookDelivery.Status
    delivery.attempts += 1
    delivery.last_status_code = response.status_code
    delivery.next_attempt_at = None
    if succeeded:
        delivery.status = Status.SUCCEEDED
    elif is_permanent(response.status_code):
        delivery.status = Status.PERMANENT_FAILURE
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = Status.FAILED
    else:
        delivery.status = Status.PENDING
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    return succeeded


def record(outcomes: Sequence[tuple[Request, transport.Response]], now: datetime) -> None:
    """Write the outcomes of attempts in one transaction: the attempt rows, each delivery's
    next step, and each endpoint's health (a success clears its failures and resumes it if
    paused, and its deliveries waiting on retry times are due at once; failures past
    PAUSE_AFTER pause it, past DISABLE_AFTER disable it)."""
    if not outcomes:
        return
    attempts = []
    succeeded_at: dict[Any, datetime] = {}
    recovered = set()  # endpoints failing or paused when claimed that answered now
    failed = Counter[Any]()
    first_failure: dict[Any, datetime] = {}
    for request, response in outcomes:
        delivery = request.delivery
        delivery.last_attempt_at = request.started_at
        ok = _next_step(delivery, response, now)
        attempts.append(
            DeliveryAttempt(
                delivery=delivery,
                started_at=request.started_at,
                status_code=response.status_code,
                succeeded=ok,
                response_excerpt=response.excerpt,
                error=response.error[:500],
                duration_ms=response.duration_ms,
            )
        )
        if ok:
            succeeded_at[delivery.endpoint_id] = request.started_at
            endpoint = delivery.endpoint
            if endpoint.consecutive_failures or endpoint.paused_at is not None:
                recovered.add(delivery.endpoint_id)
        else:
            failed[delivery.endpoint_id] += 1
            first_failure.setdefault(delivery.endpoint_id, request.started_at)
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts)
        _save_next_steps([request.delivery for request, _ in outcomes])
        for endpoint_id, when in succeeded_at.items():
            WebhookEndpoint.objects.filter(pk=endpoint_id).update(
                failing_since=None,
                consecutive_failures=0,
                last_success_at=when,
                paused_at=None,
                next_probe_at=None,
            )
        if recovered:  # what waited on retry times goes now
            WebhookDelivery.objects.filter(
                endpoint_id__in=recovered,
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__gt=now + timedelta(seconds=settings.WEBHOOKS_CLAIM_SECONDS),
            ).update(next_attempt_at=now)
        for endpoint_id, count in failed.items():
            if endpoint_id in succeeded_at:
                continue  # it answers: not failing
            WebhookEndpoint.objects.filter(pk=endpoint_id).update(
                failing_since=Coalesce(F("failing_since"), first_failure[endpoint_id]),
                consecutive_failures=F("consecutive_failures") + count,
            )
            _pause_or_disable_if_failing(endpoint_id, now)


def _save_next_steps(deliveries: Sequence[WebhookDelivery]) -> None:
    """One UPDATE per distinct outcome (a batch's successes share one), one bulk update for
    the retries, whose next attempt times differ by their jitter."""
    same: dict[tuple[Any, ...], list[Any]] = {}
    retries = []
    for item in deliveries:
        if item.next_attempt_at is not None:
            retries.append(item)
            continue
        key = (item.status, item.last_status_code, item.last_attempt_at)
        same.setdefault(key, []).append(item.pk)
    for (status, status_code, attempted_at), ids in same.items():
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=status,
            last_status_code=status_code,
            last_attempt_at=attempted_at,
            attempts=F("attempts") + 1,
            next_attempt_at=None,
        )
    if retries:
        WebhookDelivery.objects.bulk_update(
            retries,
            ["attempts", "last_attempt_at", "last_status_code", "status", "next_attempt_at"],
        )


def _pause_or_disable_if_failing(endpoint_id: Any, now: datetime) -> None:
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True)
    disabled = endpoints.filter(failing_since__lte=now - DISABLE_AFTER).update(
        enabled=False,
        disabled_at=now,
        disabled_reason="Every delivery failed for more than a day.",
        paused_at=None,
        next_probe_at=None,
        updated_at=now,
    )
    if disabled:
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        logger.warning("webhook endpoint %s disabled after failing for a day", endpoint_id)
        _tell_owner(endpoint_id, emails.send_endpoint_disabled)
        return
    paused = endpoints.filter(paused_at__isnull=True, failing_since__lte=now - PAUSE_AFTER).update(
        paused_at=now, next_probe_at=now + PROBE_INTERVAL, updated_at=now
    )
    if paused:
        logger.warning("webhook endpoint %s paused after failing for an hour", endpoint_id)
        minutes = int(PROBE_INTERVAL.total_seconds() // 60)
        _tell_owner(endpoint_id, lambda e: emails.send_endpoint_paused(e, probe_minutes=minutes))


def _tell_owner(endpoint_id: Any, send_email: Any) -> None:
    def tell() -> None:
        send_email(
            WebhookEndpoint.objects.select_related("customer", "created_by").get(pk=endpoint_id)
        )

    transaction.on_commit(tell)
