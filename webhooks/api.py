"""Vendor API for webhook endpoints and their deliveries (`/api/v1/webhook-endpoints`, ...).

The same Bearer tokens, throttles, pagination and error shape as the rest of the vendor API
(`licensing.api.vendor`), and the same writes as the pages: `webhooks.services`, whose
validation (the URL's address policy included) answers a 400 here. Tokens belong to the
account team, who see vendor-wide endpoints and every customer's. Responses carrying a
signing secret are the only place it ever appears, and are marked `no-store`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from licensing.api import inputs
from licensing.api.schema import RETRY_AFTER, responses
from licensing.api.serializers import BodySerializer, CustomerRefSerializer, TextField
from licensing.api.vendor import VendorAPIView
from licensing.models import Customer, Event
from licensing.services import Actor
from webhooks import services
from webhooks.delivery import TEST_EVENT_TYPE
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

# --- serializers --------------------------------------------------------------------------------


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: not "yes", 1 or "on"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class EventTypesField(serializers.ListField):
    """A list of event types whose errors are plain messages, as the error shape has them."""

    child = serializers.ChoiceField(choices=Event.Type.choices)

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        try:
            return list(super().run_child_validation(data))
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            messages = [f"Item {i}: {text}" for i, texts in detail.items() for text in texts]
            raise serializers.ValidationError(messages) from None


_FORMAT_HELP = (
    "The message body: `standard` (Standard Webhooks JSON, signed), `slack` (a Slack incoming "
    "webhook's `text` and `blocks`) or `teams` (a Microsoft Teams message with an Adaptive "
    "Card). Slack and Teams messages are not signed."
)


def _format_field(**kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=WebhookEndpoint.Format.choices, help_text=_FORMAT_HELP, **kwargs
    )


class WebhookEndpointSerializer(serializers.ModelSerializer):
    customer = CustomerRefSerializer(
        allow_null=True, help_text="Null: a vendor-wide endpoint that gets every customer's events."
    )
    event_types = EventTypesField(
        help_text="Event types sent; empty: all of them.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "customer",
            "url",
            "format",
            "description",
            "event_types",
            "enabled",
            "disabled_at",
            "disabled_reason",
            "failing_since",
            "consecutive_failures",
            "last_success_at",
            "paused_at",
            "next_probe_at",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "format": {"help_text": _FORMAT_HELP},
            "previous_secret_expires_at": {
                "help_text": "After a rotation the previous secret signs too, until this time."
            },
            "failing_since": {"help_text": "First failed attempt since the last success."},
            "paused_at": {
                "help_text": "Paused after failing for an hour: only a probe delivery is tried "
                "(at `next_probe_at`, every 5 minutes); its success, or `POST …/resume`, "
                "resumes the endpoint. Null: not paused."
            },
        }


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (Standard Webhooks, `whsec_...`). Shown only in this "
        "answer: store it now. Slack and Teams messages are not signed: it signs only while "
        "the endpoint's format is `standard`."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


# A request body refusing unknown fields; the schema says so (`ClosedBodyScheme`). No
# docstring: the schema would show it as every body's description.
class _ClosedBody(BodySerializer):
    pass


class WebhookEndpointCreateSerializer(_ClosedBody):
    url = TextField(
        max_length=2000,
        help_text="An http(s) URL reachable from the internet; loopback, private, link-local "
        "and metadata addresses are refused.",
    )
    customer = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Only this customer's events; omit or null for a vendor-wide endpoint.",
    )
    format = _format_field(required=False, default=WebhookEndpoint.Format.STANDARD)
    description = TextField(max_length=200, required=False, allow_blank=True)
    event_types = EventTypesField(
        required=False,
        help_text="Event types to send; empty or omitted: all of them.",
    )
    enabled = StrictBooleanField(required=False, default=True)

    def validate_customer(self, value: Any) -> Customer | None:
        if value is None:
            return None
        customer = Customer.objects.filter(pk=value).first()
        if customer is None:
            raise serializers.ValidationError("No customer has this id.")
        return customer


class WebhookEndpointUpdateSerializer(_ClosedBody):
    url = TextField(max_length=2000, required=False)
    format = _format_field(required=False)
    description = TextField(max_length=200, required=False, allow_blank=True)
    event_types = EventTypesField(
        required=False,
        help_text="Event types to send; empty: all of them.",
    )
    enabled = StrictBooleanField(
        required=False, help_text="Enabling a disabled endpoint clears its failure record."
    )


class WebhookEndpointFilterSerializer(serializers.Serializer):
    customer = serializers.UUIDField(required=False, help_text="Only this customer's endpoints.")


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "started_at",
            "status_code",
            "succeeded",
            "error",
            "duration_ms",
            "response_excerpt",
        ]
        extra_kwargs = {
            "status_code": {"help_text": "The receiver's HTTP status; null when none came."},
            "error": {"help_text": "Why the attempt failed before or despite an answer."},
            "response_excerpt": {"help_text": "The start of the receiver's answer (1 KiB)."},
        }


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.UUIDField(source="endpoint_id")
    event = serializers.UUIDField(
        source="event.public_id",
        allow_null=True,
        help_text="The event delivered (see /events); null for a test ping.",
    )
    message_id = serializers.UUIDField(help_text="The `webhook-id` header receivers dedupe on.")
    attempt_count = serializers.IntegerField(
        source="attempts", help_text="Attempts in the current round (a redelivery resets it)."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_type",
            "message_id",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "created_at",
        ]


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempts = DeliveryAttemptSerializer(
        source="attempt_log", many=True, help_text="Every HTTP attempt, newest first."
    )

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "attempts"]


class WebhookDeliveryFilterSerializer(serializers.Serializer):
    endpoint = serializers.UUIDField(required=False, help_text="Only this endpoint's.")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    event = serializers.UUIDField(required=False, help_text="Only deliveries of this event id.")
    event_type = serializers.ChoiceField(
        choices=[*services.EVENT_TYPES, TEST_EVENT_TYPE],
        required=False,
        help_text=f"Only this event type (`{TEST_EVENT_TYPE}` for test pings).",
    )


class ClosedBodyScheme(OpenApiSerializerExtension):
    """`additionalProperties: false` on these bodies, as the licensing bodies have."""

    target_class = _ClosedBody
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


# --- endpoints ----------------------------------------------------------------------------------


def _endpoints() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.select_related("customer")


def _endpoint(endpoint_id: Any) -> WebhookEndpoint:
    return get_object_or_404(_endpoints(), pk=endpoint_id)


def _with_secret(endpoint: WebhookEndpoint, code: int) -> Response:
    body = WebhookEndpointSecretSerializer(endpoint).data
    return Response(body, status=code, headers={"Cache-Control": "no-store"})


_SECRET_ONCE = "The answer carries the signing `secret`; it is never shown again."


class WebhookEndpointCollectionView(VendorAPIView):
    """Webhook endpoints, vendor-wide and customers', oldest first; create one."""

    @extend_schema(
        operation_id="webhook_endpoints_list",
        tags=["webhooks"],
        summary="List webhook endpoints",
        description="Vendor-wide endpoints and every customer's, oldest first.",
        parameters=[WebhookEndpointFilterSerializer, RETRY_AFTER],
        responses=responses({200: WebhookEndpointSerializer(many=True)}, 400),
    )
    def get(self, request: Request) -> Response:
        params = inputs.query(WebhookEndpointFilterSerializer, request)
        endpoints = _endpoints().order_by("created_at", "pk")
        if "customer" in params:
            endpoints = endpoints.filter(customer_id=params["customer"])
        return self.paginated(endpoints, WebhookEndpointSerializer)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        tags=["webhooks"],
        summary="Create a webhook endpoint",
        description=f"{_SECRET_ONCE} A URL reaching a loopback, private, link-local or "
        "metadata address is a 400 (`errors.url`).",
        request=WebhookEndpointCreateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({201: WebhookEndpointSecretSerializer}, body=True, write=True),
    )
    def post(self, request: Request) -> Response:
        data = inputs.body(WebhookEndpointCreateSerializer, request)
        endpoint = services.endpoint_create(
            customer=data.get("customer"),
            url=data["url"],
            format=data["format"],
            description=data.get("description", ""),
            event_types=data.get("event_types", []),
            enabled=data["enabled"],
            actor=Actor.from_request(request),
        )
        return _with_secret(endpoint, status.HTTP_201_CREATED)


class WebhookEndpointDetailView(VendorAPIView):
    """One endpoint: read, change, delete."""

    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        tags=["webhooks"],
        summary="Get a webhook endpoint",
        parameters=[RETRY_AFTER],
        responses=responses({200: WebhookEndpointSerializer}, 404),
    )
    def get(self, request: Request, endpoint_id: Any) -> Response:
        return Response(WebhookEndpointSerializer(_endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        tags=["webhooks"],
        summary="Change a webhook endpoint",
        description="Fields left out keep their values. The URL is checked as on create.",
        request=WebhookEndpointUpdateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({200: WebhookEndpointSerializer}, 404, body=True, write=True),
    )
    def patch(self, request: Request, endpoint_id: Any) -> Response:
        endpoint = _endpoint(endpoint_id)
        data = inputs.body(WebhookEndpointUpdateSerializer, request)
        services.endpoint_update(
            endpoint=endpoint,
            url=data.get("url", endpoint.url),
            format=data.get("format", endpoint.format),
            description=data.get("description", endpoint.description),
            event_types=data.get("event_types", endpoint.event_types),
            enabled=data.get("enabled", endpoint.enabled),
            actor=Actor.from_request(request),
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        tags=["webhooks"],
        summary="Delete a webhook endpoint",
        description="Its deliveries go with it.",
        parameters=[RETRY_AFTER],
        responses=responses({204: OpenApiResponse(description="Deleted.")}, 404, write=True),
    )
    def delete(self, request: Request, endpoint_id: Any) -> Response:
        services.endpoint_delete(endpoint=_endpoint(endpoint_id), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointTestView(VendorAPIView):
    """Send a test ping."""

    @extend_schema(
        operation_id="webhook_endpoints_test",
        tags=["webhooks"],
        summary="Send a test ping",
        description=f"Queues a `{TEST_EVENT_TYPE}` message (even to a disabled endpoint) and "
        "answers with its delivery: follow it at `/webhook-deliveries/{id}`.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({202: WebhookDeliverySerializer}, 404, write=True),
    )
    def post(self, request: Request, endpoint_id: Any) -> Response:
        delivery = services.endpoint_send_test(endpoint=_endpoint(endpoint_id))
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookEndpointRotateSecretView(VendorAPIView):
    """Give an endpoint a new signing secret."""

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        tags=["webhooks"],
        summary="Rotate the signing secret",
        description=f"{_SECRET_ONCE} Until `previous_secret_expires_at` (24 hours) messages "
        "carry signatures with both secrets, so receivers can switch over.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({200: WebhookEndpointSecretSerializer}, 404, write=True),
    )
    def post(self, request: Request, endpoint_id: Any) -> Response:
        endpoint = _endpoint(endpoint_id)
        services.endpoint_rotate_secret(endpoint=endpoint, actor=Actor.from_request(request))
        return _with_secret(endpoint, status.HTTP_200_OK)


class WebhookEndpointResumeView(VendorAPIView):
    """Resume a paused endpoint."""

    @extend_schema(
        operation_id="webhook_endpoints_resume",
        tags=["webhooks"],
        summary="Resume a paused endpoint",
        description="Clears the pause and the failure count; the deliveries waiting for it are "
        "due at once. Resuming an endpoint that is not paused changes nothing.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({200: WebhookEndpointSerializer}, 404, write=True),
    )
    def post(self, request: Request, endpoint_id: Any) -> Response:
        endpoint = services.endpoint_resume(
            endpoint=_endpoint(endpoint_id), actor=Actor.from_request(request)
        )
        return Response(WebhookEndpointSerializer(endpoint).data)


# --- deliveries ---------------------------------------------------------------------------------


def _deliveries() -> QuerySet[WebhookDelivery]:
    # Only the event's public id is shown: its data stays in the database.
    return WebhookDelivery.objects.select_related("event").defer("event__data")


def _delivery(delivery_id: Any) -> WebhookDelivery:
    attempts = DeliveryAttempt.objects.order_by("-started_at", "-pk")
    deliveries = _deliveries().prefetch_related(Prefetch("attempt_log", queryset=attempts))
    return get_object_or_404(deliveries, pk=delivery_id)


class WebhookDeliveryCollectionView(VendorAPIView):
    """Deliveries of every endpoint, newest first."""

    @extend_schema(
        operation_id="webhook_deliveries_list",
        tags=["webhooks"],
        summary="List webhook deliveries",
        description="Newest first. A delivery is one event (or test ping) on its way to one "
        "endpoint; its attempts are in the detail.",
        parameters=[WebhookDeliveryFilterSerializer, RETRY_AFTER],
        responses=responses({200: WebhookDeliverySerializer(many=True)}, 400),
    )
    def get(self, request: Request) -> Response:
        params = inputs.query(WebhookDeliveryFilterSerializer, request)
        deliveries = _deliveries().order_by("-created_at", "-pk")
        if "endpoint" in params:
            deliveries = deliveries.filter(endpoint_id=params["endpoint"])
        if "status" in params:
            deliveries = deliveries.filter(status=params["status"])
        if "event" in params:
            deliveries = deliveries.filter(event__public_id=params["event"])
        if "event_type" in params:
            deliveries = deliveries.filter(event_type=params["event_type"])
        return self.paginated(deliveries, WebhookDeliverySerializer)


class WebhookDeliveryDetailView(VendorAPIView):
    """One delivery with its attempts."""

    @extend_schema(
        operation_id="webhook_deliveries_retrieve",
        tags=["webhooks"],
        summary="Get a webhook delivery and its attempts",
        parameters=[RETRY_AFTER],
        responses=responses({200: WebhookDeliveryDetailSerializer}, 404),
    )
    def get(self, request: Request, delivery_id: Any) -> Response:
        return Response(WebhookDeliveryDetailSerializer(_delivery(delivery_id)).data)


class WebhookDeliveryRedeliverView(VendorAPIView):
    """Send a delivery again."""

    @extend_schema(
        operation_id="webhook_deliveries_redeliver",
        tags=["webhooks"],
        summary="Redeliver",
        description="Sends the delivery again, whatever its status, with a fresh round of "
        "retries; the same `message_id`, so receivers can dedupe.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({202: WebhookDeliverySerializer}, 404, write=True),
    )
    def post(self, request: Request, delivery_id: Any) -> Response:
        delivery = get_object_or_404(_deliveries(), pk=delivery_id)
        services.delivery_redeliver(delivery=delivery)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
