"""Vendor API for the account team: `Authorization: Bearer <token>`.

Thin views: validate with an input serializer, call one service or selector, answer with an
output serializer. Writes go through `licensing.services`, so the rules and messages are the
portal's. Tokens belong to staff, who see every customer; anything that does not exist (or
is not under the entitlement in the path) is a 404. Answers about entitlements first release
the seats whose lease ran out (`services.seats_expire_due`), as the portal's pages do.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from licensing import billing, selectors, services
from licensing.api import inputs
from licensing.api import serializers as s
from licensing.api.schema import RETRY_AFTER, Pagination, responses
from licensing.api.throttling import AuthFailureThrottleMixin, TokenThrottle
from licensing.api.tokens import BearerTokenAuthentication, TokenPermission
from licensing.models import (
    AlertThreshold,
    BillingPeriod,
    Customer,
    Entitlement,
    EntitlementQuerySet,
    ExpansionRequest,
    Product,
    Seat,
    Statement,
    TemporaryRaise,
)


class VendorAPIView(AuthFailureThrottleMixin, generics.GenericAPIView):
    """Bearer-token views: staff tokens, read-only tokens may only read, throttled per token."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [TokenPermission]
    throttle_classes = [TokenThrottle]
    pagination_class = Pagination
    metadata_class = None  # OPTIONS is a 405: the schema describes every operation

    def paginated(self, queryset: QuerySet[Any], serializer: type[Any]) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer(page, many=True).data)


def _entitlements() -> EntitlementQuerySet:
    return Entitlement.objects.select_related("customer", "product")


def _entitlement(entitlement_id: Any) -> Entitlement:
    """The entitlement, its seats whose lease ran out released: every answer about it shows
    its seats in use, its zone, its seats or its usage."""
    entitlement = get_object_or_404(_entitlements(), pk=entitlement_id)
    services.seats_expire_due(entitlements=[entitlement])
    return entitlement


# --- customers ----------------------------------------------------------------------------------


class CustomerCollectionView(VendorAPIView):
    """Customers, by name; create one."""

    @extend_schema(
        operation_id="customers_list",
        tags=["customers"],
        summary="List customers",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.CustomerSerializer(many=True)}, 400),
    )
    def get(self, request: Request) -> Response:
        customers = Customer.objects.select_related("account_manager").order_by("name", "pk")
        return self.paginated(customers, s.CustomerSerializer)

    @extend_schema(
        operation_id="customers_create",
        tags=["customers"],
        summary="Create a customer",
        request=s.CustomerCreateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({201: s.CustomerSerializer}, body=True, write=True),
    )
    def post(self, request: Request) -> Response:
        data = inputs.body(s.CustomerCreateSerializer, request)
        customer = services.customer_create(
            name=data["name"],
            account_manager=data.get("account_manager"),
            actor=services.Actor.from_request(request),
        )
        return Response(s.CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(VendorAPIView):
    """One customer."""

    @extend_schema(
        operation_id="customers_retrieve",
        tags=["customers"],
        summary="Get a customer",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.CustomerSerializer}, 404),
    )
    def get(self, request: Request, customer_id: Any) -> Response:
        customer = get_object_or_404(
            Customer.objects.select_related("account_manager"), pk=customer_id
        )
        return Response(s.CustomerSerializer(customer).data)


# --- products -----------------------------------------------------------------------------------


class ProductCollectionView(VendorAPIView):
    """Products, by name; create one."""

    @extend_schema(
        operation_id="products_list",
        tags=["products"],
        summary="List products",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.ProductSerializer(many=True)}, 400),
    )
    def get(self, request: Request) -> Response:
        return self.paginated(Product.objects.order_by("name", "pk"), s.ProductSerializer)

    @extend_schema(
        operation_id="products_create",
        tags=["products"],
        summary="Create a product",
        request=s.ProductCreateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({201: s.ProductSerializer}, body=True, write=True),
    )
    def post(self, request: Request) -> Response:
        data = inputs.body(s.ProductCreateSerializer, request)
        product = services.product_create(name=data["name"], code=data.get("code", ""))
        return Response(s.ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(VendorAPIView):
    """One product."""

    @extend_schema(
        operation_id="products_retrieve",
        tags=["products"],
        summary="Get a product",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.ProductSerializer}, 404),
    )
    def get(self, request: Request, product_id: Any) -> Response:
        return Response(s.ProductSerializer(get_object_or_404(Product, pk=product_id)).data)


# --- entitlements -------------------------------------------------------------------------------


class EntitlementCollectionView(VendorAPIView):
    """Entitlements, filtered and ordered; create one."""

    @extend_schema(
        operation_id="entitlements_list",
        tags=["entitlements"],
        summary="List entitlements",
        parameters=[s.EntitlementFilterSerializer, RETRY_AFTER],
        responses=responses({200: s.EntitlementSerializer(many=True)}, 400),
    )
    def get(self, request: Request) -> Response:
        params = inputs.query(s.EntitlementFilterSerializer, request)
        services.seats_expire_due()  # before filtering and ordering by zone or seats in use
        entitlements = _entitlements()
        for name in ("customer", "product", "status"):
            if name in params:
                entitlements = entitlements.filter(**{name: params[name]})
        if "zone" in params:
            entitlements = entitlements.in_zone(params["zone"])
        ordering = s.ENTITLEMENT_ORDERINGS[params["ordering"]]
        return self.paginated(entitlements.order_by(*ordering), s.EntitlementSerializer)

    @extend_schema(
        operation_id="entitlements_create",
        tags=["entitlements"],
        summary="Create an entitlement",
        description="`seats` entitled plus an overdraft allowance up to `hard_limit`.",
        request=s.EntitlementCreateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({201: s.EntitlementSerializer}, body=True, write=True),
    )
    def post(self, request: Request) -> Response:
        data = inputs.body(s.EntitlementCreateSerializer, request)
        entitlement = services.entitlement_create(
            customer=data["customer"],
            product=data["product"],
            seats=data["seats"],
            hard_limit=data["hard_limit"],
            lease_seconds=data.get("lease_seconds"),
            starts_at=data.get("starts_at"),
            ends_at=data.get("ends_at"),
            billing_period=data.get("billing_period", BillingPeriod.MONTHLY),
            free_overdraft_seat_hours=data.get("free_overdraft_seat_hours", 0),
            offline_grace_seconds=data.get("offline_grace_seconds"),
            actor=services.Actor.from_request(request),
        )
        entitlement = _entitlement(entitlement.pk)
        return Response(s.EntitlementSerializer(entitlement).data, status=status.HTTP_201_CREATED)


class EntitlementDetailView(VendorAPIView):
    """One entitlement: read it, change its limits, lease or dates."""

    @extend_schema(
        operation_id="entitlements_retrieve",
        tags=["entitlements"],
        summary="Get an entitlement",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.EntitlementSerializer}, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        return Response(s.EntitlementSerializer(_entitlement(entitlement_id)).data)

    @extend_schema(
        operation_id="entitlements_update",
        tags=["entitlements"],
        summary="Change limits, lease or dates",
        description="Limits cannot go below the seats in use (400 with the reason in "
        "`errors`). Raising a limit takes effect at once.",
        request=s.EntitlementUpdateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.EntitlementSerializer}, 404, body=True, write=True),
    )
    def patch(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        data = inputs.body(s.EntitlementUpdateSerializer, request)
        services.entitlement_update(
            entitlement=entitlement, **data, actor=services.Actor.from_request(request)
        )
        return Response(s.EntitlementSerializer(entitlement).data)


class EntitlementSuspendView(VendorAPIView):
    """Suspend: activations are refused until resumed."""

    @extend_schema(
        operation_id="entitlements_suspend",
        tags=["entitlements"],
        summary="Suspend an entitlement",
        description="Activations are refused with 403 `entitlement_suspended`; seats in use "
        "stay held. Suspending a suspended entitlement changes nothing.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.EntitlementSerializer}, 404, write=True),
    )
    def post(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        services.entitlement_suspend(
            entitlement=entitlement, actor=services.Actor.from_request(request)
        )
        return Response(s.EntitlementSerializer(entitlement).data)


class EntitlementRotateKeyView(VendorAPIView):
    """Rotate the license key, the current one working on for a grace period."""

    @extend_schema(
        operation_id="entitlements_rotate_key",
        tags=["entitlements"],
        summary="Rotate an entitlement's license key",
        description="Issues a new `license_key`. The current key keeps working for "
        "`grace_hours` (default 24, at most 168; 0 stops it at once), shown as "
        "`previous_key_valid_until`; a key still in an earlier rotation's grace stops now. "
        "Seats held stay held. Writes `license_key.rotated` (key hints only).",
        request=s.KeyRotationSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.EntitlementSerializer}, 400, 404, write=True),
    )
    def post(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        data = inputs.body(s.KeyRotationSerializer, request)
        services.license_key_rotate(
            entitlement=entitlement,
            grace=timedelta(hours=data.get("grace_hours", 24)),
            actor=services.Actor.from_request(request),
        )
        return Response(s.EntitlementSerializer(entitlement).data)


class AlertThresholdCollectionView(VendorAPIView):
    """An entitlement's alert thresholds, the customer's and the account team's."""

    @extend_schema(
        operation_id="alert_thresholds_list",
        tags=["entitlements"],
        summary="List an entitlement's alert thresholds",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.AlertThresholdSerializer(many=True)}, 400, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        thresholds = AlertThreshold.objects.filter(entitlement=entitlement).order_by(
            "audience", "kind", "percent", "pk"
        )
        return self.paginated(thresholds, s.AlertThresholdSerializer)

    @extend_schema(
        operation_id="alert_thresholds_create",
        tags=["entitlements"],
        summary="Add an alert threshold",
        description="It fires once when use reaches it going up, again only after use fell "
        "back below it by 5% of its level (at least one seat), at most once a day: an "
        "`entitlement.threshold_crossed` event and an email to its subscribers.",
        request=s.AlertThresholdCreateSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({201: s.AlertThresholdSerializer}, 404, write=True, body=True),
    )
    def post(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        data = inputs.body(s.AlertThresholdCreateSerializer, request)
        threshold = services.threshold_add(
            entitlement=entitlement,
            audience=data["audience"],
            kind=data["kind"],
            percent=data.get("percent"),
            actor=services.Actor.from_request(request),
        )
        return Response(s.AlertThresholdSerializer(threshold).data, status=status.HTTP_201_CREATED)


class AlertThresholdDetailView(VendorAPIView):
    """DELETE removes a threshold."""

    @extend_schema(
        operation_id="alert_thresholds_destroy",
        tags=["entitlements"],
        summary="Remove an alert threshold",
        parameters=[RETRY_AFTER],
        responses=responses({204: OpenApiResponse(description="Removed.")}, 404, write=True),
    )
    def delete(self, request: Request, entitlement_id: Any, threshold_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        threshold = get_object_or_404(
            AlertThreshold, pk=threshold_id, entitlement_id=entitlement.pk
        )
        threshold.entitlement = entitlement
        services.threshold_remove(threshold=threshold, actor=services.Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EntitlementResumeView(VendorAPIView):
    """Resume a suspended entitlement."""

    @extend_schema(
        operation_id="entitlements_resume",
        tags=["entitlements"],
        summary="Resume a suspended entitlement",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.EntitlementSerializer}, 404, write=True),
    )
    def post(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        services.entitlement_resume(
            entitlement=entitlement, actor=services.Actor.from_request(request)
        )
        return Response(s.EntitlementSerializer(entitlement).data)


# --- seats and usage ----------------------------------------------------------------------------


def _seat(entitlement_id: Any, seat_id: Any) -> Seat:
    entitlement = _entitlement(entitlement_id)
    seat = get_object_or_404(Seat, pk=seat_id, entitlement_id=entitlement.pk)
    seat.entitlement = entitlement
    return seat


class SeatCollectionView(VendorAPIView):
    """An entitlement's seats in use (or released)."""

    @extend_schema(
        operation_id="seats_list",
        tags=["seats"],
        summary="List an entitlement's seats",
        description="Seats held now (default) or released ones (`in_use=false`), newest first.",
        parameters=[s.SeatFilterSerializer, RETRY_AFTER],
        responses=responses({200: s.SeatSerializer(many=True)}, 400, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        params = inputs.query(s.SeatFilterSerializer, request)
        if params["in_use"]:
            seats = selectors.seats_in_use(entitlement)
        else:
            seats = Seat.objects.filter(
                entitlement_id=entitlement.pk, released_at__isnull=False
            ).order_by("-released_at", "pk")
        return self.paginated(seats, s.SeatSerializer)


class SeatDetailView(VendorAPIView):
    """One seat of an entitlement; DELETE revokes it."""

    @extend_schema(
        operation_id="seats_retrieve",
        tags=["seats"],
        summary="Get a seat",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.SeatSerializer}, 404),
    )
    def get(self, request: Request, entitlement_id: Any, seat_id: Any) -> Response:
        return Response(s.SeatSerializer(_seat(entitlement_id, seat_id)).data)

    @extend_schema(
        operation_id="seats_destroy",
        tags=["seats"],
        summary="Revoke a seat",
        description="Same as `POST .../revoke`, answering 204. Idempotent.",
        parameters=[RETRY_AFTER],
        responses=responses({204: OpenApiResponse(description="Revoked.")}, 404, write=True),
    )
    def delete(self, request: Request, entitlement_id: Any, seat_id: Any) -> Response:
        seat = _seat(entitlement_id, seat_id)
        services.seat_revoke(seat=seat, actor=services.Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SeatRevokeView(VendorAPIView):
    """Revoke a seat of an entitlement."""

    @extend_schema(
        operation_id="seats_revoke",
        tags=["seats"],
        summary="Revoke a seat",
        description="Frees the seat at once; the client's next heartbeat gets 410 "
        "`seat_not_held`. Revoking a released seat changes nothing.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.SeatSerializer}, 404, write=True),
    )
    def post(self, request: Request, entitlement_id: Any, seat_id: Any) -> Response:
        seat = _seat(entitlement_id, seat_id)
        services.seat_revoke(seat=seat, actor=services.Actor.from_request(request))
        return Response(s.SeatSerializer(seat).data)


class UsageView(VendorAPIView):
    """Seat use over time, the numbers of the portal chart."""

    @extend_schema(
        operation_id="usage_retrieve",
        tags=["usage"],
        summary="Seat use over time",
        description="The numbers of the portal's chart (same selector): hourly or daily (UTC) "
        "buckets from `start` to `end`, hours without changes carrying the level forward. "
        "Each hour is judged by the terms in force then (a bucket's `entitled` and `hard_limit` "
        "are those of its busiest hour); buckets after the current one are not returned, and "
        "the one that holds the current hour is `partial`. `forecast` projects, from the "
        "daily peaks of the last 8 weeks whatever the range, when use reaches the entitled "
        "seats and the limit in force now, with a range, or that it does not within 90 days.",
        parameters=[s.UsageQuerySerializer, RETRY_AFTER],
        responses=responses({200: s.UsageSeriesSerializer}, 400, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        params = inputs.query(s.UsageQuerySerializer, request)
        usage = selectors.usage_history(
            entitlement, start=params["start"], end=params["end"], bucket=params["bucket"]
        )
        body = {
            "entitlement": entitlement.pk,
            "bucket": params["bucket"],
            "start": params["start"],
            "end": params["end"],
            "as_of": usage.as_of,
            "seats": entitlement.seats,
            "hard_limit": entitlement.hard_limit,
            "terms": [dataclasses.asdict(terms) for terms in usage.terms_in_range()],
            "capacity": usage.capacity.as_dict(),
            "forecast": selectors.usage_forecast(
                entitlement, now=usage.as_of, terms=usage.terms
            ).as_dict(),
            "points": [point.as_dict() for point in usage.points],
        }
        return Response(s.UsageSeriesSerializer(body).data)


# --- statements of billing periods -------------------------------------------------------------


class StatementCollectionView(VendorAPIView):
    """An entitlement's issued statements, newest period first."""

    @extend_schema(
        operation_id="statements_list",
        tags=["statements"],
        summary="List an entitlement's statements",
        description="The signed statement of each closed billing period, newest first. "
        "`document` is the signed JSON as issued (`payload` and `signature`): check it offline "
        'against `/.well-known/jwks.json` (docs/api.md, "Statements").',
        parameters=[RETRY_AFTER],
        responses=responses({200: s.StatementSerializer(many=True)}, 400, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = get_object_or_404(Entitlement, pk=entitlement_id)
        return self.paginated(selectors.entitlement_statements(entitlement), s.StatementSerializer)


class StatementDetailView(VendorAPIView):
    """One issued statement."""

    @extend_schema(
        operation_id="statements_retrieve",
        tags=["statements"],
        summary="Get a statement",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.StatementSerializer}, 404),
    )
    def get(self, request: Request, statement_id: Any) -> Response:
        return Response(s.StatementSerializer(get_object_or_404(Statement, pk=statement_id)).data)


class StatementProvisionalView(VendorAPIView):
    """The statement of the period so far, signed, not stored."""

    @extend_schema(
        operation_id="statements_provisional",
        tags=["statements"],
        summary="The provisional statement of the current period",
        description="The figures of the billing period so far, built now and signed like an "
        "issued statement, with `payload.provisional` true and `payload.as_of` the moment. "
        "Not stored: the statement issued when the period closes is the one that counts. "
        "404 before the entitlement starts and after its last period.",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.SignedStatementSerializer}, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = get_object_or_404(_entitlements(), pk=entitlement_id)
        if billing.open_period(entitlement, timezone.now()) is None:
            raise Http404
        return Response(json.loads(services.statement_provisional(entitlement)))


# --- requests for more seats --------------------------------------------------------------------


def _expansion(request_id: Any) -> ExpansionRequest:
    return get_object_or_404(selectors.expansion_requests(), pk=request_id)


class ExpansionRequestCollectionView(VendorAPIView):
    """Customers' requests for more seats, newest first."""

    @extend_schema(
        operation_id="expansion_requests_list",
        tags=["expansion requests"],
        summary="List requests for more seats",
        description="Requests customer admins made in the portal, newest first; "
        "`status=open` for those waiting for an answer.",
        parameters=[s.ExpansionRequestFilterSerializer, RETRY_AFTER],
        responses=responses({200: s.ExpansionRequestSerializer(many=True)}, 400),
    )
    def get(self, request: Request) -> Response:
        params = inputs.query(s.ExpansionRequestFilterSerializer, request)
        requests = selectors.expansion_requests(status=params.get("status", ""))
        return self.paginated(requests, s.ExpansionRequestSerializer)


class ExpansionRequestDetailView(VendorAPIView):
    """One request for more seats."""

    @extend_schema(
        operation_id="expansion_requests_retrieve",
        tags=["expansion requests"],
        summary="Get a request for more seats",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.ExpansionRequestSerializer}, 404),
    )
    def get(self, request: Request, request_id: Any) -> Response:
        return Response(s.ExpansionRequestSerializer(_expansion(request_id)).data)


class ExpansionRequestGrantView(VendorAPIView):
    """Grant a request: the entitlement gets the seats and hard limit asked for."""

    @extend_schema(
        operation_id="expansion_requests_grant",
        tags=["expansion requests"],
        summary="Grant a request for more seats",
        description="Gives the entitlement the `seats` and `hard_limit` asked for (in force at "
        "once) and marks the request `granted`; the customer's admins are emailed, with the "
        "optional `note`. A request that is no longer open, or an entitlement that has as "
        "many seats already, is a 400.",
        request=s.ExpansionNoteSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.ExpansionRequestSerializer}, 404, body=True, write=True),
    )
    def post(self, request: Request, request_id: Any) -> Response:
        expansion = _expansion(request_id)
        data = inputs.body(s.ExpansionNoteSerializer, request)
        services.expansion_grant(
            request=expansion,
            note=data.get("note", ""),
            actor=services.Actor.from_request(request),
        )
        return Response(s.ExpansionRequestSerializer(_expansion(request_id)).data)


class ExpansionRequestDeclineView(VendorAPIView):
    """Decline a request: the terms stay."""

    @extend_schema(
        operation_id="expansion_requests_decline",
        tags=["expansion requests"],
        summary="Decline a request for more seats",
        description="Marks the request `declined`; the customer's admins are emailed, with the "
        "optional `note`. A request that is no longer open is a 400.",
        request=s.ExpansionNoteSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.ExpansionRequestSerializer}, 404, body=True, write=True),
    )
    def post(self, request: Request, request_id: Any) -> Response:
        expansion = _expansion(request_id)
        data = inputs.body(s.ExpansionNoteSerializer, request)
        services.expansion_decline(
            request=expansion,
            note=data.get("note", ""),
            actor=services.Actor.from_request(request),
        )
        return Response(s.ExpansionRequestSerializer(_expansion(request_id)).data)


# --- temporary raises ---------------------------------------------------------------------------


def _raise(raise_id: Any) -> TemporaryRaise:
    return get_object_or_404(TemporaryRaise.objects.select_related("granted_by"), pk=raise_id)


class RaiseCollectionView(VendorAPIView):
    """An entitlement's temporary raises, newest first; grant one."""

    @extend_schema(
        operation_id="raises_list",
        tags=["raises"],
        summary="List an entitlement's temporary raises",
        description="Scheduled, running, ended and cancelled raises, newest first.",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.RaiseSerializer(many=True)}, 400, 404),
    )
    def get(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        raises = TemporaryRaise.objects.filter(entitlement_id=entitlement.pk).select_related(
            "granted_by"
        )
        return self.paginated(raises.order_by("-created_at", "-pk"), s.RaiseSerializer)

    @extend_schema(
        operation_id="raises_grant",
        tags=["raises"],
        summary="Grant a temporary raise",
        description="Adds `extra_seats` and `extra_hard_limit` to the entitlement's lines from "
        "`starts_at` (default: now, in force at once) until `ends_at`, at most 366 days; a "
        "periodic job starts and ends it (`entitlement.raise_started`, "
        "`entitlement.raise_ended`). Ending never revokes a seat. A raise that adds nothing, "
        "ends in the past, leaves the hard limit below the seats, or overlaps a scheduled or "
        "running raise of the entitlement is a 400.",
        request=s.RaiseGrantSerializer,
        parameters=[RETRY_AFTER],
        responses=responses({201: s.RaiseSerializer}, 404, body=True, write=True),
    )
    def post(self, request: Request, entitlement_id: Any) -> Response:
        entitlement = _entitlement(entitlement_id)
        data = inputs.body(s.RaiseGrantSerializer, request)
        raise_ = services.raise_grant(
            entitlement=entitlement,
            extra_seats=data["extra_seats"],
            extra_hard_limit=data["extra_hard_limit"],
            starts_at=data.get("starts_at"),
            ends_at=data["ends_at"],
            reason=data.get("reason", ""),
            actor=services.Actor.from_request(request),
        )
        return Response(s.RaiseSerializer(raise_).data, status=status.HTTP_201_CREATED)


class RaiseDetailView(VendorAPIView):
    """One temporary raise."""

    @extend_schema(
        operation_id="raises_retrieve",
        tags=["raises"],
        summary="Get a temporary raise",
        parameters=[RETRY_AFTER],
        responses=responses({200: s.RaiseSerializer}, 404),
    )
    def get(self, request: Request, raise_id: Any) -> Response:
        return Response(s.RaiseSerializer(_raise(raise_id)).data)


class RaiseEndView(VendorAPIView):
    """End a raise now, or cancel a scheduled one."""

    @extend_schema(
        operation_id="raises_end",
        tags=["raises"],
        summary="End a temporary raise now",
        description="A running raise ends at once (`ended`): its extras come off the lines and "
        "seats in use above them stay until released. A scheduled one is `cancelled` and "
        "never starts. A raise that is over already is a 400.",
        request=None,
        parameters=[RETRY_AFTER],
        responses=responses({200: s.RaiseSerializer}, 400, 404, write=True),
    )
    def post(self, request: Request, raise_id: Any) -> Response:
        raise_ = _raise(raise_id)
        services.raise_end(raise_=raise_, actor=services.Actor.from_request(request))
        return Response(s.RaiseSerializer(raise_).data)
