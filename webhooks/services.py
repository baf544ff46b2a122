"""Every write to webhook endpoints and deliveries (the portal's pages and the vendor API call
these). Changes to an endpoint are audited: each service writes its AuditEntry, for the `actor`
its caller passes, in the same transaction as the change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from licensing.models import AuditEntry, Customer, Event
from licensing.services import SYSTEM, Actor, audit_diff, audit_record
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


def endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log shows of an endpoint; never its secret."""
    return {
        "url": endpoint.url,
        "format": endpoint.format,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def endpoint_create(
    *,
    customer: Customer | None,
    url: str,
    format: str = WebhookEndpoint.Format.STANDARD,
    description: str = "",
    event_types: list[str] | None = None,
    enabled: bool = True,
    actor: Actor = SYSTEM,
) -> WebhookEndpoint:
    """A new endpoint, owned by the actor's user (who is told if it gets disabled)."""
    endpoint = WebhookEndpoint(
        customer=customer,
        url=url.strip(),
        format=format,
        description=description.strip(),
        event_types=clean_event_types(event_types or []),
        enabled=enabled,
        created_by=actor.user,
    )
    endpoint.full_clean()
    clean_url(endpoint.url)
    with transaction.atomic():
        endpoint.save(force_insert=True)
        audit_record(
            action=AuditEntry.Action.WEBHOOK_ENDPOINT_CREATED,
            target=endpoint,
            actor=actor,
            changes=audit_diff({}, endpoint_fields(endpoint)),
        )
    return endpoint


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    format: str,
    description: str,
    event_types: list[str],
    enabled: bool,
    actor: Actor = SYSTEM,
) -> WebhookEndpoint:
    """Change an endpoint; enabling a disabled one gives it a fresh start. A change that
    changes nothing is saved but not audited."""
    before = endpoint_fields(endpoint)
    endpoint.url = url.strip()
    endpoint.format = format
    endpoint.description = description.strip()
    endpoint.event_types = clean_event_types(event_types)
    if enabled and not endpoint.enabled:
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.paused_at = endpoint.next_probe_at = None
    endpoint.enabled = enabled
    endpoint.updated_at = timezone.now()
    endpoint.full_clean()
    clean_url(endpoint.url)
    changes = audit_diff(before, endpoint_fields(endpoint))
    with transaction.atomic():
        endpoint.save()
        if changes:
            audit_record(
                action=AuditEntry.Action.WEBHOOK_ENDPOINT_UPDATED,
                target=endpoint,
                actor=actor,
                changes=changes,
            )
    return endpoint


def endpoint_resume(*, endpoint: WebhookEndpoint, actor: Actor = SYSTEM) -> WebhookEndpoint:
    """Resume a paused endpoint by hand: a fresh start, and its waiting deliveries are due at
    once (not at their retry times). Resuming one that is not paused changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        resumed = WebhookEndpoint.objects.filter(pk=endpoint.pk, paused_at__isnull=False).update(
            paused_at=None,
            next_probe_at=None,
            failing_since=None,
            consecutive_failures=0,
            updated_at=now,
        )
        if resumed:
            WebhookDelivery.objects.filter(
                endpoint_id=endpoint.pk,
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__gt=now,
            ).update(next_attempt_at=now)
            audit_record(
                action=AuditEntry.Action.WEBHOOK_ENDPOINT_UPDATED,
                target=endpoint,
                actor=actor,
                changes={"paused": [True, False]},
            )
            transaction.on_commit(outbox.deliveries_ready)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor = SYSTEM) -> None:
    """Delete an endpoint with its deliveries."""
    before = endpoint_fields(endpoint)
    with transaction.atomic():
        # Recorded first: the deleted row no longer has an id.
        audit_record(
            action=AuditEntry.Action.WEBHOOK_ENDPOINT_DELETED,
            target=endpoint,
            actor=actor,
            changes=audit_diff(before, dict.fromkeys(before)),
        )
        endpoint.delete()


def endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor = SYSTEM, grace: timedelta = ROTATION_GRACE
) -> str:
    """Give the endpoint a new secret; the old one keeps signing for `grace`. Returns it."""
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.secret = generate_secret()
    endpoint.updated_at = now
    with transaction.atomic():
        endpoint.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
        )
        # Never the secrets themselves.
        audit_record(
            action=AuditEntry.Action.WEBHOOK_ENDPOINT_SECRET_ROTATED, target=endpoint, actor=actor
        )
    return endpoint.secret


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` message (no domain event) to the endpoint, enabled or not."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type=TEST_EVENT_TYPE, next_attempt_at=now, created_at=now
    )
    transaction.on_commit(outbox.deliveries_ready)
    return delivery


def _restart(deliveries: Any) -> list[Any]:
    ids = list(deliveries.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    transaction.on_commit(outbox.deliveries_ready)
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
