from django.contrib import admin

from webhooks.models import DeliveryAttempt, EmailNotice, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "format", "customer", "enabled", "consecutive_failures", "failing_since"]
    list_filter = ["enabled", "format"]
    search_fields = ["url", "description", "customer__name"]
    exclude = ["secret", "previous_secret"]
    readonly_fields = ["failing_since", "consecutive_failures", "disabled_at", "disabled_reason"]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "started_at",
        "status_code",
        "succeeded",
        "duration_ms",
        "error",
        "response_excerpt",
    ]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    raw_id_fields = ["endpoint", "event"]
    inlines = [DeliveryAttemptInline]


@admin.register(EmailNotice)
class EmailNoticeAdmin(admin.ModelAdmin):
    list_display = ["kind", "subject", "denial_count", "sent_at"]
    list_filter = ["kind"]
    raw_id_fields = ["event", "entitlement", "endpoint"]
