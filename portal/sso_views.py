"""Pages of single sign-on: the login page (email first), the provider's callback, and a
customer's connection for the account team (and the customer's admins, when the vendor lets
them: SSO_CUSTOMER_ADMINS_MAY_CONFIGURE)."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm
from allauth.account.views import LoginView
from allauth.mfa.totp import views as totp_views
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from licensing.models import Customer, Membership
from licensing.services import Actor
from portal.access import customer_for, staff_required
from portal.models import SsoConnection, User
from portal.sso import rules, services
from portal.sso.provider import Adapter, CallbackView
from portal.sso_forms import BreakGlassForm, ConnectionForm, EmailForm, EnforceForm

_password_login = LoginView.as_view()


def _next_url(request: HttpRequest) -> str:
    given = request.POST.get("next") or request.GET.get("next") or ""
    if given and url_has_allowed_host_and_scheme(
        given, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return given
    return ""


def start_sign_in(request: HttpRequest, route: rules.Route, email: str = "") -> HttpResponse:
    """Off to `route`'s provider (back at the callback, then at `next`).

    A page that moves on by itself, not a redirect: the login form's POST may only lead to
    the portal itself (CSP form-action 'self', which browsers apply to the redirects after a
    form too), and the provider is elsewhere."""
    provider = get_social_adapter(request).get_provider(request, route.provider_id)
    response = provider.redirect(
        request, "login", next_url=_next_url(request) or None, login_hint=email
    )
    if response.status_code != 302:
        return response
    return render(
        request, "account/sso_continue.html", {"route": route, "url": response["Location"]}
    )


def login(request: HttpRequest) -> HttpResponse:
    """Email first: an address of a domain with single sign-on goes to its provider, others on
    to the password (allauth's login, which takes the password step's POST)."""
    if request.method == "POST" and "password" not in request.POST:
        form = EmailForm(request.POST)
        if form.is_valid():
            email = form.cleaned_data["login"]
            route = rules.route_for_email(email)
            if route is not None:
                return start_sign_in(request, route, email)
            password_form = LoginForm(request=request, initial={"login": email})
            return render(
                request,
                "account/login.html",
                {
                    "form": password_form,
                    "step": "password",
                    "redirect_field_value": _next_url(request),
                },
            )
        return render(
            request,
            "account/login.html",
            {"form": form, "step": "email", "redirect_field_value": _next_url(request)},
            status=400,
        )
    if (
        request.method == "GET"
        and request.GET.get("password")
        and not request.user.is_authenticated
    ):
        password_form = LoginForm(request=request)
        return render(
            request,
            "account/login.html",
            {"form": password_form, "step": "password", "redirect_field_value": _next_url(request)},
        )
    return _password_login(request)


@login_required
def totp_activate(request: HttpRequest) -> HttpResponse:
    """Two-factor authentication is the identity provider's job for people who must sign in
    through it: no TOTP for them (the account pages hide the link too)."""
    route = rules.sso_required(request.user)  # type: ignore[arg-type]
    if route is not None:
        return render(request, "sso/totp_hidden.html", {"route": route}, status=404)
    response: HttpResponse = totp_views.activate_totp(request)
    return response


def oidc_login(request: HttpRequest, provider_id: str) -> HttpResponse:
    """allauth's own start page for a provider: sign-ins start from the login page here."""
    return redirect("account_login")


def oidc_callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    if rules.route_for_provider(provider_id) is None:
        raise Http404
    try:
        view = CallbackView.adapter_view(Adapter(request, provider_id))
        response: HttpResponse = view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
    return response


# --- a customer's connection ------------------------------------------------------------------


def _may_configure(request: HttpRequest) -> bool:
    return bool(request.user.is_staff or settings.SSO_CUSTOMER_ADMINS_MAY_CONFIGURE)


def _connection(customer: Customer) -> SsoConnection | None:
    return SsoConnection.objects.filter(customer=customer).select_related("app").first()


def _page(
    request: HttpRequest,
    customer: Customer,
    *,
    team: bool,
    form: ConnectionForm | None = None,
    break_glass: BreakGlassForm | None = None,
    status: int = 200,
) -> HttpResponse:
    connection = _connection(customer)
    callback = ""
    provider_id = rules.provider_id_for(customer)
    callback = request.build_absolute_uri(
        reverse("openid_connect_callback", kwargs={"provider_id": provider_id})
    )
    admins = Membership.objects.filter(customer=customer, role=Membership.Role.ADMIN)
    return render(
        request,
        "sso/connection.html",
        {
            "customer": customer,
            "connection": connection,
            "domains": list(connection.domains.values_list("domain", flat=True))
            if connection
            else [],
            "form": form or ConnectionForm.for_connection(connection),
            "break_glass": break_glass or BreakGlassForm(),
            "admins": admins.select_related("user").order_by("user__email"),
            "callback_url": callback,
            "team": team,
            "may_configure": _may_configure(request),
            "base_template": "team/base.html" if team else "base.html",
            "section": "customers",
            "urls": _urls(customer, team),
        },
        status=status,
    )


def _urls(customer: Customer, team: bool) -> dict[str, str]:
    prefix = "team:sso" if team else "customer:sso"
    return {
        name: reverse(f"{prefix}{suffix}", args=[customer.slug])
        for name, suffix in [("page", ""), ("enforce", "_enforce"), ("remove", "_remove")]
    } | ({"break_glass": reverse("team:sso_break_glass", args=[customer.slug])} if team else {})


def _customer(request: HttpRequest, slug: str, team: bool) -> Customer:
    if team:
        customer = Customer.objects.filter(slug=slug).first()
        if customer is None:
            raise Http404
        return customer
    return customer_for(request, slug, admin=True)


def _connection_page(request: HttpRequest, slug: str, *, team: bool) -> HttpResponse:
    customer = _customer(request, slug, team)
    if request.method != "POST":
        return _page(request, customer, team=team)
    if not _may_configure(request):
        return _page(request, customer, team=team, status=403)
    form = ConnectionForm(request.POST)
    if form.is_valid():
        try:
            services.connection_save(
                customer=customer, actor=Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, f"Single sign-on of {customer.name} saved: its provider answered."
            )
            return redirect(_urls(customer, team)["page"])
    return _page(request, customer, team=team, form=form, status=400)


def _enforce(request: HttpRequest, slug: str, *, team: bool) -> HttpResponse:
    customer = _customer(request, slug, team)
    connection = _connection(customer)
    form = EnforceForm(request.POST)
    if connection is None or not _may_configure(request) or not form.is_valid():
        return _page(request, customer, team=team, status=400)
    enforced = form.cleaned_data["enforced"]
    services.connection_set_enforced(
        connection=connection, enforced=enforced, actor=Actor.from_request(request)
    )
    messages.success(
        request,
        f"{customer.name}'s people now sign in only through its provider."
        if enforced
        else f"{customer.name}'s people may sign in with a password again.",
    )
    return redirect(_urls(customer, team)["page"])


def _remove(request: HttpRequest, slug: str, *, team: bool) -> HttpResponse:
    customer = _customer(request, slug, team)
    connection = _connection(customer)
    if connection is None or not _may_configure(request):
        return _page(request, customer, team=team, status=400)
    services.connection_remove(connection=connection, actor=Actor.from_request(request))
    messages.success(request, f"Single sign-on of {customer.name} removed.")
    return redirect(_urls(customer, team)["page"])


@staff_required
def team_connection(request: HttpRequest, slug: str) -> HttpResponse:
    return _connection_page(request, slug, team=True)


@staff_required
@require_POST
def team_enforce(request: HttpRequest, slug: str) -> HttpResponse:
    return _enforce(request, slug, team=True)


@staff_required
@require_POST
def team_remove(request: HttpRequest, slug: str) -> HttpResponse:
    return _remove(request, slug, team=True)


@staff_required
@require_POST
def team_break_glass(request: HttpRequest, slug: str) -> HttpResponse:
    """Let one of the customer's admins sign in with a password for a while."""
    customer = _customer(request, slug, True)
    form = BreakGlassForm(request.POST)
    user: Any = None
    if form.is_valid():
        user = User.objects.filter(
            email__iexact=form.cleaned_data["email"],
            memberships__customer=customer,
            memberships__role=Membership.Role.ADMIN,
        ).first()
        if user is None:
            form.add_error("email", f"No admin of {customer.name} has this address.")
    if user is None:
        return _page(request, customer, team=True, break_glass=form, status=400)
    minutes = form.cleaned_data["minutes"]
    services.break_glass_grant(user=user, minutes=minutes, actor=Actor.from_request(request))
    messages.success(
        request,
        f"{user.email} may sign in with a password for the next {minutes} minutes"
        " (they can set one with “Forgot your password?”).",
    )
    return redirect(_urls(customer, True)["page"])


@login_required
def customer_connection(request: HttpRequest, slug: str) -> HttpResponse:
    return _connection_page(request, slug, team=False)


@login_required
@require_POST
def customer_enforce(request: HttpRequest, slug: str) -> HttpResponse:
    return _enforce(request, slug, team=False)


@login_required
@require_POST
def customer_remove(request: HttpRequest, slug: str) -> HttpResponse:
    return _remove(request, slug, team=False)
