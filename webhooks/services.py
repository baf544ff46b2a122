"""Every write to webhook endpoints and deliveries (the pages and the API call these)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from licensing.models import Customer, Event
from webhooks import outbox, transport
from webhooks.delivery import TEST_EVENT_TYPE
from webhooks.models import WebhookDelivery, WebhookEndpoint, generate_secret

ROTATION_GRACE: Final = timedelta(hours=24)
EVENT_TYPES: Final = [value for value, _label in Event.Type.choices]


def clean_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(
            {"event_types": [f"Unknown event types: {', '.join(unknown)}."]}, code="invalid"
        )
    return [value for value in EVENT_TYPES if value in event_types]


def clean_url(url: str) -> str:
    try:
        transport.check_url(url)
    except transport.RefusedAddress as exc:
        raise ValidationError({"url": [str(exc)]}, code="refused") from None
    return url


def endpoint_create(
    *,
    customer: Customer | None,
    url: str,
    description: str = "",
    event_types: list[str] | None = None,
    enabled: bool = True,
    created_by: Any = None,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        customer=customer,
        url=url.strip(),
        description=description.strip(),
        event_types=clean_event_types(event_types or []),
        enabled=enabled,
        created_by=created_by,
    )
    endpoint.full_clean()
    clean_url(endpoint.url)
    endpoint.save(force_insert=True)
    return endpoint


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    description: str,
    event_types: list[str],
    enabled: bool,
) -> WebhookEndpoint:
    """Change an endpoint; enabling a disabled one gives it a fresh start."""
    endpoint.url = url.strip()
    endpoint.description = description.strip()
    endpoint.event_types = clean_event_types(event_types)
    if enabled and not endpoint.enabled:
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
    endpoint.enabled = enabled
    endpoint.updated_at = timezone.now()
    endpoint.full_clean()
    clean_url(endpoint.url)
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, grace: timedelta = ROTATION_GRACE) -> str:
    """Give the endpoint a new secret; the old one keeps signing for `grace`. Returns it."""
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.secret = generate_secret()
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint.secret


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` message (no domain event) to the endpoint, enabled or not."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type=TEST_EVENT_TYPE, next_attempt_at=now, created_at=now
    )
    transaction.on_commit(lambda: outbox.queue_deliveries([delivery.pk]))
    return delivery


def _restart(deliveries: Any) -> list[Any]:
    ids = list(deliveries.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: outbox.queue_deliveries(ids))
    return ids


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, whatever its status, with a fresh round of retries."""
    _restart(WebhookDelivery.objects.filter(pk=delivery.pk))
    delivery.refresh_from_db()
    return delivery


def endpoint_redeliver_failed(*, endpoint: WebhookEndpoint) -> int:
    """Send every failed delivery of the endpoint again; returns how many."""
    failed = WebhookDelivery.objects.filter(
        endpoint=endpoint,
        status__in=WebhookDelivery.FAILED_STATUSES,
    )
    return len(_restart(failed))
