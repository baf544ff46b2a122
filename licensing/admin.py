"""Django admin for the vendor's staff: a back office, not a way around the domain rules.

Writes with domain rules go through `licensing.services`: new customers, products and
entitlements are created by their services, entitlement changes are saved by
`entitlement_update` (which refuses limits below the seats in use and writes the events),
seats are revoked by `seat_revoke` and API tokens by `api_token_revoke`. Counters, seats,
events, usage history and tokens are otherwise read-only. The entitlement and seat lists (and an
entitlement's page) release the seats whose lease ran out first (`seats_expire_due`), as every
page that shows seats in use does.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from licensing import services, zones
from licensing.models import (
    ApiToken,
    Customer,
    Entitlement,
    EntitlementQuerySet,
    Event,
    ExpansionRequest,
    Membership,
    Product,
    Seat,
    UsageBucket,
)


def _copy_fields(source: Model, target: Model) -> None:
    """Make the admin's unsaved form instance the row a service created, so the admin's log,
    message and redirect (and the inlines of an add form) refer to it."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and audit rows: look, never touch."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]
    readonly_fields = ["id", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The code identifies the product to integrations; it is chosen once.
        return [*self.readonly_fields, "code"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        product = services.product_create(name=obj.name, code=obj.code)
        _copy_fields(product, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "notify_overdraft", "notify_denials", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


class EntitlementInline(admin.TabularInline):
    model = Entitlement
    extra = 0
    fields = readonly_fields = (
        "product",
        "seats",
        "hard_limit",
        "seats_used",
        "lease_seconds",
        "status",
        "ends_at",
    )
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entitlement]:
        return super().get_queryset(request).select_related("customer", "product")


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name", "account_manager"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("name"):  # errors name the field: {"name": [...]}
            services.check_customer_name(
                data["name"], exclude=self.instance if self.instance.pk else None
            )
        return data


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ["name", "slug", "account_manager", "created_at"]
    list_filter = ["account_manager"]
    list_select_related = ["account_manager"]
    search_fields = ["name", "slug", "account_manager__email"]
    readonly_fields = ["id", "slug", "created_at"]
    autocomplete_fields = ["account_manager"]
    inlines = [MembershipInline, EntitlementInline]

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        customer = services.customer_create(
            name=obj.name,
            account_manager=obj.account_manager,
            actor=services.Actor.from_request(request),
        )
        _copy_fields(customer, obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer", "role", "notify_overdraft", "notify_denials", "created_at"]
    list_filter = ["role", "customer"]
    list_select_related = ["user", "customer"]
    search_fields = ["user__email", "user__name", "customer__name"]
    autocomplete_fields = ["user", "customer"]
    readonly_fields = ["created_at"]


class EntitlementForm(forms.ModelForm):
    class Meta:
        model = Entitlement
        fields = [
            "customer",
            "product",
            "seats",
            "hard_limit",
            "lease_seconds",
            "status",
            "starts_at",
            "ends_at",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        seats, hard_limit = cleaned.get("seats"), cleaned.get("hard_limit")
        if seats is not None and not self.has_error("hard_limit"):
            # The rules entitlement_update enforces (it checks again under the row lock), so
            # they show on the form rather than as an error page.
            try:
                services.check_entitlement_limits(
                    seats,
                    hard_limit,
                    self.instance.seats_used,
                    before=zones.SeatCounts.of(self.instance) if self.instance.pk else None,
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class EntitlementZoneFilter(admin.SimpleListFilter):
    title = "zone"
    parameter_name = "zone"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return zones.Zone.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        zone = self.value()
        if zone is None or zone not in zones.Zone.values:
            return queryset
        # The changelist's queryset comes from Entitlement.objects.
        return cast(EntitlementQuerySet, queryset).in_zone(zone)


@admin.register(Entitlement)
class EntitlementAdmin(admin.ModelAdmin):
    form = EntitlementForm
    list_display = [
        "customer",
        "product",
        "seats",
        "hard_limit_display",
        "seats_used",
        "zone",
        "kind",
        "status",
        "ends_at",
    ]
    list_filter = ["status", EntitlementZoneFilter, "product", "customer"]
    list_select_related = ["customer", "product"]
    search_fields = ["customer__name", "license_key", "product__name"]
    autocomplete_fields = ["customer", "product"]
    readonly_fields = ["id", "license_key", "seats_used", "zone", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "customer", "product"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = ("customer", "product", "seats", "hard_limit", "lease_seconds")
        if obj is None:  # created active; suspend or resume it afterwards
            return (*fields, "starts_at", "ends_at")
        return (
            "id",
            *fields,
            "status",
            "starts_at",
            "ends_at",
            "license_key",
            "seats_used",
            "zone",
            "created_at",
            "updated_at",
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would erase seats, events and usage history; suspend it instead.
        return False

    # Both show seats in use and zones: seats whose lease ran out are released first.
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        services.seats_expire_due()
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        services.seats_expire_due()
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="hard limit", ordering="hard_limit")
    def hard_limit_display(self, obj: Entitlement) -> str:
        return "∞" if obj.hard_limit is None else str(obj.hard_limit)

    @admin.display(description="zone")
    def zone(self, obj: Entitlement) -> str:
        return zones.SeatCounts.of(obj).zone.label

    @admin.display(description="seats are")
    def kind(self, obj: Entitlement) -> str:
        return f"floating ({obj.lease_seconds}s lease)" if obj.is_floating else "named"

    def save_model(self, request: HttpRequest, obj: Entitlement, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            entitlement = services.entitlement_create(
                customer=data["customer"],
                product=data["product"],
                seats=data["seats"],
                hard_limit=data["hard_limit"],
                lease_seconds=data["lease_seconds"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                actor=services.Actor.from_request(request),
            )
            _copy_fields(entitlement, obj)
            return
        current = Entitlement.objects.get(pk=obj.pk)
        try:
            services.entitlement_update(
                entitlement=current,
                seats=data["seats"],
                hard_limit=data["hard_limit"],
                lease_seconds=data["lease_seconds"],
                status=data["status"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                actor=services.Actor.from_request(request),
            )
        except ValidationError as exc:
            # Seats were activated between the form's check and the save.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        _copy_fields(current, obj)


class InUseFilter(admin.SimpleListFilter):
    title = "in use"
    parameter_name = "in_use"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "In use"), ("no", "Released")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(released_at__isnull=False)
        return queryset


@admin.register(Seat)
class SeatAdmin(ReadOnlyAdmin):
    list_display = [
        "fingerprint",
        "label",
        "customer",
        "product",
        "overdraft",
        "activated_at",
        "last_heartbeat_at",
        "lease_expires_at",
        "released_at",
        "release_reason",
    ]
    list_filter = [InUseFilter, "overdraft", "release_reason", "entitlement__customer"]
    list_select_related = ["entitlement__customer", "entitlement__product"]
    search_fields = [
        "fingerprint",
        "label",
        "entitlement__license_key",
        "entitlement__customer__name",
    ]
    actions = ["revoke_seats"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        services.seats_expire_due()  # seats whose lease ran out show as released
        return super().changelist_view(request, extra_context)

    @admin.display(ordering="entitlement__customer__name")
    def customer(self, obj: Seat) -> Customer:
        return obj.entitlement.customer

    @admin.display(ordering="entitlement__product__name")
    def product(self, obj: Seat) -> Product:
        return obj.entitlement.product

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("licensing.change_seat")

    @admin.action(description="Revoke selected seats", permissions=["revoke"])
    def revoke_seats(self, request: HttpRequest, queryset: QuerySet[Seat]) -> None:
        revoked = sum(
            services.seat_revoke(seat=seat, actor=services.Actor.from_request(request))
            for seat in queryset.filter(released_at__isnull=True).select_related("entitlement")
        )
        self.message_user(request, f"Revoked {revoked} seat(s).", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["type", "customer", "entitlement", "occurred_at", "dispatched_at"]
    list_filter = ["type", "customer"]
    list_select_related = ["customer", "entitlement__customer", "entitlement__product"]
    search_fields = ["=public_id", "customer__name", "entitlement__license_key"]
    ordering = ["-seq"]
    fields = readonly_fields = (
        "public_id",
        "type",
        "customer",
        "entitlement",
        "occurred_at",
        "dispatched_at",
        "data_display",
    )

    @admin.display(description="data")
    def data_display(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, sort_keys=True))


@admin.register(ExpansionRequest)
class ExpansionRequestAdmin(ReadOnlyAdmin):
    """Requests for more seats: granted or declined on the account team's pages (or the API),
    which change the terms through the services."""

    list_display = ["entitlement", "seats", "hard_limit", "status", "requested_by", "created_at"]
    list_filter = ["status", "entitlement__customer"]
    list_select_related = ["entitlement__customer", "entitlement__product", "requested_by"]
    search_fields = ["entitlement__customer__name", "requested_by__email"]
    ordering = ["-created_at"]
    fields = readonly_fields = (
        "entitlement",
        "seats",
        "hard_limit",
        "message",
        "status",
        "requested_by",
        "created_at",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    )


@admin.register(UsageBucket)
class UsageBucketAdmin(ReadOnlyAdmin):
    list_display = [
        "entitlement",
        "hour",
        "peak_used",
        "closing_used",
        "activations",
        "overdraft_activations",
        "denials",
        "releases",
    ]
    list_filter = ["entitlement__customer"]
    list_select_related = ["entitlement__customer", "entitlement__product"]
    search_fields = ["entitlement__license_key", "entitlement__customer__name"]
    ordering = ["-hour"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are created by `manage.py create_api_token`, which shows the secret once."""

    list_display = [
        "name",
        "user",
        "prefix",
        "read_only",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["read_only", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__email"]
    fields = readonly_fields = (
        "id",
        "name",
        "user",
        "prefix",
        "read_only",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke_tokens"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("licensing.change_apitoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset:
            if services.api_token_revoke(
                api_token=token, actor=services.Actor.from_request(request)
            ):
                revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
