"""Input and output serializers of the vendor API.

Inputs only validate shapes; the rules (limits against seats in use, dates) live in
`licensing.services`, so the API answers with the same messages as the portal.
"""

from __future__ import annotations

from typing import Any, Final

from django.contrib.auth import get_user_model
from django.core.validators import validate_slug
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from licensing import alerts, zones
from licensing.models import (
    MAX_OFFLINE_GRACE_SECONDS,
    AlertThreshold,
    BillingPeriod,
    Customer,
    Entitlement,
    Event,
    ExpansionRequest,
    Product,
    Seat,
    Statement,
    TemporaryRaise,
)
from licensing.services.raises import REASON_MAX_LENGTH

# Counts and durations are 32-bit columns; larger numbers get a 400, never a database error.
MAX_COUNT: Final = 1_000_000_000


class ErrorSerializer(serializers.Serializer):
    """The one error shape of both APIs."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    # The metaclass moves declared fields off the class, so `errors` shadows nothing at runtime.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field errors of a 400: field name -> messages.",
    )


class TextField(serializers.CharField):
    """A CharField that refuses non-strings, text PostgreSQL cannot store, and text longer
    than `max_length` as sent (the schema's maxLength), before surrounding spaces are trimmed."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        value = str(super().to_internal_value(data))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Text must be valid Unicode.") from None
        return value


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses strings, floats and booleans in JSON bodies."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


def _count_field(**kwargs: Any) -> StrictIntegerField:
    return StrictIntegerField(min_value=0, max_value=MAX_COUNT, **kwargs)


# --- outputs ------------------------------------------------------------------------------------


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()


class ProductRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    code = serializers.CharField()


class CustomerSerializer(serializers.ModelSerializer):
    account_manager = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = ["id", "name", "slug", "account_manager", "created_at"]

    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_account_manager(self, customer: Customer) -> str | None:
        return customer.account_manager.email if customer.account_manager else None


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "code", "created_at"]


class SeatCountsSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    entitled = serializers.IntegerField()
    hard_limit = serializers.IntegerField(allow_null=True)
    customer_cap = serializers.IntegerField(
        allow_null=True,
        help_text="The customer's own cap (between entitled and hard_limit); null when unset.",
    )
    available = serializers.IntegerField(
        allow_null=True, help_text="Seats that can still be granted; null when unlimited."
    )


class EntitlementSerializer(serializers.ModelSerializer):
    customer = CustomerRefSerializer()
    product = ProductRefSerializer()
    usage = serializers.SerializerMethodField()
    zone = serializers.SerializerMethodField()

    class Meta:
        model = Entitlement
        fields = [
            "id",
            "customer",
            "product",
            "license_key",
            "previous_key_valid_until",
            "status",
            "seats",
            "hard_limit",
            "customer_cap",
            "lease_seconds",
            "starts_at",
            "ends_at",
            "billing_period",
            "free_overdraft_seat_hours",
            "offline_grace_seconds",
            "seats_used",
            "usage",
            "zone",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(SeatCountsSerializer)
    def get_usage(self, entitlement: Entitlement) -> dict[str, int | None]:
        return zones.SeatCounts.of(entitlement).as_dict()

    @extend_schema_field(serializers.ChoiceField(choices=zones.Zone.choices))
    def get_zone(self, entitlement: Entitlement) -> str:
        return zones.SeatCounts.of(entitlement).zone.value


class SeatSerializer(serializers.ModelSerializer):
    in_use = serializers.BooleanField(read_only=True)
    release_reason = serializers.ChoiceField(
        choices=[("", "In use"), *Seat.ReleaseReason.choices],
        help_text="Empty while the seat is in use.",
    )

    class Meta:
        model = Seat
        fields = [
            "id",
            "fingerprint",
            "label",
            "overdraft",
            "in_use",
            "activated_at",
            "last_heartbeat_at",
            "lease_expires_at",
            "released_at",
            "release_reason",
        ]


class UsagePointSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the bucket (UTC).")
    peak = serializers.IntegerField(help_text="Most seats in use at once.")
    closing = serializers.IntegerField(help_text="Seats in use at the end of the bucket.")
    activations = serializers.IntegerField()
    overdraft_activations = serializers.IntegerField()
    denials = serializers.IntegerField()
    releases = serializers.IntegerField()
    overdraft_hours = serializers.IntegerField(
        help_text="Hours whose peak was above the seats entitled in that hour."
    )
    overdraft_seat_hours = serializers.IntegerField(
        help_text="The sum, over those hours, of the peak above the seats entitled then."
    )
    entitled = serializers.IntegerField(
        help_text="Entitled seats of the bucket's busiest hour: the terms in force then."
    )
    hard_limit = serializers.IntegerField(
        allow_null=True, help_text="Hard limit of the bucket's busiest hour (null: none)."
    )
    customer_cap = serializers.IntegerField(
        allow_null=True, help_text="The customer's own cap in that hour (null: none)."
    )
    zone = serializers.ChoiceField(
        choices=zones.Zone.choices,
        help_text="Where the peak stood against those lines.",
    )
    partial = serializers.BooleanField(  # type: ignore[assignment]  # see ErrorSerializer.errors
        help_text="The bucket holds the current hour: its figures so far."
    )


class TermsSerializer(serializers.Serializer):
    effective_from = serializers.DateTimeField()
    seats = serializers.IntegerField()
    hard_limit = serializers.IntegerField(allow_null=True)
    customer_cap = serializers.IntegerField(
        allow_null=True, help_text="The customer's own cap; null: none."
    )
    status = serializers.ChoiceField(choices=Entitlement.Status.choices)
    lease_seconds = serializers.IntegerField(allow_null=True, help_text="Null: named seats.")
    changed_by = serializers.CharField(help_text='An email, a token or "system".')


class CapacitySerializer(serializers.Serializer):
    peak = serializers.IntegerField()
    p95_daily_peak = serializers.IntegerField(
        help_text="95th-percentile (nearest rank) of the daily peaks."
    )
    overdraft_hours = serializers.IntegerField()
    overdraft_seat_hours = serializers.IntegerField()
    denials = serializers.IntegerField()
    activations = serializers.IntegerField()
    demand = serializers.IntegerField(
        help_text="The 95th-percentile daily peak; with denials at least the hard limit in "
        "force when they happened."
    )
    recommended_seats = serializers.IntegerField(
        allow_null=True,
        help_text="Demand plus 5% headroom, rounded up to a tidy step; null unless the range "
        "saw overdraft or denials and it is more than the seats entitled now.",
    )


class CrossingSerializer(serializers.Serializer):
    name = serializers.ChoiceField(
        choices=["entitled seats", "hard limit", "cap"],
        help_text="The line: the entitled seats, or the limit (the customer's cap when it is "
        "below the hard limit, else the hard limit).",
    )
    seats = serializers.IntegerField(help_text="Where the line is now.")
    reached = serializers.BooleanField(
        help_text="A daily peak of the last 7 days (today so far included) reached it; the "
        "dates are then null."
    )
    expected = serializers.DateField(
        allow_null=True,
        help_text="The first day whose projected peak reaches the line; null: not within the "
        "horizon (or reached).",
    )
    earliest = serializers.DateField(
        allow_null=True, help_text="The same for the high end of the range."
    )
    latest = serializers.DateField(
        allow_null=True,
        help_text="The same for the low end of the range; null: perhaps not within the horizon.",
    )


class ProjectedDaySerializer(serializers.Serializer):
    day = serializers.DateField(help_text="A UTC day after today.")
    expected = serializers.FloatField(help_text="Its projected peak seats in use.")
    low = serializers.FloatField(help_text="The low end of the likely range.")
    high = serializers.FloatField(help_text="The high end of the likely range.")


class ForecastSerializer(serializers.Serializer):
    available = serializers.BooleanField(
        help_text="False with too little history; `reason` says why and the rest is empty."
    )
    reason = serializers.CharField(help_text="Why there is no forecast; empty when there is.")
    as_of = serializers.DateField(help_text="Today (UTC): the forecast starts here.")
    history_days = serializers.IntegerField(
        help_text="Complete days of use it read (at most the last 56)."
    )
    horizon_days = serializers.IntegerField(help_text="How far ahead it looks (90).")
    weekly_growth = serializers.FloatField(
        help_text="Seats a week the trend adds to the busiest weekday's peak (negative: falls)."
    )
    entitled = CrossingSerializer(allow_null=True, help_text="When use reaches the entitled seats.")
    limit = CrossingSerializer(
        allow_null=True, help_text="When use reaches the limit; null: no limit (unlimited)."
    )
    days = ProjectedDaySerializer(many=True, help_text="Tomorrow to the horizon.")


class UsageSeriesSerializer(serializers.Serializer):
    entitlement = serializers.UUIDField()
    bucket = serializers.ChoiceField(choices=["hour", "day"])
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    as_of = serializers.DateTimeField(
        help_text="Now: no bucket after the one that holds it is returned or counted."
    )
    seats = serializers.IntegerField(help_text="Entitled seats now.")
    hard_limit = serializers.IntegerField(allow_null=True, help_text="The hard limit now.")
    terms = TermsSerializer(
        many=True,
        help_text="The terms in force at `start` and every change before `end`, oldest first.",
    )
    capacity = CapacitySerializer(
        help_text="The figures of the range, the same as the portal's capacity note."
    )
    forecast = ForecastSerializer(
        help_text="When use reaches the lines in force now, from the daily peaks of the last 8 "
        "weeks (whatever `start` and `end` are): the portal's forecast (docs/portal.md)."
    )
    points = UsagePointSerializer(many=True)


class StatementSignatureSerializer(serializers.Serializer):
    alg = serializers.ChoiceField(choices=["EdDSA"])
    kid = serializers.CharField(
        help_text="The signing key's id: its public key is in `/.well-known/jwks.json`."
    )
    sig = serializers.CharField(
        help_text="Ed25519 signature of the payload's canonical JSON (keys sorted, no "
        "spaces, UTF-8), base64url without padding."
    )


class IdNameSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class StatementPeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Exclusive.")
    billing_period = serializers.ChoiceField(choices=BillingPeriod.choices)
    label = serializers.CharField(  # type: ignore[assignment]  # see ErrorSerializer.errors
        help_text="E.g. `Jan 2026`, `Oct to Dec 2026`."
    )


class StatementTermsSerializer(serializers.Serializer):
    effective_from = serializers.DateTimeField()
    seats = serializers.IntegerField()
    hard_limit = serializers.IntegerField(allow_null=True)
    customer_cap = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=Entitlement.Status.choices)


class StatementFiguresSerializer(serializers.Serializer):
    hours = serializers.IntegerField(help_text="Hours counted (so far, when provisional).")
    peak = serializers.IntegerField()
    p95_daily_peak = serializers.IntegerField()
    overdraft_hours = serializers.IntegerField()
    overdraft_seat_hours = serializers.IntegerField()
    overdraft_days = serializers.IntegerField()
    hours_at_limit = serializers.IntegerField()
    denials = serializers.IntegerField()
    activations = serializers.IntegerField()
    free_overdraft_seat_hours = serializers.IntegerField()
    billable_overdraft_seat_hours = serializers.IntegerField()


class UtilizationSerializer(serializers.Serializer):
    seats = serializers.IntegerField()
    hours = serializers.IntegerField(help_text="Hours whose peak reached `seats` or more.")


class StatementPayloadSerializer(serializers.Serializer):
    format = serializers.CharField()
    version = serializers.IntegerField()
    statement = serializers.CharField(help_text="`<entitlement id>/<period start hour>`.")
    provisional = serializers.BooleanField()
    as_of = serializers.DateTimeField(allow_null=True, help_text="Provisional: as of when.")
    customer = IdNameSerializer()
    product = ProductRefSerializer()
    entitlement = serializers.UUIDField()
    period = StatementPeriodSerializer()
    terms = StatementTermsSerializer(
        many=True, help_text="The terms in force at the start, then each change in the period."
    )
    figures = StatementFiguresSerializer()
    utilization = UtilizationSerializer(many=True)


class SignedStatementSerializer(serializers.Serializer):
    """For the schema only: a signed document is answered as issued, never re-serialised, so
    no field of it can go missing and break its signature."""

    payload = StatementPayloadSerializer()
    signature = StatementSignatureSerializer()


class StatementSerializer(serializers.ModelSerializer):
    entitlement = serializers.UUIDField(source="entitlement_id")
    label = serializers.SerializerMethodField()  # type: ignore[assignment]  # see ErrorSerializer
    document = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "id",
            "entitlement",
            "period_start",
            "period_end",
            "label",
            "issued_at",
            "kid",
            "overdraft_seat_hours",
            "billable_overdraft_seat_hours",
            "document",
        ]

    def get_label(self, statement: Statement) -> str:
        return str(statement.signed["payload"]["period"]["label"])

    @extend_schema_field(SignedStatementSerializer)
    def get_document(self, statement: Statement) -> dict[str, Any]:
        return statement.signed


class EventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    type = serializers.ChoiceField(choices=Event.Type.values)
    entitlement = serializers.UUIDField(source="entitlement_id", allow_null=True)
    customer = serializers.UUIDField(source="customer_id")
    data = serializers.JSONField()  # type: ignore[assignment]  # see ErrorSerializer.errors

    class Meta:
        model = Event
        fields = ["id", "type", "occurred_at", "customer", "entitlement", "data"]


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    cursor = serializers.UUIDField(
        allow_null=True,
        help_text="Pass as `after` in the next poll: the last event handed out (or the "
        "`after` you sent when nothing new has settled).",
    )
    has_more = serializers.BooleanField(help_text="More settled events wait: poll again now.")


# --- inputs ---------------------------------------------------------------------------------------


class ExpansionRequestSerializer(serializers.ModelSerializer):
    entitlement = serializers.UUIDField(source="entitlement_id")
    customer = CustomerRefSerializer(source="entitlement.customer")
    product = ProductRefSerializer(source="entitlement.product")
    seats = serializers.IntegerField(help_text="The entitled seats asked for.")
    hard_limit = serializers.IntegerField(
        allow_null=True, help_text="The hard limit asked for; null: unlimited overdraft."
    )
    requested_by = serializers.SerializerMethodField()
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = ExpansionRequest
        fields = [
            "id",
            "entitlement",
            "customer",
            "product",
            "seats",
            "hard_limit",
            "message",
            "status",
            "requested_by",
            "created_at",
            "resolved_by",
            "resolved_at",
            "resolution_note",
        ]

    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_requested_by(self, request: ExpansionRequest) -> str | None:
        return request.requested_by.email if request.requested_by else None

    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_resolved_by(self, request: ExpansionRequest) -> str | None:
        return request.resolved_by.email if request.resolved_by else None


# A JSON body: unknown fields are a 400, so a typo never passes silently. The schema says so
# too (`additionalProperties: false`, licensing.api.schema.close_request_bodies).
class BodySerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class CustomerCreateSerializer(BodySerializer):
    name = TextField(max_length=200)
    account_manager = serializers.EmailField(
        required=False,
        allow_null=True,
        help_text="Email of the account-team member who hears about this customer.",
    )

    def validate_account_manager(self, value: str | None) -> Any:
        if not value:
            return None
        user = get_user_model().objects.filter(email__iexact=value, is_staff=True).first()
        if user is None:
            raise serializers.ValidationError("No account-team member has this email.")
        return user


class ProductCreateSerializer(BodySerializer):
    name = TextField(max_length=200)
    code = TextField(
        max_length=100,
        required=False,
        allow_blank=True,
        validators=[validate_slug],
        help_text="Letters, digits, - and _. Default: from the name.",
    )


_BILLING_PERIOD_HELP: Final = (
    "How often a signed statement is issued: when each period, counted from `starts_at`, closes."
)
_FREE_HOURS_HELP: Final = (
    "Overdraft seat-hours per billing period that are not billed (the allowance in force at a "
    "period's start applies to it)."
)
_OFFLINE_GRACE_HELP: Final = (
    "Seconds a client may keep working without reaching the portal, past its lease: the lease"
    " token's valid-until (docs/clients.md). Null: the default, 72 hours for named seats and"
    " none for floating ones; at most 30 days."
)


class EntitlementCreateSerializer(BodySerializer):
    customer = serializers.UUIDField()
    product = serializers.UUIDField()
    seats = _count_field(help_text="Entitled seats: the soft limit.")
    hard_limit = _count_field(
        allow_null=True, help_text="Most seats in use; null: unlimited overdraft."
    )
    lease_seconds = StrictIntegerField(
        min_value=1,
        max_value=MAX_COUNT,
        required=False,
        allow_null=True,
        help_text="Floating seats must heartbeat within this; null: named seats.",
    )
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    billing_period = serializers.ChoiceField(
        choices=BillingPeriod.choices,
        required=False,
        help_text=_BILLING_PERIOD_HELP + " Default: `monthly`.",
    )
    free_overdraft_seat_hours = _count_field(
        required=False, help_text=_FREE_HOURS_HELP + " Default: 0."
    )
    offline_grace_seconds = StrictIntegerField(
        min_value=0,
        max_value=MAX_OFFLINE_GRACE_SECONDS,
        required=False,
        allow_null=True,
        help_text=_OFFLINE_GRACE_HELP,
    )

    def validate_customer(self, value: Any) -> Customer:
        customer = Customer.objects.filter(pk=value).first()
        if customer is None:
            raise serializers.ValidationError("No customer has this id.")
        return customer

    def validate_product(self, value: Any) -> Product:
        product = Product.objects.filter(pk=value).first()
        if product is None:
            raise serializers.ValidationError("No product has this id.")
        return product


class AlertThresholdSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    level = serializers.SerializerMethodField()

    class Meta:
        model = AlertThreshold
        fields = [
            "id",
            "audience",
            "kind",
            "percent",
            "name",
            "level",
            "armed",
            "last_fired_at",
            "created_at",
        ]

    def get_name(self, threshold: AlertThreshold) -> str:
        return alerts.describe(threshold.kind, threshold.percent)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_level(self, threshold: AlertThreshold) -> int | None:
        """Seats in use at which it fires, by today's lines (null: no limit)."""
        return alerts.level_of(
            threshold.kind, threshold.percent, zones.SeatCounts.of(threshold.entitlement)
        )


class AlertThresholdCreateSerializer(BodySerializer):
    audience = serializers.ChoiceField(
        choices=AlertThreshold.Audience.choices,
        help_text="`customer`: the customer's admins' set (sent to their endpoints too); "
        "`vendor`: the account team's own.",
    )
    kind = serializers.ChoiceField(choices=AlertThreshold.Kind.choices)
    percent = StrictIntegerField(
        min_value=1,
        max_value=200,
        required=False,
        allow_null=True,
        help_text="For `percent`: the share of the entitled seats.",
    )


class KeyRotationSerializer(BodySerializer):
    grace_hours = StrictIntegerField(
        min_value=0,
        max_value=168,
        required=False,
        help_text="Hours the current key keeps working (default 24; 0: it stops at once).",
    )


class EntitlementUpdateSerializer(BodySerializer):
    seats = _count_field(required=False)
    hard_limit = _count_field(required=False, allow_null=True)
    customer_cap = _count_field(
        required=False,
        allow_null=True,
        help_text=(
            "The customer's own cap, set on their behalf (from `seats` to `hard_limit`, not"
            " below the seats in use); null removes it. Audited with the token."
        ),
    )
    lease_seconds = StrictIntegerField(
        min_value=1, max_value=MAX_COUNT, required=False, allow_null=True
    )
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    billing_period = serializers.ChoiceField(
        choices=BillingPeriod.choices, required=False, help_text=_BILLING_PERIOD_HELP
    )
    free_overdraft_seat_hours = _count_field(required=False, help_text=_FREE_HOURS_HELP)
    offline_grace_seconds = StrictIntegerField(
        min_value=0,
        max_value=MAX_OFFLINE_GRACE_SECONDS,
        required=False,
        allow_null=True,
        help_text=_OFFLINE_GRACE_HELP,
    )


ENTITLEMENT_ORDERINGS: Final = {
    "created_at": ("created_at", "pk"),
    "-created_at": ("-created_at", "-pk"),
    "customer": ("customer__name", "product__name", "created_at", "pk"),
    "-customer": ("-customer__name", "-product__name", "-created_at", "-pk"),
    "seats_used": ("seats_used", "created_at", "pk"),
    "-seats_used": ("-seats_used", "-created_at", "-pk"),
    "seats": ("seats", "created_at", "pk"),
    "-seats": ("-seats", "-created_at", "-pk"),
}


class EntitlementFilterSerializer(serializers.Serializer):
    customer = serializers.UUIDField(required=False, help_text="Only this customer's.")
    product = serializers.UUIDField(required=False, help_text="Only this product's.")
    status = serializers.ChoiceField(choices=Entitlement.Status.values, required=False)
    zone = serializers.ChoiceField(
        choices=zones.Zone.choices,
        required=False,
        help_text="Where seat use stands now against the entitled seats and the hard limit.",
    )
    ordering = serializers.ChoiceField(
        choices=list(ENTITLEMENT_ORDERINGS), required=False, default="customer"
    )


class ExpansionRequestFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ExpansionRequest.Status.values, required=False, help_text="Only these."
    )


class ExpansionNoteSerializer(BodySerializer):
    note = TextField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="A note to the customer, in the email they get.",
    )


class RaiseSerializer(serializers.ModelSerializer):
    entitlement = serializers.UUIDField(source="entitlement_id")
    granted_by = serializers.SerializerMethodField()

    class Meta:
        model = TemporaryRaise
        fields = [
            "id",
            "entitlement",
            "extra_seats",
            "extra_hard_limit",
            "starts_at",
            "ends_at",
            "reason",
            "status",
            "started_at",
            "ended_at",
            "created_at",
            "granted_by",
        ]

    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_granted_by(self, raise_: TemporaryRaise) -> str | None:
        return raise_.granted_by.email if raise_.granted_by else None


class RaiseGrantSerializer(BodySerializer):
    extra_seats = _count_field(
        required=False, default=0, help_text="Entitled seats added while the raise runs."
    )
    extra_hard_limit = _count_field(
        required=False,
        default=0,
        help_text="Added to the hard limit while the raise runs (0 for an unlimited overdraft).",
    )
    starts_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Default (or in the past): now, at once."
    )
    ends_at = serializers.DateTimeField(help_text="When the extras come off again.")
    reason = TextField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)


class SeatFilterSerializer(serializers.Serializer):
    in_use = serializers.BooleanField(
        required=False, default=True, help_text="true: seats held now; false: released ones."
    )


class UsageQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Inclusive; floored to the bucket.")
    end = serializers.DateTimeField(help_text="Exclusive; floored to the bucket.")
    bucket = serializers.ChoiceField(choices=["hour", "day"], required=False, default="hour")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        hours = (attrs["end"] - attrs["start"]).total_seconds() / 3600
        limit = 24 * 400 if attrs["bucket"] == "hour" else 24 * 366 * 5
        if hours > limit:
            buckets = "hourly" if attrs["bucket"] == "hour" else "daily"
            raise serializers.ValidationError(
                {"end": [f"At most {limit // 24} days of {buckets} buckets at once."]}
            )
        return attrs


class EventFilterSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Event.Type.values, required=False)
    customer = serializers.UUIDField(required=False)
    entitlement = serializers.UUIDField(required=False)
    after = serializers.UUIDField(
        required=False,
        help_text="Cursor: the `cursor` of the previous page (an event id). Omit to start "
        "from the oldest event.",
    )
    occurred_after = serializers.DateTimeField(required=False, help_text="Inclusive.")
    occurred_before = serializers.DateTimeField(required=False, help_text="Exclusive.")
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=500)


# --- client API bodies (for the schema; licensing.api.client builds them) ----------------------


class GrantedSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The activation (seat) id: heartbeat and release it.")
    status = serializers.ChoiceField(choices=["ok", "overdraft"])
    fingerprint = serializers.CharField()
    overdraft = serializers.BooleanField(help_text="Granted above the entitled seats.")
    seats = SeatCountsSerializer()
    lease_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Heartbeat before this; null for named seats."
    )
    lease = serializers.CharField(
        help_text="A signed lease token (compact JWS, EdDSA, keys at /.well-known/jwks.json):"
        " claims iss, aud (overdraft-portal/lease), sub (this id), ent (entitlement), fp"
        " (fingerprint), zone (ok|overdraft), iat, exp (valid-until), lease_exp. A client may"
        " keep working offline until exp (docs/clients.md)."
    )
    lease_valid_until = serializers.DateTimeField(
        help_text="The token's exp: the lease's end (or now, for a named seat) plus the"
        " entitlement's offline grace."
    )
    message = serializers.CharField()


class DeniedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["denied"])
    code = serializers.ChoiceField(
        choices=[zones.HARD_LIMIT_CODE, zones.CUSTOMER_CAP_CODE],
        help_text="Which line the activation met: the vendor's hard limit or the customer's cap.",
    )
    message = serializers.CharField()
    seats = SeatCountsSerializer()
    retry_after = serializers.IntegerField(
        allow_null=True, help_text="Seconds until the earliest floating lease runs out."
    )


class SeatNotHeldSerializer(ErrorSerializer):
    reason = serializers.ChoiceField(
        choices=Seat.ReleaseReason.choices, help_text="Why the seat was let go."
    )


class NameCodeSerializer(serializers.Serializer):
    name = serializers.CharField()
    code = serializers.CharField()


class NameSerializer(serializers.Serializer):
    name = serializers.CharField()


class EntitlementStatusSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Entitlement.Status.values)
    zone = serializers.ChoiceField(choices=zones.Zone.choices)
    product = NameCodeSerializer()
    customer = NameSerializer()
    seats = SeatCountsSerializer()
    lease_seconds = serializers.IntegerField(allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
