"""Who signs in where: the rules of single sign-on, each written once.

- `route_for_email`: which provider an email address signs in through (the vendor's for the
  staff domains, else the customer connection that owns the address's domain), or none;
- `check_identity`: whether what a provider says (its ID token's claims) may sign someone in
  through that connection: the issuer is the connection's, the email is verified, and its
  domain routes to this very connection (so one customer's provider never speaks for another's
  people);
- `password_refused`: whether a person must sign in through their provider;
- `session_customer_id` / `customer_visible`: a session signed in through a customer's
  provider sees that customer only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from licensing.models import Customer, Membership
from portal.models import SsoBreakGlass, SsoConnection, User

# allauth provider ids: the vendor's own provider, and a customer's (`c-<slug>`).
STAFF_PROVIDER_ID: Final = "team"
CUSTOMER_PREFIX: Final = "c-"


class SsoRefused(Exception):
    """A sign-in through a provider that must not succeed; the message says why, to the
    person (nothing in it is secret)."""


def provider_id_for(customer: Customer) -> str:
    return f"{CUSTOMER_PREFIX}{customer.slug}"


def email_domain(email: str) -> str:
    return email.strip().rpartition("@")[2].lower().rstrip(".")


def staff_sso_configured() -> bool:
    return bool(settings.STAFF_SSO_ISSUER and settings.STAFF_SSO_CLIENT_ID)


def staff_domains() -> frozenset[str]:
    return frozenset(d.strip().lower() for d in settings.STAFF_SSO_DOMAINS if d.strip())


@dataclasses.dataclass(frozen=True)
class Route:
    """Where an email address signs in: an allauth provider id, and its connection (None for
    the vendor's own provider)."""

    provider_id: str
    issuer: str
    enforced: bool
    connection: SsoConnection | None = None

    @property
    def name(self) -> str:
        return self.connection.customer.name if self.connection else "the vendor"


def staff_route() -> Route | None:
    if not staff_sso_configured():
        return None
    return Route(STAFF_PROVIDER_ID, settings.STAFF_SSO_ISSUER, settings.STAFF_SSO_ENFORCED)


def route_for_email(email: str) -> Route | None:
    """The provider `email` signs in through, or None (a password). The staff domains go to
    the vendor's provider; a customer's domain to that customer's (a domain belongs to one
    connection at most: portal_ssodomain_one_connection)."""
    domain = email_domain(email)
    if not domain:
        return None
    if domain in staff_domains():
        return staff_route()
    connection = (
        SsoConnection.objects.select_related("app", "customer")
        .filter(domains__domain=domain)
        .first()
    )
    if connection is None:
        return None
    return Route(connection.app.provider_id, connection.issuer, connection.enforced, connection)


def route_for_provider(provider_id: str) -> Route | None:
    """The route of an allauth provider id (the callback's), or None if it is not ours."""
    if provider_id == STAFF_PROVIDER_ID:
        return staff_route()
    connection = (
        SsoConnection.objects.select_related("app", "customer")
        .filter(app__provider="openid_connect", app__provider_id=provider_id)
        .first()
    )
    if connection is None:
        return None
    return Route(connection.app.provider_id, connection.issuer, connection.enforced, connection)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def check_identity(route: Route, claims: dict[str, Any]) -> str:
    """The email address `claims` (a verified ID token's) sign in through `route`, or
    SsoRefused: the issuer must be the route's, the email verified, and its domain must route
    to this same provider."""
    if claims.get("iss") != route.issuer:
        raise SsoRefused("The identity provider that answered is not the one configured.")
    email = str(claims.get("email") or "").strip().lower()
    if "@" not in email:
        raise SsoRefused("The identity provider did not give an email address.")
    if not _true(claims.get("email_verified")):
        raise SsoRefused(
            f"The identity provider has not verified {email}: ask your IT team to verify it."
        )
    owner = route_for_email(email)
    if owner is None or owner.provider_id != route.provider_id:
        raise SsoRefused(
            f"{email} is not an address of {route.name}: this identity provider cannot sign it in."
        )
    return email


def break_glass_open(user: Any, now: Any = None) -> bool:
    return SsoBreakGlass.objects.filter(
        user_id=user.pk, expires_at__gt=now or timezone.now()
    ).exists()


def sso_required(user: User) -> Route | None:
    """The enforced route `user` must sign in through instead of a password, or None: an
    address of an enforced connection's domain, or (not staff) a member of a customer that
    enforces single sign-on."""
    route = route_for_email(user.email)
    if route is not None and route.enforced:
        return route
    if user.is_staff:
        return None
    membership = (
        Membership.objects.filter(user_id=user.pk, customer__sso_connection__enforced=True)
        .select_related("customer__sso_connection__app")
        .first()
    )
    if membership is None:
        return None
    connection = membership.customer.sso_connection
    return Route(connection.app.provider_id, connection.issuer, True, connection)


def password_refused(user: User) -> Route | None:
    """`sso_required`, unless a break-glass sign-in is open for `user`."""
    route = sso_required(user)
    return None if route is None or break_glass_open(user) else route


def session_customer_id(request: HttpRequest) -> Any:
    """The customer whose provider signed this session in, or None (a password, the vendor's
    provider, or no one)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return None
    records = get_authentication_records(request, user)
    first = records[0] if records else {}
    provider = first.get("provider", "") if first.get("method") == "socialaccount" else ""
    if not provider.startswith(CUSTOMER_PREFIX):
        return None
    route = route_for_provider(provider)
    # A connection removed since: the session speaks for no customer any more.
    return route.connection.customer_id if route and route.connection else False


def customer_visible(request: HttpRequest, customer: Customer) -> bool:
    """A session signed in through a customer's provider sees that customer only."""
    signed_in_for = session_customer_id(request)
    return signed_in_for is None or signed_in_for == customer.pk
