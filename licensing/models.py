import json
import secrets
import uuid
from functools import cached_property
from typing import Any, Self

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from licensing import alerts, zones

# Crockford's base32 alphabet: no I, L, O or U, so keys survive being read aloud or retyped.
_KEY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def generate_license_key() -> str:
    """Five groups of five characters: 125 random bits, e.g. `7KQ2M-XW4PD-...`."""
    chars = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(25))
    return "-".join(chars[i : i + 5] for i in range(0, 25, 5))


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
        help_text="Vendor account-team member who hears about this customer's overdraft.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    notify_overdraft = models.BooleanField(
        default=True, help_text="Email me when an entitlement enters overdraft or hits its limit."
    )
    notify_denials = models.BooleanField(
        default=True, help_text="Email me an hourly digest of denied activations."
    )
    notify_statements = models.BooleanField(
        default=True, help_text="Email me each statement of a billing period when it is issued."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "customer"], name="licensing_membership_one_per_user_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role} of {self.customer})"


class EntitlementQuerySet(models.QuerySet["Entitlement"]):
    def in_zone(self, zone: str) -> Self:
        """Entitlements whose seats in use stand in `zone` now (a `zones.Zone` value)."""
        return self.filter(zones.q_in_zone(zone))

    def with_zone_rank(self) -> Self:
        """Annotate `zone_rank`: 0 within, 1 overdraft, 2 at the hard limit (`zones.ZONE_RANKS`),
        to sort by."""
        return self.annotate(zone_rank=zones.zone_rank())


# The longest a client may be trusted offline (licensing.leases): 30 days.
MAX_OFFLINE_GRACE_SECONDS = 30 * 86400


class BillingPeriod(models.TextChoices):
    """How often a statement is issued (licensing.billing), anchored at the entitlement's start."""

    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    YEARLY = "yearly", "Yearly"


class Entitlement(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = zones.SUSPENDED, "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="entitlements")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="entitlements")
    license_key = models.CharField(
        max_length=64, unique=True, default=generate_license_key, editable=False
    )
    # The key before the last rotation, still working until `previous_key_valid_until`
    # (licensing.keys); None when there is none.
    previous_license_key = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    previous_key_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    seats = models.PositiveIntegerField(help_text="Entitled seats: the soft limit.")
    hard_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Most seats that may be in use. Empty: unlimited overdraft; equal to seats: none."
        ),
    )
    lease_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Floating seats must heartbeat within this many seconds. Empty: named seats.",
    )
    customer_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text=(
            "The customer's own limit, between the seats and the hard limit; set by the"
            " customer's admins (services.entitlement_set_customer_cap). Empty: none."
        ),
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    billing_period = models.CharField(
        max_length=10,
        choices=BillingPeriod.choices,
        default=BillingPeriod.MONTHLY,
        help_text="How often a statement is issued, counted from the start.",
    )
    free_overdraft_seat_hours = models.PositiveIntegerField(
        default=0,
        help_text="Overdraft seat-hours per billing period that are not billed.",
    )
    offline_grace_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_OFFLINE_GRACE_SECONDS)],
        help_text=(
            "How long a client may keep working without reaching the portal, past its lease"
            " (licensing.leases). Empty: 72 hours for named seats, none for floating ones."
        ),
    )
    # Seats in use above the lines when a temporary raise ended (licensing.services.raises):
    # they stay until released, and the two CHECK constraints below allow up to this many
    # meanwhile. New activations are judged by the lines; None once use is back under them.
    seats_held_over = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Denormalised count of seats in use; the activation hot path reads and bumps only this.
    seats_used = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "product__name", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hard_limit__isnull=True)
                | Q(seats_used__lte=F("hard_limit"))
                | Q(seats_held_over__isnull=False, seats_used__lte=F("seats_held_over")),
                name="licensing_entitlement_seats_used_lte_hard_limit",
                violation_error_message="Seats in use cannot exceed the hard limit.",
            ),
            models.CheckConstraint(
                condition=Q(hard_limit__isnull=True) | Q(hard_limit__gte=F("seats")),
                name="licensing_entitlement_hard_limit_gte_seats",
                violation_error_message="The hard limit cannot be below the entitled seats.",
            ),
            models.CheckConstraint(
                condition=Q(seats__gte=0) & Q(seats_used__gte=0),
                name="licensing_entitlement_counts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(lease_seconds__isnull=True) | Q(lease_seconds__gt=0),
                name="licensing_entitlement_lease_seconds_gt_0",
                violation_error_message="A lease must last at least one second.",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="licensing_entitlement_ends_after_starts",
                violation_error_message="The end must be after the start.",
            ),
            # The zone rule's last line of defence for the customer's cap (licensing.zones),
            # and where a cap may lie: from the entitled seats to the hard limit.
            models.CheckConstraint(
                condition=Q(customer_cap__isnull=True)
                | Q(seats_used__lte=F("customer_cap"))
                | Q(seats_held_over__isnull=False, seats_used__lte=F("seats_held_over")),
                name="licensing_entitlement_seats_used_lte_customer_cap",
                violation_error_message="Seats in use cannot exceed the customer's cap.",
            ),
            models.CheckConstraint(
                condition=Q(customer_cap__isnull=True)
                | (
                    Q(customer_cap__gte=F("seats"))
                    & (Q(hard_limit__isnull=True) | Q(customer_cap__lte=F("hard_limit")))
                ),
                name="licensing_entitlement_customer_cap_between_seats_and_hard_limit",
                violation_error_message=(
                    "The customer's cap must lie between the entitled seats and the hard limit."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} · {self.product} ({self.seats}/{self.hard_limit or '∞'})"

    @property
    def is_floating(self) -> bool:
        return self.lease_seconds is not None

    @property
    def overdraft_allowance(self) -> int | None:
        return None if self.hard_limit is None else self.hard_limit - self.seats


class EntitlementTerms(models.Model):
    """The terms of an entitlement in force from `effective_from` until the next record's.

    Written by the entitlement services with every change of the terms (and at creation), never
    updated: the usage history judges each hour by the terms in force then (licensing.history).
    Hours before the first record are judged by the first record.
    """

    id = models.BigAutoField(primary_key=True)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="terms_history"
    )
    effective_from = models.DateTimeField()
    seats = models.PositiveIntegerField()
    hard_limit = models.PositiveIntegerField(null=True, blank=True)
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)
    customer_cap = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Entitlement.Status.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    billing_period = models.CharField(
        max_length=10, choices=BillingPeriod.choices, default=BillingPeriod.MONTHLY
    )
    free_overdraft_seat_hours = models.PositiveIntegerField(default=0)
    offline_grace_seconds = models.PositiveIntegerField(null=True, blank=True)
    changed_by = models.CharField(
        max_length=255, blank=True, help_text='Who made the change: an email, a token or "system".'
    )

    class Meta:
        ordering = ["entitlement", "effective_from", "id"]
        verbose_name_plural = "entitlement terms"
        indexes = [
            # The history of one entitlement, in order (charts, leads, statements).
            models.Index(
                fields=["entitlement", "effective_from", "id"], name="licensing_terms_history"
            ),
        ]

    def __str__(self) -> str:
        hard_limit = "∞" if self.hard_limit is None else self.hard_limit
        return f"{self.seats}/{hard_limit} from {self.effective_from:%Y-%m-%d %H:%M}"


class ExpansionRequest(models.Model):
    """A customer admin's request for more seats, which the account team grants or declines.

    `seats` and `hard_limit` are the terms wanted (`hard_limit` null: unlimited overdraft).
    One open request per entitlement at a time; the services (licensing.services.expansions)
    hold every rule, the constraints below are their last line.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        GRANTED = "granted", "Granted"
        DECLINED = "declined", "Declined"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="expansion_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="expansion_requests",
    )
    seats = models.PositiveIntegerField(help_text="The entitled seats wanted.")
    hard_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="The hard limit wanted. Empty: unlimited overdraft."
    )
    message = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolved_expansion_requests",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True, max_length=1000)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=Q(status="open"),
                name="licensing_expansionrequest_one_open_per_entitlement",
                violation_error_message="This entitlement has an open request already.",
            ),
            models.CheckConstraint(
                condition=Q(hard_limit__isnull=True) | Q(hard_limit__gte=F("seats")),
                name="licensing_expansionrequest_hard_limit_gte_seats",
                violation_error_message="The hard limit cannot be below the seats asked for.",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="licensing_expansionrequest_resolved_iff_not_open",
            ),
        ]
        indexes = [
            # The vendor API's list, filtered by status, newest first.
            models.Index(fields=["status", "-created_at"], name="licensing_expansion_status"),
        ]

    def __str__(self) -> str:
        return f"{self.seats} seats for {self.entitlement} ({self.status})"

    @property
    def hard_limit_label(self) -> str:
        return "∞" if self.hard_limit is None else str(self.hard_limit)


class TemporaryRaise(models.Model):
    """Extra entitled seats and/or hard limit from `starts_at` until `ends_at`, granted by the
    account team ("+20 until 31 Dec for the quarter close").

    It starts and ends by itself (licensing.services.raises, a periodic job): starting adds the
    extras to the entitlement's terms, ending takes them off again, each a change of terms like
    any other (recorded in the terms history). Ending never revokes seats: those above the new
    lines stay until released (`Entitlement.seats_held_over`). At most one raise per
    entitlement at a time (scheduled or running; the services refuse overlaps).
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entitlement = models.ForeignKey(Entitlement, on_delete=models.CASCADE, related_name="raises")
    extra_seats = models.PositiveIntegerField(default=0, help_text="Entitled seats added.")
    extra_hard_limit = models.PositiveIntegerField(
        default=0, help_text="Added to the hard limit (nothing to add to an unlimited one)."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="granted_raises",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When it did start and end (the job's moment, or an early end's).
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The customer's cap before the start and as the start left it (moved up to the raised
    # seats if it was below them): the end restores the first if nobody changed the second.
    customer_cap_before = models.PositiveIntegerField(null=True, blank=True)
    customer_cap_during = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="licensing_temporaryraise_ends_after_starts",
                violation_error_message="A raise must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(extra_seats__gt=0) | Q(extra_hard_limit__gt=0),
                name="licensing_temporaryraise_raises_something",
                violation_error_message="A raise adds seats, hard limit or both.",
            ),
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=Q(status="running"),
                name="licensing_temporaryraise_one_running_per_entitlement",
            ),
        ]
        indexes = [
            # The periodic job: raises due to start or end.
            models.Index(
                fields=["status", "starts_at"],
                condition=Q(status__in=["scheduled", "running"]),
                name="licensing_raise_due",
            ),
        ]

    def __str__(self) -> str:
        return f"+{self.extra_seats}/+{self.extra_hard_limit} until {self.ends_at:%Y-%m-%d}"

    @property
    def summary(self) -> str:
        """ "+20 seats and +20 hard limit", for pages and emails."""
        parts = []
        if self.extra_seats:
            parts.append(f"+{self.extra_seats} seat{'s' if self.extra_seats != 1 else ''}")
        if self.extra_hard_limit:
            parts.append(f"+{self.extra_hard_limit} hard limit")
        return " and ".join(parts)


class Seat(models.Model):
    class ReleaseReason(models.TextChoices):
        RELEASED = "released", "Released by the client"
        EXPIRED = "expired", "Lease expired"
        REVOKED = "revoked", "Revoked by the vendor"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="seat_records"
    )
    fingerprint = models.CharField(max_length=255)
    label = models.CharField(max_length=255, blank=True)
    activated_at = models.DateTimeField(default=timezone.now)
    last_heartbeat_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=10, choices=ReleaseReason.choices, blank=True)
    overdraft = models.BooleanField(default=False, help_text="Granted above the entitled seats.")

    class Meta:
        ordering = ["-activated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement", "fingerprint"],
                condition=Q(released_at__isnull=True),
                name="licensing_seat_one_per_fingerprint_in_use",
                violation_error_message="This fingerprint already holds a seat.",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, release_reason="")
                | (Q(released_at__isnull=False) & ~Q(release_reason="")),
                name="licensing_seat_release_reason_iff_released",
            ),
        ]
        indexes = [
            # Lease sweep and reclaim: seats in use whose lease ran out, per entitlement.
            models.Index(
                fields=["entitlement", "lease_expires_at"],
                condition=Q(released_at__isnull=True, lease_expires_at__isnull=False),
                name="licensing_seat_lease_in_use",
            ),
            # Seats-in-use table of an entitlement, newest first.
            models.Index(
                fields=["entitlement", "-activated_at"],
                condition=Q(released_at__isnull=True),
                name="licensing_seat_in_use_recent",
            ),
            # Seats past their lease, of any entitlement: the check before every read that
            # shows seats in use (services.seats_expire_due), read from the due end.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(released_at__isnull=True, lease_expires_at__isnull=False),
                name="licensing_seat_lease_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} on {self.entitlement_id}"

    @property
    def in_use(self) -> bool:
        return self.released_at is None


class Event(models.Model):
    """Append-only record of what happened; also the outbox for webhooks and emails.

    `seq` orders events as they were written, so pollers and the outbox sweep can page
    through them; the public identifier is `public_id`. On PostgreSQL the table is partitioned
    by the month of `occurred_at` (licensing.partitions), so the database's key is
    (`seq`, `occurred_at`) and `public_id`, a random UUID, has a plain index.
    """

    class Type(models.TextChoices):
        SEAT_ACTIVATED = "seat.activated"
        SEAT_DENIED = "seat.denied"
        SEAT_RELEASED = "seat.released"
        SEAT_EXPIRED = "seat.expired"
        # The zone changes: licensing.zones writes them (`transitions`) and names them.
        OVERDRAFT_STARTED = zones.OVERDRAFT_STARTED
        HARD_LIMIT_REACHED = zones.HARD_LIMIT_REACHED
        CUSTOMER_CAP_REACHED = zones.CUSTOMER_CAP_REACHED
        OVERDRAFT_ENDED = zones.OVERDRAFT_ENDED
        ENTITLEMENT_CREATED = "entitlement.created"
        ENTITLEMENT_UPDATED = "entitlement.updated"
        # A customer admin asked for more seats; the account team granted or declined it.
        EXPANSION_REQUESTED = "expansion.requested"
        EXPANSION_GRANTED = "expansion.granted"
        EXPANSION_DECLINED = "expansion.declined"
        LICENSE_KEY_ROTATED = "license_key.rotated"
        THRESHOLD_CROSSED = "entitlement.threshold_crossed"
        # A temporary raise of the lines started or ended (licensing.services.raises).
        RAISE_STARTED = "entitlement.raise_started"
        RAISE_ENDED = "entitlement.raise_ended"
        # The statement of a closed billing period was issued (licensing.services.billing).
        STATEMENT_ISSUED = "statement.issued"

    seq = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
    type = models.CharField(max_length=64, choices=Type.choices)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    # No database constraint: its check would take a KEY SHARE lock on the customer row at
    # every commit that writes an event, and with many concurrent writers for one customer
    # PostgreSQL records those shared locks as MultiXacts, which collapsed the activation
    # benchmark (docs/performance.md). The customer is the entitlement's, set by the services;
    # deleting a customer still deletes its events (Django's CASCADE).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            # Recent denials of an entitlement; event log filtered by entitlement and type.
            models.Index(
                fields=["entitlement", "type", "-occurred_at"], name="licensing_event_ent_type"
            ),
            # Event log and denial counts per customer over a time range.
            models.Index(fields=["customer", "-occurred_at"], name="licensing_event_customer"),
            # Outbox sweep: events not yet fanned out.
            models.Index(
                fields=["seq"],
                condition=Q(dispatched_at__isnull=True),
                name="licensing_event_undispatched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class UsageBucket(models.Model):
    """One entitlement's seat use in one hour, written with every seat change.

    Hours without a row carry the previous `closing_used` forward.
    """

    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="usage_buckets"
    )
    hour = models.DateTimeField(help_text="Start of the hour (UTC).")
    peak_used = models.PositiveIntegerField(default=0)
    closing_used = models.PositiveIntegerField(default=0)
    activations = models.PositiveIntegerField(default=0)
    overdraft_activations = models.PositiveIntegerField(default=0)
    denials = models.PositiveIntegerField(default=0)
    releases = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["entitlement", "hour"]
        constraints = [
            # Also the index for chart reads: one entitlement's buckets over a time range.
            models.UniqueConstraint(
                fields=["entitlement", "hour"], name="licensing_usagebucket_one_per_hour"
            ),
        ]
        indexes = [
            # The hours with an activation into overdraft or a denial, across entitlements:
            # the leads' candidates among the hours not rolled up yet (selectors.lead_candidates).
            models.Index(
                fields=["hour"],
                condition=Q(denials__gt=0) | Q(overdraft_activations__gt=0),
                name="licensing_usagebucket_busy",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entitlement_id} {self.hour:%Y-%m-%d %H:00}: peak {self.peak_used}"


class UsageDay(models.Model):
    """One entitlement's seat use over one whole UTC day: its hourly buckets rolled up, judged
    by the terms in force hour by hour, exactly as `licensing.history.walk` sums them (it is
    that walk's day Point, stored). Written for days that have ended by
    `services.usage_rollups_refresh`; charts of day buckets read these rows for the days they
    cover and the hourly buckets for the rest (licensing.selectors.usage_history)."""

    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="usage_days"
    )
    day = models.DateTimeField(help_text="Start of the UTC day.")
    hours = models.PositiveSmallIntegerField()
    peak = models.PositiveIntegerField()
    closing = models.PositiveIntegerField()
    activations = models.PositiveIntegerField()
    overdraft_activations = models.PositiveIntegerField()
    denials = models.PositiveIntegerField()
    releases = models.PositiveIntegerField()
    overdraft_hours = models.PositiveSmallIntegerField()
    overdraft_seat_hours = models.PositiveIntegerField()
    entitled = models.PositiveIntegerField()
    hard_limit = models.PositiveIntegerField(null=True)
    customer_cap = models.PositiveIntegerField(null=True)
    denied_at = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["entitlement", "day"]
        constraints = [
            # Also the index for chart reads: one entitlement's days over a range.
            models.UniqueConstraint(
                fields=["entitlement", "day"], name="licensing_usageday_one_per_day"
            ),
        ]
        indexes = [
            # Every entitlement's row of one day (selectors.lead_candidates: rolled up yet?).
            models.Index(fields=["day"], name="licensing_usageday_day"),
            # The days with overdraft or denials, across entitlements (the leads' candidates).
            models.Index(
                fields=["day"],
                condition=Q(denials__gt=0) | Q(overdraft_hours__gt=0),
                name="licensing_usageday_busy",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entitlement_id} {self.day:%Y-%m-%d}: peak {self.peak}"


class ApiToken(models.Model):
    """A vendor API credential of an account-team member: `Authorization: Bearer <token>`.

    Only a SHA-256 hash of the token is stored (tokens carry 256 random bits, so a slow
    password hash adds nothing); `prefix` is the visible start that lets people tell tokens
    apart in lists.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=16, editable=False)
    # Unique: also the index for the lookup on every vendor API request.
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False, help_text="May read but not change anything.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """Who changed which entitlement, seat, member, token or endpoint, when, and from where.

    Written by the views right after the change, in the same transaction; never updated.
    Labels are copied at write time so an entry still reads right after its target or actor
    is renamed or deleted.
    """

    class Action(models.TextChoices):
        CUSTOMER_CREATED = "customer.created"
        ENTITLEMENT_CREATED = "entitlement.created"
        ENTITLEMENT_UPDATED = "entitlement.updated"
        ENTITLEMENT_SUSPENDED = "entitlement.suspended"
        ENTITLEMENT_RESUMED = "entitlement.resumed"
        CUSTOMER_CAP_CHANGED = "entitlement.customer_cap_changed"
        SEAT_REVOKED = "seat.revoked"
        MEMBER_INVITED = "member.invited"
        MEMBER_JOINED = "member.joined"
        MEMBER_PROVISIONED = "member.provisioned"
        MEMBER_ROLE_CHANGED = "member.role_changed"
        MEMBER_REMOVED = "member.removed"
        INVITATION_RESENT = "invitation.resent"
        INVITATION_REVOKED = "invitation.revoked"
        EXPANSION_REQUESTED = "expansion.requested"
        EXPANSION_GRANTED = "expansion.granted"
        EXPANSION_DECLINED = "expansion.declined"
        LICENSE_KEY_ROTATED = "license_key.rotated"
        ALERT_THRESHOLD_ADDED = "alert_threshold.added"
        ALERT_THRESHOLD_REMOVED = "alert_threshold.removed"
        RAISE_GRANTED = "raise.granted"
        RAISE_STARTED = "raise.started"
        RAISE_ENDED = "raise.ended"
        RAISE_CANCELLED = "raise.cancelled"
        SIGNING_KEY_ROTATED = "signing_key.rotated"
        TOKEN_CREATED = "token.created"
        TOKEN_REVOKED = "token.revoked"
        WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
        WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
        WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
        WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated"
        SSO_CONNECTION_SAVED = "sso.connection_saved"
        SSO_CONNECTION_REMOVED = "sso.connection_removed"
        SSO_ENFORCEMENT_CHANGED = "sso.enforcement_changed"
        SSO_BREAK_GLASS_GRANTED = "sso.break_glass_granted"
        SSO_BREAK_GLASS_USED = "sso.break_glass_used"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        help_text="The person (or the owner of the API token); empty for the system.",
    )
    actor_label = models.CharField(
        max_length=255, help_text='Email, "token <prefix> (<owner>)" or "system".'
    )
    action = models.CharField(max_length=64, choices=Action.choices)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=255, blank=True)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "audit entries"
        indexes = [
            # The audit page, newest first, unfiltered.
            models.Index(fields=["-occurred_at"], name="licensing_audit_recent"),
            # The audit page filtered by customer.
            models.Index(fields=["customer", "-occurred_at"], name="licensing_audit_customer"),
            # The audit page filtered by action.
            models.Index(fields=["action", "-occurred_at"], name="licensing_audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} of {self.target_label or self.target_id} by {self.actor_label}"


class AlertThreshold(models.Model):
    """A line of seats in use whose crossing alerts (licensing.alerts): the customer's admins
    keep one set per entitlement, the account team another (`audience`)."""

    class Audience(models.TextChoices):
        CUSTOMER = "customer", "The customer"
        VENDOR = "vendor", "The account team"

    class Kind(models.TextChoices):
        PERCENT = alerts.PERCENT, "A share of the entitled seats"
        OVERDRAFT = alerts.OVERDRAFT, "In overdraft"
        LIMIT = alerts.LIMIT, "At the limit"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="alert_thresholds"
    )
    audience = models.CharField(max_length=10, choices=Audience.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    # licensing.alerts.step's state: fired and not yet fallen back by the margin; when it last
    # fired.
    armed = models.BooleanField(default=True, editable=False)
    last_fired_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["entitlement", "audience", "kind", "percent"]
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement", "audience", "kind", "percent"],
                name="licensing_threshold_once",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=(Q(kind=alerts.PERCENT) & Q(percent__gte=1) & Q(percent__lte=200))
                | (~Q(kind=alerts.PERCENT) & Q(percent__isnull=True)),
                name="licensing_threshold_percent_with_its_kind",
                violation_error_message="A share threshold needs a percentage from 1 to 200.",
            ),
        ]

    def __str__(self) -> str:
        return alerts.describe(self.kind, self.percent)


class AlertSubscription(models.Model):
    """`user` is emailed when a threshold of `audience` on `entitlement` fires."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    audience = models.CharField(max_length=10, choices=AlertThreshold.Audience.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "entitlement", "audience"], name="licensing_alert_subscription_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.entitlement_id} ({self.audience})"


class SigningKey(models.Model):
    """An Ed25519 key the portal signs with (licensing.signing): statements of billing periods
    and, later, leases. The newest key not retired signs; every key stays published in the
    JWKS (`/.well-known/jwks.json`) so what it signed stays verifiable after a rotation.

    The private key is stored here (PKCS#8 PEM): whoever reads the database can sign. Protect
    backups as you would the database itself (docs/operations.md).
    """

    kid = models.CharField(max_length=64, primary_key=True)
    private_key = models.TextField(editable=False)
    public_key = models.CharField(max_length=64, help_text="Raw Ed25519 key, base64url.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    current = models.BooleanField(default=True, help_text="The key that signs now.")
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one key signs: a race to create the first one leaves one.
            models.UniqueConstraint(
                fields=["current"],
                condition=Q(current=True),
                name="licensing_signingkey_one_current",
            ),
        ]

    def __str__(self) -> str:
        return self.kid


class Statement(models.Model):
    """The signed statement of one closed billing period of an entitlement
    (licensing.services.billing): its figures, judged by the terms in force hour by hour.

    `document` is the signed JSON exactly as issued (canonical bytes, licensing.signing): what
    the pages, CSV, PDF and API show and what a verifier checks. Never updated: reissuing a
    period returns this row. The figures the leads page sorts by are copied out of it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.CASCADE, related_name="statements"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    issued_at = models.DateTimeField(default=timezone.now, editable=False)
    kid = models.CharField(max_length=64)
    document = models.TextField()
    overdraft_seat_hours = models.PositiveIntegerField(default=0)
    billable_overdraft_seat_hours = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement", "period_start"],
                name="licensing_statement_one_per_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")),
                name="licensing_statement_period_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entitlement} {self.period_start:%Y-%m-%d} to {self.period_end:%Y-%m-%d}"

    @cached_property
    def signed(self) -> dict[str, Any]:
        """`document` parsed: `{"payload": {...}, "signature": {...}}`. What the pages and the
        API show is read from here, never recomputed: the statement says what it said when
        issued."""
        parsed: dict[str, Any] = json.loads(self.document)
        return parsed
