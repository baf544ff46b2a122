"""Webhook endpoints, their deliveries and attempts, and the notification emails to send.

A delivery is one event on its way to one endpoint; every HTTP try is a DeliveryAttempt row.
Retries are scheduled in the database (`next_attempt_at`) and picked up by a beat sweep, so a
crashed worker or a lost broker message only delays a delivery.
"""

import base64
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from licensing.models import Customer, Entitlement, Event


def generate_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EndpointFormat(models.TextChoices):
    """What an endpoint is sent: signed Standard Webhooks JSON for programs, or a readable
    message for a chat channel's incoming webhook (webhooks.chat), which ignores signatures."""

    STANDARD = "standard", "Standard Webhooks (signed JSON)"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"


class WebhookEndpoint(models.Model):
    Format = EndpointFormat

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Empty: a vendor-wide endpoint that receives every customer's events.",
    )
    url = models.URLField("URL", max_length=2000)
    format = models.CharField(
        max_length=20,
        choices=Format.choices,
        default=Format.STANDARD,
        help_text="The message body: signed Standard Webhooks JSON, or a Slack or Teams message.",
    )
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to send; empty means all of them."
    )
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, default=generate_secret, editable=False)
    # During a rotation the old secret signs too, until it expires, so receivers can switch over.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_endpoints_created",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Failure tracking for auto-disable: set by the first failed attempt after a success.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)
    # Paused after failing for an hour (webhooks.delivery): only a probe delivery is tried,
    # at `next_probe_at`; its success (or a person) resumes the endpoint.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_probe_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=EndpointFormat.values),
                name="webhooks_webhookendpoint_known_format",
            ),
        ]
        indexes = [
            # Fan-out: enabled endpoints of one customer plus the vendor-wide ones.
            models.Index(fields=["customer", "enabled"], name="webhooks_endpoint_fanout"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def is_signed(self) -> bool:
        """Only Standard Webhooks messages carry signatures; chat services ignore them."""
        return self.format == self.Format.STANDARD

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now: Any = None) -> list[str]:
        now = now or timezone.now()
        found = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        ):
            found.append(self.previous_secret)
        return found


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PERMANENT_FAILURE = "permanent_failure", "Permanent failure"

    # "Failed" on the endpoint pages and what "redeliver failed" sends again: one definition,
    # so the count shown is the number a redelivery picks up.
    FAILED_STATUSES = (Status.FAILED, Status.PERMANENT_FAILURE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Null for a test ping, which is no domain event. No database constraint: the events
    # table is partitioned by month (licensing.partitions); Django's CASCADE still applies.
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
        db_constraint=False,
    )
    # The `webhook-id` header: the event's public id, so receivers can dedupe.
    message_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(
        default=0, help_text="Attempts in the current round (reset by a redelivery)."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="webhooks_webhookdelivery_one_per_event"
            ),
        ]
        indexes = [
            # Claims: pending deliveries whose next attempt time has come, oldest first per
            # endpoint (webhooks.delivery.claim_due), and the safety-net count of them.
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                condition=Q(status="pending"),
                name="webhooks_delivery_due_endpoint",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhooks_delivery_due",
            ),
            # Deliveries page of an endpoint, newest first.
            models.Index(fields=["endpoint", "-created_at"], name="webhooks_delivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class EmailNotice(models.Model):
    """An email decided on, and the outbox that sends it: one row per event email, digest or
    disabled endpoint (which keeps event emails to one per event and spaces the digests).

    The rendered subject and bodies are stored, so a retry sends the very messages that were
    decided on; `sent_to` lists the recipients whose message the mail server has accepted, so a
    retry sends only the messages still owed. `sent_at` is null until every one went.
    """

    class Kind(models.TextChoices):
        EVENT = "event", "Event"
        DENIAL_DIGEST = "denial_digest", "Denial digest"
        ENDPOINT_DISABLED = "endpoint_disabled", "Endpoint disabled"
        ENDPOINT_PAUSED = "endpoint_paused", "Endpoint paused"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    # No database constraint, as WebhookDelivery.event.
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="email_notices",
        db_constraint=False,
    )
    entitlement = models.ForeignKey(
        Entitlement,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="email_notices",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="email_notices",
    )
    recipients = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    denial_count = models.PositiveIntegerField(default=0)
    # Digests: the last denial event covered, so the next digest starts after it.
    last_event_seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_to = models.JSONField(default=list, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0, editable=False)
    # When the resend sweep may try an unsent notice; null once sent or given up.
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "event"],
                condition=Q(event__isnull=False),
                name="webhooks_emailnotice_one_per_event",
            ),
        ]
        indexes = [
            # Denial digests: the latest digest of an entitlement.
            models.Index(
                fields=["entitlement", "kind", "-created_at"], name="webhooks_notice_latest"
            ),
            # Resend sweep: unsent notices whose next attempt time has come.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(sent_at__isnull=True),
                name="webhooks_notice_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"

    def owed_to(self) -> list[str]:
        """The recipients whose message has not gone yet."""
        return [address for address in self.recipients if address not in self.sent_to]
