"""Pages for everyone and for customer members; the account team's pages live elsewhere.

Every customer page resolves its objects through `portal.access`, so outsiders get 404.
Pages that show seats in use or zones first release the seats whose lease ran out
(`services.seats_expire_due`: one query when none is due), so no count includes them.
"""

import csv
import dataclasses
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from licensing import keys, selectors, services, signing, zones
from licensing.models import Customer, Entitlement, Membership, Seat
from portal import access, alert_views, statement_views, unavailable
from portal.forms import (
    CustomerCapForm,
    ExpansionRequestForm,
    KeyRotationForm,
    NotificationPreferencesForm,
)

SEATS_PER_PAGE = 25

# The colour of each zone on the pages (static/css); its words are the zone's label.
ZONE_CLASSES = {
    zones.Zone.WITHIN: "zone-within",
    zones.Zone.OVERDRAFT: "zone-overdraft",
    zones.Zone.AT_HARD_LIMIT: "zone-limit",
}


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# --- the portal's public keys ---------------------------------------------------------------


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """`/.well-known/jwks.json`: the public keys that check the portal's signatures (signed
    statements; licensing.signing), current first, retired ones kept. Public, cacheable."""
    signing.current_key()  # so there is always one to publish
    response = JsonResponse(signing.jwks())
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- home -------------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """Landing page for visitors; members go straight to their customer, staff to the team."""
    if not request.user.is_authenticated:
        return render(request, "portal/home.html")
    if request.user.is_staff:
        return redirect("/team/")
    memberships = access.visible_memberships(request)
    if len(memberships) == 1:
        return redirect("customer:dashboard", slug=memberships[0].customer.slug)
    return render(request, "portal/customer_list.html", {"memberships": memberships})


def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin has no login form of its own: staff log in through the portal's, so
    one set of brute-force limits (and two-factor authentication) covers every account."""
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect(reverse("account_login") + "?" + urlencode({"next": next_url}))


# --- customer pages ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeatGauge:
    """Seat counts of an entitlement as words, a zone and an SVG bar (percent of the scale)."""

    used: int
    entitled: int
    hard_limit: int | None
    zone: str
    zone_label: str
    zone_class: str
    within_pct: float
    over_pct: float
    entitled_pct: float

    @classmethod
    def of(cls, entitlement: Entitlement) -> "SeatGauge":
        used, entitled, hard_limit = (
            entitlement.seats_used,
            entitlement.seats,
            entitlement.hard_limit,
        )
        # Unlimited overdraft has no end of the scale: leave a quarter of room past the larger
        # of the entitled and used counts.
        scale = hard_limit if hard_limit else max(used, entitled, 1) * 1.25
        scale = max(scale, 1)
        zone = zones.SeatCounts.of(entitlement).zone
        within = min(used, entitled)
        return cls(
            used=used,
            entitled=entitled,
            hard_limit=hard_limit,
            zone=zone,
            zone_label=zone.label,
            zone_class=ZONE_CLASSES[zone],
            within_pct=round(100 * within / scale, 2),
            over_pct=round(100 * max(used - entitled, 0) / scale, 2),
            entitled_pct=round(100 * min(entitled, scale) / scale, 2),
        )


def _can_manage(request: HttpRequest, customer: Customer) -> bool:
    """Staff and the customer's admins may release seats."""
    if request.user.is_staff:
        return True
    membership = access.membership_for(request, customer)
    return membership is not None and membership.role == Membership.Role.ADMIN


@login_required
@require_GET
def customer_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    customer = access.customer_for(request, slug)
    services.seats_expire_due(entitlements=Entitlement.objects.filter(customer_id=customer.pk))
    entitlements = list(selectors.customer_entitlements(customer))
    cards = [(entitlement, SeatGauge.of(entitlement)) for entitlement in entitlements]
    return render(
        request,
        "portal/customer_dashboard.html",
        {"customer": customer, "cards": cards, "is_admin": _is_member_admin(request, customer)},
    )


def _is_member_admin(request: HttpRequest, customer: Customer) -> bool:
    membership = access.membership_for(request, customer)
    return membership is not None and membership.role == Membership.Role.ADMIN


def _entitlement_of(request: HttpRequest, slug: str, entitlement_id: Any, **kw: Any) -> Entitlement:
    return access.customer_entitlement(request, slug, entitlement_id, **kw)


def _usage(request: HttpRequest, entitlement: Entitlement) -> tuple[Any, Any]:
    usage_range = selectors.usage_range(request.GET.get("range"))
    start, end = usage_range.bounds(timezone.now())
    usage = selectors.usage_history(entitlement, start=start, end=end, bucket=usage_range.bucket)
    return usage_range, usage


@login_required
@require_GET
def entitlement_detail(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    entitlement = _entitlement_of(request, slug, entitlement_id)
    services.seats_expire_due(entitlements=[entitlement])
    customer = entitlement.customer
    usage_range, usage = _usage(request, entitlement)
    projection = selectors.usage_forecast(entitlement, now=usage.as_of, terms=usage.terms)
    seats = Paginator(selectors.seats_in_use(entitlement), SEATS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/entitlement_detail.html",
        {
            "customer": customer,
            "entitlement": entitlement,
            "gauge": SeatGauge.of(entitlement),
            "range": usage_range,
            "ranges": selectors.USAGE_RANGES.values(),
            "points": usage.points,
            "figures": usage.capacity,
            "note": usage.capacity.note(usage_range.label),
            "forecast": projection,
            "chart": selectors.usage_chart(usage, projection),
            "seats": seats,
            "denials": selectors.recent_denials(entitlement),
            "can_release": _can_manage(request, customer),
            "cap_form": CustomerCapForm(initial={"customer_cap": entitlement.customer_cap}),
            "masked_key": keys.masked(entitlement.license_key),
            "previous_key": _previous_key(entitlement),
            "alerts": alert_views.panel(
                request,
                entitlement,
                alert_views.CUSTOMER,
                can_edit=_can_manage(request, customer),
            ),
            "open_request": selectors.open_expansion_request(entitlement),
            "raises": selectors.raises_now(entitlement),
            "so_far": statement_views.period_so_far(entitlement),
            "request_form": ExpansionRequestForm(
                initial={"seats": services.default_seats(entitlement, usage.capacity.recommended)}
            ),
        },
    )


@login_required
@require_POST
def alert_add(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    """Customer admins add a threshold of the customer's."""
    entitlement = _entitlement_of(request, slug, entitlement_id, admin=True)
    return alert_views.add(request, entitlement, alert_views.CUSTOMER)


@login_required
@require_POST
def alert_remove(
    request: HttpRequest, slug: str, entitlement_id: Any, threshold_id: Any
) -> HttpResponse:
    entitlement = _entitlement_of(request, slug, entitlement_id, admin=True)
    return alert_views.remove(request, entitlement, alert_views.CUSTOMER, threshold_id)


@login_required
@require_POST
def alert_subscribe(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    """Any member (viewers too) subscribes to the customer's thresholds."""
    entitlement = _entitlement_of(request, slug, entitlement_id)
    return alert_views.subscribe(request, entitlement, alert_views.CUSTOMER)


def _previous_key(entitlement: Entitlement) -> dict[str, Any] | None:
    """The key before the last rotation while it still works: its hint and until when."""
    previous, until = entitlement.previous_license_key, entitlement.previous_key_valid_until
    if previous is None or not keys.previous_works(previous, until, timezone.now()):
        return None
    return {"hint": keys.hint(previous), "until": until}


@login_required
@require_http_methods(["GET", "POST"])
def license_key_rotate(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    """GET asks (with the grace period to choose); the POST rotates the key."""
    entitlement = _entitlement_of(request, slug, entitlement_id, admin=True)
    back = reverse("customer:entitlement", args=[slug, entitlement.pk]) + "#key"
    form = KeyRotationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        grace = timedelta(hours=form.cleaned_data["grace_hours"])
        services.license_key_rotate(
            entitlement=entitlement, grace=grace, actor=services.Actor.from_request(request)
        )
        if grace:
            messages.success(
                request,
                f"New key issued. The previous key works until"
                f" {entitlement.previous_key_valid_until:%d %b %Y %H:%M} UTC.",
            )
        else:
            messages.success(request, "New key issued. The previous key no longer works.")
        return redirect(back)
    return render(
        request,
        "portal/license_key_rotate.html",
        {
            "customer": entitlement.customer,
            "entitlement": entitlement,
            "form": form,
            "masked_key": keys.masked(entitlement.license_key),
            "back": back,
        },
    )


def _form_errors(form: Any, exc: ValidationError | None = None) -> str:
    if exc is not None:
        return " ".join(exc.messages)
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@login_required
@require_POST
def request_seats(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    """Ask the account team for more seats (customer admins and staff); back to the
    entitlement page with what was done, or why not."""
    entitlement = _entitlement_of(request, slug, entitlement_id, admin=True)
    back = reverse("customer:entitlement", args=[slug, entitlement.pk]) + "#request"
    form = ExpansionRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(back)
    try:
        expansion = services.expansion_request(
            entitlement=entitlement,
            seats=form.cleaned_data["seats"],
            message=form.cleaned_data["message"],
            actor=services.Actor.from_request(request),
        )
    except ValidationError as exc:
        messages.error(request, _form_errors(form, exc))
        return redirect(back)
    messages.success(
        request,
        f"Your request for {expansion.seats} seats is sent to your account manager;"
        " you will hear by email when it is answered.",
    )
    return redirect(back)


@login_required
@require_POST
def customer_cap(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    """Set or remove the customer's own cap (customer admins); back to the entitlement page
    with what was done, or why not."""
    entitlement = _entitlement_of(request, slug, entitlement_id, admin=True)
    back = reverse("customer:entitlement", args=[slug, entitlement.pk]) + "#cap"
    form = CustomerCapForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors["customer_cap"]))
        return redirect(back)
    cap = form.cleaned_data["customer_cap"]
    try:
        services.entitlement_set_customer_cap(
            entitlement=entitlement, customer_cap=cap, actor=services.Actor.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.message_dict.get("customer_cap", exc.messages)))
        return redirect(back)
    if cap is None:
        messages.success(request, "Your cap is removed: the vendor's hard limit applies.")
    else:
        messages.success(request, f"Your cap is {cap} seats: activations past it are denied.")
    return redirect(back)


@login_required
@require_GET
def entitlement_usage_csv(request: HttpRequest, slug: str, entitlement_id: Any) -> HttpResponse:
    entitlement = _entitlement_of(request, slug, entitlement_id)
    usage_range, usage = _usage(request, entitlement)
    filename = f"{entitlement.customer.slug}-{entitlement.product.code}-{usage_range.key}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "bucket_start_utc",
            "peak_used",
            "closing_used",
            "entitled",
            "hard_limit",
            "activations",
            "overdraft_activations",
            "denials",
            "releases",
            "overdraft_hours",
            "overdraft_seat_hours",
            "hours_elapsed",
            "partial",
        ]
    )
    # Each row's lines are the terms it was judged by (licensing.history); a bucket that holds
    # the current hour is partial: its figures so far, over `hours_elapsed`.
    for p in usage.points:
        writer.writerow(
            [
                p.start.isoformat(),
                p.peak,
                p.closing,
                p.entitled,
                "" if p.hard_limit is None else p.hard_limit,
                p.activations,
                p.overdraft_activations,
                p.denials,
                p.releases,
                p.overdraft_hours,
                p.overdraft_seat_hours,
                p.hours,
                "yes" if p.partial else "",
            ]
        )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def seat_release(
    request: HttpRequest, slug: str, entitlement_id: Any, seat_id: Any
) -> HttpResponse:
    """GET asks (the seats table's Release links here); the confirmation's POST releases.

    `page` (query or form) is the seats page to go back to.
    """
    entitlement = _entitlement_of(request, slug, entitlement_id, admin=True)
    services.seats_expire_due(entitlements=[entitlement])  # an expired seat is released already
    seat = Seat.objects.filter(pk=seat_id, entitlement_id=entitlement.pk).first()
    if seat is None:
        raise Http404
    seat.entitlement = entitlement
    page = (request.POST if request.method == "POST" else request.GET).get("page", "")
    page = page if page.isdigit() else ""
    url = reverse("customer:entitlement", args=[slug, entitlement.pk])
    back = f"{url}?page={page}#seats" if page else f"{url}#seats"
    if request.method == "GET":
        if seat.released_at is None:
            return render(
                request,
                "portal/seat_release.html",
                {
                    "customer": entitlement.customer,
                    "entitlement": entitlement,
                    "seat": seat,
                    "page": page,
                    "back": back,
                },
            )
        released = False
    else:
        released = services.seat_revoke(seat=seat, actor=services.Actor.from_request(request))
    if released:
        messages.success(request, f"Released the seat held by {seat.fingerprint}.")
    else:
        messages.info(request, f"The seat held by {seat.fingerprint} was already released.")
    return redirect(back)


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest, slug: str) -> HttpResponse:
    customer = access.customer_for(request, slug, admin=True)
    membership = access.membership_for(request, customer)
    if membership is None:  # staff who are not members have no preferences here
        raise Http404
    if request.method == "POST":
        form = NotificationPreferencesForm(request.POST)
        if form.is_valid():
            services.membership_set_notifications(
                membership=membership,
                notify_overdraft=form.cleaned_data["notify_overdraft"],
                notify_denials=form.cleaned_data["notify_denials"],
                notify_statements=form.cleaned_data["notify_statements"],
            )
            messages.success(request, "Your notification preferences are saved.")
            return redirect("customer:notifications", slug=customer.slug)
    else:
        form = NotificationPreferencesForm(
            initial={
                "notify_overdraft": membership.notify_overdraft,
                "notify_denials": membership.notify_denials,
                "notify_statements": membership.notify_statements,
            }
        )
    return render(
        request, "portal/notification_settings.html", {"customer": customer, "form": form}
    )


# --- errors -----------------------------------------------------------------------------------


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": "not_found", "message": "No such API endpoint."}, status=404)
    return render(request, "404.html", status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Requests Django refuses before any view: a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too
    many fields, a malformed multipart body."""
    if _wants_json(request):
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            message = f"The request body is larger than the limit of {limit} bytes."
        else:
            message = "The request could not be read."
        return JsonResponse({"code": "invalid_request", "message": message}, status=400)
    return render(request, "400.html", status=400)


def _way_back(request: HttpRequest) -> str:
    """The page the visitor came from if it is one of ours, else home."""
    referer = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return "/"


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"code": "permission_denied", "message": "You are not allowed to do that."},
            status=403,
        )
    return render(request, "403.html", {"back": _way_back(request)}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW. Most often a form left open while its user logged out and in again
    in another tab, which gives the browser a new CSRF token; Django logs the reason."""
    if _wants_json(request):
        return JsonResponse(
            {
                "code": "csrf_failed",
                "message": "The CSRF token is missing or out of date: reload and try again.",
            },
            status=403,
        )
    return render(request, "403_csrf.html", {"back": _way_back(request)}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if unavailable.is_database_outage(error):
        assert error is not None
        return unavailable.response(request, error)
    if _wants_json(request):
        return JsonResponse(
            {"code": "server_error", "message": "Something went wrong on our side."}, status=500
        )
    return render(request, "500.html", status=500)
