"""Account-team pages (/team/...): customers, entitlements, expansion leads, event log.

Every view is wrapped in `staff_required`: anyone else gets 404 (or the login page).
Pages that show seats in use or zones first release the seats whose lease ran out
(`services.seats_expire_due`: one query when none is due), so no count includes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_http_methods, require_POST

from licensing import selectors, services, zones
from licensing.models import Customer, Entitlement, ExpansionRequest, Membership, TemporaryRaise
from portal import alert_views, invitations
from portal.access import staff_required
from portal.team_forms import (
    CustomerForm,
    CustomerSearchForm,
    EntitlementForm,
    EventFilterForm,
    ExpansionNoteForm,
    InvitationForm,
    RaiseForm,
)

PAGE_SIZE = 25


def _page(request: HttpRequest, items: Any, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    """The current filters, to carry into pagination links."""
    return urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("team:customers")


@staff_required
def customers(request: HttpRequest) -> HttpResponse:
    form = CustomerSearchForm(request.GET)
    sort = request.GET.get("sort", "name")
    if sort not in selectors.CUSTOMER_SORTS:
        sort = "name"
    query, page = "", None  # a search the database cannot run shows its error, no rows
    services.seats_expire_due()
    if form.is_valid():
        query = form.cleaned_data["q"]
        page = _page(request, selectors.customers_overview(query=query, sort=sort))
        for customer in page:
            customer.zone = zones.ZONE_RANKS[customer.zone_rank]
    return render(
        request,
        "team/customers.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "sort": sort,
            "filters": _query_without_page(request),
            "sort_links": _sort_links(query, sort),
        },
    )


def _sort_links(query: str, current: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (flipping direction) and an arrow."""
    links = {}
    for column in ("name", "zone", "denials"):
        descending_first = column != "name"
        if current == column:
            target, arrow = f"-{column}", "▲"
        elif current == f"-{column}":
            target, arrow = column, "▼"
        else:
            target, arrow = (f"-{column}" if descending_first else column), ""
        params = {"sort": target, **({"q": query} if query else {})}
        links[column] = {"href": "?" + urlencode(params), "arrow": arrow}
    return links


@staff_required
def customer_new(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None, initial={"account_manager": request.user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                name=form.cleaned_data["name"],
                account_manager=form.cleaned_data["account_manager"],
                actor=services.Actor.from_request(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Customer {customer.name} created.")
            return redirect("team:customer", slug=customer.slug)
    return render(request, "team/customer_form.html", {"form": form})


def _customer_page(
    request: HttpRequest, customer: Customer, invite_form: InvitationForm | None = None
) -> HttpResponse:
    services.seats_expire_due(entitlements=Entitlement.objects.filter(customer_id=customer.pk))
    entitlements = selectors.customer_entitlements(customer)
    members = (
        Membership.objects.filter(customer=customer)
        .select_related("user")
        .order_by("role", "user__email")
    )
    return render(
        request,
        "team/customer.html",
        {
            "customer": customer,
            "entitlements": entitlements,
            "members": members,
            "invitations": invitations.pending_invitations(customer),
            "invite_form": invite_form or InvitationForm(roles=["admin", "viewer"]),
        },
    )


@staff_required
def customer_detail(request: HttpRequest, slug: str) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("account_manager"), slug=slug)
    return _customer_page(request, customer)


@staff_required
@require_POST
def customer_invite(request: HttpRequest, slug: str) -> HttpResponse:
    customer = get_object_or_404(Customer, slug=slug)
    form = InvitationForm(request.POST, roles=["admin", "viewer"])
    if form.is_valid():
        invitation = invitations.invite_from_form(
            request, form, customer=customer, role=form.cleaned_data["role"]
        )
        if invitation is not None:
            messages.success(request, f"Invitation sent to {invitation.email} ({invitation.role}).")
            return redirect("team:customer", slug=customer.slug)
    return _customer_page(request, customer, invite_form=form)


@staff_required
def entitlement_new(request: HttpRequest, slug: str) -> HttpResponse:
    customer = get_object_or_404(Customer, slug=slug)
    form = EntitlementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entitlement = services.entitlement_create(
                customer=customer,
                product=data["product"],
                new_product=data["new_product"],
                **form.terms(),
                actor=services.Actor.from_request(request),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Entitlement for {entitlement.product} created.")
            return redirect("team:customer", slug=customer.slug)
    return render(
        request,
        "team/entitlement_form.html",
        {
            "form": form,
            "customer": customer,
            "entitlement": None,
            "hard_limit_preview": form.hard_limit_preview(),
        },
    )


def _entitlement(entitlement_id: Any) -> Entitlement:
    """The entitlement, its seats whose lease ran out released (its pages show seats in use)."""
    entitlement = get_object_or_404(
        Entitlement.objects.select_related("customer", "product"), pk=entitlement_id
    )
    services.seats_expire_due(entitlements=[entitlement])
    return entitlement


@staff_required
def entitlement_edit(request: HttpRequest, entitlement_id: Any) -> HttpResponse:
    entitlement = _entitlement(entitlement_id)
    form = EntitlementForm(request.POST or None, entitlement=entitlement)
    if request.method == "POST" and form.is_valid():
        try:
            services.entitlement_update(
                entitlement=entitlement, **form.terms(), actor=services.Actor.from_request(request)
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Entitlement saved.")
            return redirect("team:customer", slug=entitlement.customer.slug)
    return _edit_page(request, entitlement, form=form)


def _edit_page(
    request: HttpRequest,
    entitlement: Entitlement,
    *,
    form: EntitlementForm | None = None,
    raise_form: RaiseForm | None = None,
) -> HttpResponse:
    """The entitlement's edit page, with the terms form or the raise form as posted (and its
    errors) when one was refused."""
    if form is None:
        form = EntitlementForm(entitlement=entitlement)
    return render(
        request,
        "team/entitlement_form.html",
        {
            "form": form,
            "customer": entitlement.customer,
            "entitlement": entitlement,
            "hard_limit_preview": form.hard_limit_preview(),
            "terms_log": selectors.terms_log(entitlement),
            "open_request": selectors.open_expansion_request(entitlement),
            "note_form": ExpansionNoteForm(),
            "alerts": alert_views.panel(request, entitlement, alert_views.VENDOR, can_edit=True),
            "raises": selectors.entitlement_raises(entitlement),
            "raise_form": RaiseForm(entitlement=entitlement) if raise_form is None else raise_form,
        },
    )


def _moment(moment: datetime) -> str:
    """A time as the pages show it ("31 Dec 2026 18:00 UTC")."""
    return f"{dateformat.format(timezone.localtime(moment), 'j M Y H:i')} UTC"


@staff_required
@require_POST
def raise_grant(request: HttpRequest, entitlement_id: Any) -> HttpResponse:
    """The edit page's "Temporary raise" form: grant it (`services.raise_grant`; it starts at
    once unless it starts later), or show the page again with the form's errors."""
    entitlement = _entitlement(entitlement_id)
    form = RaiseForm(request.POST, entitlement=entitlement)
    if form.is_valid():
        try:
            granted = services.raise_grant(
                entitlement=entitlement,
                **form.cleaned_data,
                actor=services.Actor.from_request(request),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            until = _moment(granted.ends_at)
            if granted.status == TemporaryRaise.Status.RUNNING:
                messages.success(
                    request,
                    f"Temporary raise started: {granted.summary} until {until}. The customer is"
                    " told by email.",
                )
            else:
                messages.success(
                    request,
                    f"Temporary raise scheduled: {granted.summary} from"
                    f" {_moment(granted.starts_at)} until {until}.",
                )
            return redirect(_raises_section(entitlement))
    return _edit_page(request, entitlement, raise_form=form)


def _raises_section(entitlement: Entitlement) -> str:
    return reverse("team:entitlement_edit", args=[entitlement.pk]) + "#raises"


@staff_required
@require_POST
def raise_end(request: HttpRequest, raise_id: Any) -> HttpResponse:
    """The raises list's "End now" (a running raise: its extras come off now, no seat is
    revoked) or "Cancel" (a scheduled one), `services.raise_end`."""
    raise_ = get_object_or_404(TemporaryRaise, pk=raise_id)
    entitlement = _entitlement(raise_.entitlement_id)
    back = redirect(_raises_section(entitlement))
    try:
        # What it did (ended or cancelled) is the raise's status now: the job may have started
        # a scheduled one since the page was shown.
        services.raise_end(raise_=raise_, actor=services.Actor.from_request(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return back
    if raise_.status == TemporaryRaise.Status.CANCELLED:
        messages.success(request, f"Scheduled raise cancelled ({raise_.summary}).")
        return back
    entitlement.refresh_from_db()
    held = (
        f" The {entitlement.seats_used} seats in use stay until released; new activations are"
        " denied until use falls under the limit."
        if entitlement.seats_held_over is not None
        else ""
    )
    messages.success(
        request,
        f"Temporary raise ended: back to {entitlement.seats} entitled, hard limit"
        f" {'unlimited' if entitlement.hard_limit is None else entitlement.hard_limit}.{held}"
        " The customer is told by email.",
    )
    return back


@staff_required
@require_POST
def alert_add(request: HttpRequest, entitlement_id: Any) -> HttpResponse:
    """The account team adds a threshold of its own."""
    return alert_views.add(request, _entitlement(entitlement_id), alert_views.VENDOR)


@staff_required
@require_POST
def alert_remove(request: HttpRequest, entitlement_id: Any, threshold_id: Any) -> HttpResponse:
    return alert_views.remove(
        request, _entitlement(entitlement_id), alert_views.VENDOR, threshold_id
    )


@staff_required
@require_POST
def alert_subscribe(request: HttpRequest, entitlement_id: Any) -> HttpResponse:
    return alert_views.subscribe(request, _entitlement(entitlement_id), alert_views.VENDOR)


def _expansion(request_id: Any) -> ExpansionRequest:
    """The request, its entitlement's seats whose lease ran out released (its pages show
    seats in use)."""
    expansion = get_object_or_404(
        ExpansionRequest.objects.select_related("requested_by"), pk=request_id
    )
    expansion.entitlement = _entitlement(expansion.entitlement_id)
    return expansion


@staff_required
@require_http_methods(["GET", "POST"])
def expansion_grant(request: HttpRequest, request_id: Any) -> HttpResponse:
    """GET shows the old and new terms (the edit page's Grant links here); the confirmation's
    POST grants them (`services.expansion_grant`)."""
    expansion = _expansion(request_id)
    entitlement = expansion.entitlement
    if expansion.status != ExpansionRequest.Status.OPEN:
        messages.info(request, f"This request was {expansion.status} already.")
        return redirect("team:entitlement_edit", entitlement_id=entitlement.pk)
    form = ExpansionNoteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.expansion_grant(
                request=expansion,
                note=form.cleaned_data["note"],
                actor=services.Actor.from_request(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"Granted: {entitlement.product} for {entitlement.customer} now has"
                f" {expansion.seats} seats, hard limit {expansion.hard_limit_label}. The"
                " customer is told by email.",
            )
        return redirect("team:entitlement_edit", entitlement_id=entitlement.pk)
    return render(
        request,
        "team/expansion_grant.html",
        {
            "expansion": expansion,
            "entitlement": entitlement,
            "customer": entitlement.customer,
            "form": form,
            "cap_removed": not zones.cap_fits(
                expansion.seats, expansion.hard_limit, entitlement.customer_cap
            ),
        },
    )


@staff_required
@require_POST
def expansion_decline(request: HttpRequest, request_id: Any) -> HttpResponse:
    """Decline a request, with an optional note to the customer (the edit page's form)."""
    expansion = _expansion(request_id)
    back = redirect("team:entitlement_edit", entitlement_id=expansion.entitlement.pk)
    form = ExpansionNoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["note"]))
        return back
    try:
        services.expansion_decline(
            request=expansion,
            note=form.cleaned_data["note"],
            actor=services.Actor.from_request(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return back
    messages.success(
        request,
        f"Declined the request for {expansion.seats} seats; the customer is told by email.",
    )
    return back


@staff_required
@require_http_methods(["GET", "POST"])
def entitlement_suspend(request: HttpRequest, entitlement_id: Any) -> HttpResponse:
    """GET asks (the edit page's Suspend links here); the confirmation's POST suspends."""
    entitlement = _entitlement(entitlement_id)
    if request.method == "GET":
        if entitlement.status == Entitlement.Status.SUSPENDED:
            return redirect("team:entitlement_edit", entitlement_id=entitlement.pk)
        return render(request, "team/entitlement_suspend.html", {"entitlement": entitlement})
    services.entitlement_suspend(
        entitlement=entitlement, actor=services.Actor.from_request(request)
    )
    messages.success(request, f"{entitlement.product} suspended: activations are refused.")
    return redirect("team:entitlement_edit", entitlement_id=entitlement.pk)


@staff_required
@require_POST
def entitlement_resume(request: HttpRequest, entitlement_id: Any) -> HttpResponse:
    entitlement = _entitlement(entitlement_id)
    services.entitlement_resume(entitlement=entitlement, actor=services.Actor.from_request(request))
    messages.success(request, f"{entitlement.product} resumed.")
    return redirect("team:entitlement_edit", entitlement_id=entitlement.pk)


@staff_required
def leads(request: HttpRequest) -> HttpResponse:
    services.seats_expire_due()
    # A page of leads: only its leads are made whole (their forecasts cost the most).
    page = _page(request, selectors.ranked_leads())
    return render(request, "team/leads.html", {"page": page, "leads": page.object_list})


@staff_required
def events(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET or None)
    page = None
    if not form.is_bound or form.is_valid():
        data = form.cleaned_data if form.is_bound else {}
        page = _page(
            request,
            selectors.events_log(
                type=data.get("type") or "",
                customer=data.get("customer"),
                entitlement_id=data.get("entitlement"),
                start=data.get("start"),
                end=data.get("end"),
            ),
            per_page=50,
        )
    return render(
        request,
        "team/events.html",
        {"form": form, "page": page, "filters": _query_without_page(request)},
    )
