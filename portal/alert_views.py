"""Threshold alerts on an entitlement, for the customer's members (their set) and for the
account team (its own set): list, add, remove, subscribe. One set of views; the customer and
team URLs give the audience and the access rule."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from licensing import alerts, services
from licensing.models import AlertSubscription, AlertThreshold, Entitlement
from licensing.zones import SeatCounts
from portal.forms import AlertSubscriptionForm, AlertThresholdForm

CUSTOMER = AlertThreshold.Audience.CUSTOMER
VENDOR = AlertThreshold.Audience.VENDOR


def panel(
    request: HttpRequest, entitlement: Entitlement, audience: str, *, can_edit: bool
) -> dict[str, Any]:
    """What the alerts section of a page shows: the thresholds with their level now, whether
    this user is subscribed, the forms, and where they post."""
    counts = SeatCounts.of(entitlement)
    routes = urls(entitlement, audience)
    thresholds = [
        {
            "threshold": threshold,
            "name": alerts.describe(threshold.kind, threshold.percent),
            "level": alerts.level_of(threshold.kind, threshold.percent, counts),
            "remove_url": f"{routes['add']}{threshold.pk}/remove",
        }
        for threshold in AlertThreshold.objects.filter(
            entitlement=entitlement, audience=audience
        ).order_by("kind", "percent")
    ]
    subscribed = (
        request.user.pk is not None
        and AlertSubscription.objects.filter(
            user_id=request.user.pk, entitlement=entitlement, audience=audience
        ).exists()
    )
    return {
        "audience": audience,
        "thresholds": thresholds,
        "can_edit": can_edit,
        "subscribed": subscribed,
        "threshold_form": AlertThresholdForm(initial={"kind": "percent", "percent": 80}),
        "subscription_form": AlertSubscriptionForm(initial={"subscribed": subscribed}),
        "urls": routes,
    }


def urls(entitlement: Entitlement, audience: str) -> dict[str, str]:
    if audience == VENDOR:
        args: list[Any] = [entitlement.pk]
        prefix = "team:alert_"
    else:
        args = [entitlement.customer.slug, entitlement.pk]
        prefix = "customer:alert_"
    return {
        "add": reverse(prefix + "add", args=args),
        "subscribe": reverse(prefix + "subscribe", args=args),
        "back": _back(entitlement, audience),
    }


def _back(entitlement: Entitlement, audience: str) -> str:
    if audience == VENDOR:
        return reverse("team:entitlement_edit", args=[entitlement.pk]) + "#alerts"
    return (
        reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])
        + "#alerts"
    )


def add(request: HttpRequest, entitlement: Entitlement, audience: str) -> HttpResponse:
    form = AlertThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form.errors.values()))
        return redirect(_back(entitlement, audience))
    kind, percent = form.cleaned_data["kind"], form.cleaned_data["percent"]
    try:
        threshold = services.threshold_add(
            entitlement=entitlement,
            audience=audience,
            kind=kind,
            percent=percent,
            actor=services.Actor.from_request(request),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc.message_dict.values()))
        return redirect(_back(entitlement, audience))
    messages.success(request, f"Alert added: {alerts.describe(threshold.kind, threshold.percent)}.")
    return redirect(_back(entitlement, audience))


def remove(
    request: HttpRequest, entitlement: Entitlement, audience: str, threshold_id: Any
) -> HttpResponse:
    threshold = AlertThreshold.objects.filter(
        pk=threshold_id, entitlement=entitlement, audience=audience
    ).first()
    if threshold is None:
        raise Http404
    services.threshold_remove(threshold=threshold, actor=services.Actor.from_request(request))
    messages.success(
        request, f"Alert removed: {alerts.describe(threshold.kind, threshold.percent)}."
    )
    return redirect(_back(entitlement, audience))


def subscribe(request: HttpRequest, entitlement: Entitlement, audience: str) -> HttpResponse:
    form = AlertSubscriptionForm(request.POST)
    on = form.is_valid() and form.cleaned_data["subscribed"]
    services.alert_subscribe(user=request.user, entitlement=entitlement, audience=audience, on=on)
    messages.success(
        request,
        "You will be emailed when a threshold is crossed."
        if on
        else "You will not be emailed about these thresholds.",
    )
    return redirect(_back(entitlement, audience))


def _errors(groups: Any) -> str:
    return " ".join(str(message) for group in groups for message in group)
