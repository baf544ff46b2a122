"""Webhook endpoint pages, for the account team (vendor-wide endpoints, at /team/webhooks/)
and for customer admins (their customer's endpoints, at /c/<slug>/webhooks/).

The same views serve both: `slug` in the URL selects the customer, and `_scope` checks access
(staff for the team pages, an admin of that customer, or staff, for a customer's pages).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from licensing.models import Customer
from licensing.services import Actor
from portal.access import customer_for
from portal.webhook_forms import EndpointForm
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

DELIVERIES_PER_PAGE = 50


@dataclasses.dataclass(frozen=True)
class Scope:
    customer: Customer | None

    @property
    def namespace(self) -> str:
        return "team_webhooks" if self.customer is None else "customer_webhooks"

    def url(self, name: str, **kwargs: Any) -> str:
        if self.customer is not None:
            kwargs["slug"] = self.customer.slug
        return reverse(f"{self.namespace}:{name}", kwargs=kwargs)

    @property
    def base(self) -> str:
        return self.url("list")

    @property
    def title(self) -> str:
        if self.customer is None:
            return "Vendor-wide webhooks"
        return f"{self.customer.name}: webhooks"

    def endpoints(self) -> Any:
        qs = WebhookEndpoint.objects.all()
        if self.customer is None:
            return qs.filter(customer__isnull=True)
        return qs.filter(customer=self.customer)


def _scope(request: HttpRequest, slug: str | None) -> Scope:
    if slug is None:
        if not request.user.is_staff:
            raise Http404
        return Scope(customer=None)
    return Scope(customer=customer_for(request, slug, admin=True))


def _endpoint(scope: Scope, endpoint_id: Any) -> WebhookEndpoint:
    return get_object_or_404(scope.endpoints(), pk=endpoint_id)


def _render(request: HttpRequest, template: str, scope: Scope, **context: Any) -> HttpResponse:
    return render(request, f"webhooks/{template}", {"scope": scope, **context})


def _show_secret(
    request: HttpRequest, scope: Scope, endpoint: WebhookEndpoint, secret: str, rotated: bool
) -> HttpResponse:
    response = _render(
        request, "secret.html", scope, endpoint=endpoint, secret=secret, rotated=rotated
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def endpoint_list(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    endpoints = scope.endpoints().annotate(
        failed_count=Count(
            "deliveries", filter=Q(deliveries__status__in=WebhookDelivery.FAILED_STATUSES)
        )
    )
    customer_endpoints = None
    if scope.customer is None:
        customer_endpoints = WebhookEndpoint.objects.filter(customer__isnull=False).select_related(
            "customer"
        )
    return _render(
        request,
        "endpoint_list.html",
        scope,
        endpoints=endpoints,
        customer_endpoints=customer_endpoints,
    )


@login_required
def endpoint_create(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(
                customer=scope.customer, actor=Actor.from_request(request), **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _show_secret(request, scope, endpoint, endpoint.secret, rotated=False)
    return _render(request, "endpoint_form.html", scope, form=form, endpoint=None)


@login_required
def endpoint_detail(
    request: HttpRequest, endpoint_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    deliveries = endpoint.deliveries.order_by("-created_at")
    status = request.GET.get("status", "")
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    failed = endpoint.deliveries.filter(status__in=WebhookDelivery.FAILED_STATUSES).count()
    return _render(
        request,
        "endpoint_detail.html",
        scope,
        endpoint=endpoint,
        page=page,
        status=status,
        statuses=WebhookDelivery.Status.choices,
        failed=failed,
    )


@login_required
def endpoint_edit(request: HttpRequest, endpoint_id: Any, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    initial = {
        "url": endpoint.url,
        "format": endpoint.format,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                endpoint=endpoint, actor=Actor.from_request(request), **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect(scope.url("detail", endpoint_id=endpoint.pk))
    return _render(request, "endpoint_form.html", scope, form=form, endpoint=endpoint)


@login_required
def endpoint_delete(
    request: HttpRequest, endpoint_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    if request.method == "POST":
        services.endpoint_delete(endpoint=endpoint, actor=Actor.from_request(request))
        messages.success(request, f"Endpoint {endpoint.url} deleted.")
        return redirect(scope.base)
    return _render(request, "endpoint_delete.html", scope, endpoint=endpoint)


@login_required
@require_POST
def endpoint_rotate(
    request: HttpRequest, endpoint_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    secret = services.endpoint_rotate_secret(endpoint=endpoint, actor=Actor.from_request(request))
    return _show_secret(request, scope, endpoint, secret, rotated=True)


@login_required
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: Any, slug: str | None = None) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    delivery = services.endpoint_send_test(endpoint=endpoint)
    messages.success(request, "Test event queued; its delivery is listed below.")
    return redirect(scope.url("delivery", endpoint_id=endpoint.pk, delivery_id=delivery.pk))


@login_required
@require_POST
def endpoint_resume(
    request: HttpRequest, endpoint_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    was_paused = endpoint.paused_at is not None
    services.endpoint_resume(endpoint=endpoint, actor=Actor.from_request(request))
    if was_paused:
        messages.success(request, "Endpoint resumed: the waiting deliveries are being sent.")
    else:
        messages.info(request, "The endpoint was not paused.")
    return redirect(scope.url("detail", endpoint_id=endpoint.pk))


@login_required
@require_POST
def endpoint_redeliver_failed(
    request: HttpRequest, endpoint_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    endpoint = _endpoint(scope, endpoint_id)
    count = services.endpoint_redeliver_failed(endpoint=endpoint)
    messages.success(request, f"{count} failed deliver{'y' if count == 1 else 'ies'} queued again.")
    return redirect(scope.url("detail", endpoint_id=endpoint.pk))


def _delivery(scope: Scope, endpoint_id: Any, delivery_id: Any) -> WebhookDelivery:
    endpoint = _endpoint(scope, endpoint_id)
    return get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint", "event"),
        pk=delivery_id,
        endpoint=endpoint,
    )


@login_required
def delivery_detail(
    request: HttpRequest, endpoint_id: Any, delivery_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    delivery = _delivery(scope, endpoint_id, delivery_id)
    return _render(
        request,
        "delivery_detail.html",
        scope,
        endpoint=delivery.endpoint,
        delivery=delivery,
        attempts=delivery.attempt_log.order_by("-started_at"),
    )


@login_required
@require_POST
def delivery_redeliver(
    request: HttpRequest, endpoint_id: Any, delivery_id: Any, slug: str | None = None
) -> HttpResponse:
    scope = _scope(request, slug)
    delivery = _delivery(scope, endpoint_id, delivery_id)
    services.delivery_redeliver(delivery=delivery)
    messages.success(request, "Delivery queued again.")
    return redirect(scope.url("delivery", endpoint_id=endpoint_id, delivery_id=delivery.pk))
