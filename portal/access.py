"""Who may see what. Every page goes through these, so a new page cannot skip the check.

Anyone who may not see an object gets 404, never the object and never a hint that it exists.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from licensing.models import Customer, Entitlement, Membership
from portal.sso.rules import customer_visible, session_customer_id

View = TypeVar("View", bound=Callable[..., HttpResponse])


def staff_required(view: View) -> View:
    """Account-team pages: logged in and staff, otherwise 404 (or the login page)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


def membership_for(request: HttpRequest, customer: Customer) -> Membership | None:
    """The user's membership of `customer`; none when their session was signed in through
    another customer's provider (portal.sso.rules.customer_visible)."""
    if not request.user.is_authenticated or not customer_visible(request, customer):
        return None
    return Membership.objects.filter(user_id=request.user.pk, customer=customer).first()


def visible_memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships this session may use, by customer name."""
    memberships = (
        Membership.objects.filter(user_id=request.user.pk or 0)
        .select_related("customer")
        .order_by("customer__name")
    )
    return [m for m in memberships if customer_visible(request, m.customer)]


def customer_for(request: HttpRequest, slug: str, *, admin: bool = False) -> Customer:
    """The customer if the user is staff or a member (an admin when `admin`), else 404."""
    customer = Customer.objects.filter(slug=slug).first()
    if customer is None or not request.user.is_authenticated:
        raise Http404
    if request.user.is_staff:
        return customer
    membership = membership_for(request, customer)
    if membership is None or (admin and membership.role != Membership.Role.ADMIN):
        raise Http404
    return customer


def visible_entitlements(request: HttpRequest) -> Any:
    """Entitlements the user may see: all for staff, their customers' for members."""
    qs = Entitlement.objects.select_related("customer", "product")
    if request.user.is_staff:
        return qs
    signed_in_for = session_customer_id(request)
    if signed_in_for is False:
        return qs.none()
    if signed_in_for is not None:
        qs = qs.filter(customer_id=signed_in_for)
    return qs.filter(customer__memberships__user__pk=request.user.pk or 0)


def entitlement_for(
    request: HttpRequest, entitlement_id: Any, *, admin: bool = False
) -> Entitlement:
    entitlement = visible_entitlements(request).filter(pk=entitlement_id).first()
    if entitlement is None:
        raise Http404
    if admin and not request.user.is_staff:
        customer_for(request, entitlement.customer.slug, admin=True)
    return entitlement


def customer_entitlement(
    request: HttpRequest, slug: str, entitlement_id: Any, *, admin: bool = False
) -> Entitlement:
    """An entitlement of the customer in the path (`/c/<slug>/entitlements/<id>/...`): 404 for
    one of another customer, even one the user may see under its own slug."""
    entitlement = entitlement_for(request, entitlement_id, admin=admin)
    if entitlement.customer.slug != slug:
        raise Http404
    return entitlement
