"""One delivery attempt: claim, sign, POST through the transport, record, schedule the next.

A delivery is claimed by moving its `next_attempt_at` a lease into the future in one UPDATE, so
two workers (or a task redelivered by the broker) never POST it at the same time, and a worker
that dies mid-attempt only delays it until the lease runs out and the due sweep queues it again.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from webhooks import emails, signing, transport
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
# An endpoint that has failed without a single success for this long is disabled.
DISABLE_AFTER: Final = timedelta(days=1)
TEST_EVENT_TYPE: Final = "webhook.test"


def retry_delay(attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts, with +-15 % jitter so retries spread out."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def is_permanent(status_code: int | None) -> bool:
    """4xx tells us the receiver will never accept this message, except 408 and 429."""
    return status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429)


def message_body(delivery: WebhookDelivery) -> bytes:
    if delivery.event is not None:
        event = delivery.event
        data = {"event_id": str(event.public_id), **event.data}
        return signing.body(event.type, event.occurred_at, data)
    return signing.body(
        TEST_EVENT_TYPE,
        delivery.created_at,
        {
            "endpoint_id": str(delivery.endpoint_id),
            "message": "A test event from the Overdraft Portal: your endpoint works.",
        },
    )


def claim(delivery_id: Any, now: datetime) -> WebhookDelivery | None:
    lease = now + timedelta(seconds=settings.WEBHOOKS_CLAIM_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)


def attempt(delivery_id: Any, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Try a due delivery once; None when it is not due (done, or claimed by someone else)."""
    now = now or timezone.now()
    delivery = claim(delivery_id, now)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None
        )
        delivery.status = WebhookDelivery.Status.FAILED
        return delivery
    payload = message_body(delivery)
    headers = signing.headers(
        message_id=str(delivery.message_id),
        payload=payload,
        secrets=endpoint.signing_secrets(now),
        now=now,
    )
    response = transport.post(
        endpoint.url, payload, headers, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS
    )
    _record(delivery, response, now)
    return delivery


def _record(delivery: WebhookDelivery, response: transport.Response, now: datetime) -> None:
    succeeded = response.ok and not response.error
    Status = WebhookDelivery.Status
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            started_at=now,
            status_code=response.status_code,
            succeeded=succeeded,
            response_excerpt=response.excerpt,
            error=response.error[:500],
            duration_ms=response.duration_ms,
        )
        delivery.attempts += 1
        delivery.last_attempt_at = now
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
        delivery.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "last_status_code",
                "status",
                "next_attempt_at",
            ]
        )
        endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        if succeeded:
            endpoints.update(failing_since=None, consecutive_failures=0, last_success_at=now)
        else:
            endpoints.update(
                failing_since=Coalesce(F("failing_since"), now),
                consecutive_failures=F("consecutive_failures") + 1,
            )
            _disable_if_failing_too_long(delivery.endpoint_id, now)


def _disable_if_failing_too_long(endpoint_id: Any, now: datetime) -> None:
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint_id, enabled=True, failing_since__lte=now - DISABLE_AFTER
    ).update(
        enabled=False,
        disabled_at=now,
        disabled_reason="Every delivery failed for more than a day.",
        updated_at=now,
    )
    if not disabled:
        return
    WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING
    ).update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    logger.warning("webhook endpoint %s disabled after failing for a day", endpoint_id)

    def tell_owner() -> None:
        endpoint = WebhookEndpoint.objects.select_related("customer", "created_by").get(
            pk=endpoint_id
        )
        emails.send_endpoint_disabled(endpoint)

    transaction.on_commit(tell_owner)
