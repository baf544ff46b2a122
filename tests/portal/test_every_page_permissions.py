"""Every page of the site against every persona, found by walking the URL patterns.

A new page is checked without anyone remembering to: its pattern is enumerated here, its path
parameters are filled from the fixtures below (an unknown parameter name fails the test, so add
it to PARAMETERS), and its audience comes from where it lives (AUDIENCES; an unknown place
fails the test too). Admin, allauth, the APIs and static files have their own tests.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from licensing import billing, services
from licensing.models import (
    AlertThreshold,
    Customer,
    Entitlement,
    ExpansionRequest,
    TemporaryRaise,
)
from licensing.services.tokens import api_token_create
from portal import invitations
from portal.models import User
from webhooks.models import WebhookDelivery, WebhookEndpoint

SKIPPED_PREFIXES = ("admin/", "accounts/", "api/", "static/", "__debug__/")

# Where a page lives says who may see it. First match wins.
PUBLIC = "public"  # anyone, logged in or not
STAFF = "staff"  # the vendor's account team only
MEMBER = "member"  # staff, and members of the customer in the path
CUSTOMER_ADMIN = "customer_admin"  # staff, and admins of the customer in the path
# A member's own settings: admins of the customer; staff have no membership to set, so
# they may get 404 there (or a page), but never an error.
OWN_SETTINGS = "own_settings"
AUDIENCES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^$"), PUBLIC),
    (re.compile(r"^\.well-known/jwks\.json$"), PUBLIC),  # public keys: anyone may verify
    (re.compile(r"^invitations/<str:token>/$"), PUBLIC),  # the emailed token is the credential
    (re.compile(r"^\.well-known/jwks\.json$"), PUBLIC),  # the public keys of the signatures
    (re.compile(r"^team/"), STAFF),
    (re.compile(r"^c/<slug:slug>/webhooks/"), CUSTOMER_ADMIN),
    (re.compile(r"^c/<slug:slug>/members/$"), CUSTOMER_ADMIN),
    (re.compile(r"^c/<slug:slug>/members/role$"), CUSTOMER_ADMIN),
    (re.compile(r"^c/<slug:slug>/members/remove$"), CUSTOMER_ADMIN),
    (
        re.compile(r"^c/<slug:slug>/members/invitations/<uuid:invitation_id>/resend$"),
        CUSTOMER_ADMIN,
    ),
    (
        re.compile(r"^c/<slug:slug>/members/invitations/<uuid:invitation_id>/revoke$"),
        CUSTOMER_ADMIN,
    ),
    (re.compile(r"^c/<slug:slug>/settings/"), OWN_SETTINGS),
    (re.compile(r"^c/<slug:slug>/sso/"), CUSTOMER_ADMIN),
    (
        re.compile(r"^c/<slug:slug>/entitlements/[^/]+/seats/<uuid:seat_id>/release$"),
        CUSTOMER_ADMIN,
    ),
    (re.compile(r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/cap$"), CUSTOMER_ADMIN),
    (
        re.compile(r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/key/rotate$"),
        CUSTOMER_ADMIN,
    ),
    (
        re.compile(r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/request-seats$"),
        CUSTOMER_ADMIN,
    ),
    (re.compile(r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/alerts/$"), CUSTOMER_ADMIN),
    (
        re.compile(
            r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/alerts/<uuid:threshold_id>/remove$"
        ),
        CUSTOMER_ADMIN,
    ),
    # Statements are billing documents: viewers read them too.
    (re.compile(r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/statements/"), MEMBER),
    (re.compile(r"^c/<slug:slug>/"), MEMBER),  # subscribing to alerts too: viewers may
]


@dataclasses.dataclass
class World:
    """Acme's objects, which the outsider (an admin of Globex) must never reach."""

    customer: Customer
    entitlement: Entitlement
    seat_id: Any
    invitation_id: Any
    invitation_token: str
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    vendor_endpoint: WebhookEndpoint
    vendor_delivery: WebhookDelivery
    api_token_id: Any
    expansion_request_id: Any
    customer_threshold_id: Any
    vendor_threshold_id: Any
    raise_id: Any
    # Statements need a closed billing period: an entitlement of Acme's that started earlier.
    billed_entitlement: Entitlement
    statement_id: Any


# Path parameter name -> its value in the world. Add new parameter names here.
PARAMETERS: dict[str, Callable[[World], Any]] = {
    "slug": lambda w: w.customer.slug,
    "entitlement_id": lambda w: w.entitlement.pk,
    "seat_id": lambda w: w.seat_id,
    "token": lambda w: w.invitation_token,
    "invitation_id": lambda w: w.invitation_id,
    "endpoint_id": lambda w: w.endpoint.pk,
    "delivery_id": lambda w: w.delivery.pk,
    "token_id": lambda w: w.api_token_id,
    "request_id": lambda w: w.expansion_request_id,
    "threshold_id": lambda w: w.customer_threshold_id,
    "raise_id": lambda w: w.raise_id,
    "statement_id": lambda w: w.statement_id,
}

# Where a page needs other objects under the same parameter name: the vendor-wide webhook
# pages show vendor-wide endpoints (no customer).
PARAMETER_OVERRIDES: list[tuple[re.Pattern[str], dict[str, Callable[[World], Any]]]] = [
    (
        re.compile(r"^team/webhooks/"),
        {
            "endpoint_id": lambda w: w.vendor_endpoint.pk,
            "delivery_id": lambda w: w.vendor_delivery.pk,
        },
    ),
    # The account team's alert pages act on its own thresholds.
    (re.compile(r"^team/entitlements/"), {"threshold_id": lambda w: w.vendor_threshold_id}),
    # Statements: of the entitlement that has one.
    (
        re.compile(r"^c/<slug:slug>/entitlements/<uuid:entitlement_id>/statements/"),
        {"entitlement_id": lambda w: w.billed_entitlement.pk},
    ),
]

PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith(SKIPPED_PREFIXES):
                continue
            yield from _walk(entry.url_patterns, route)
        elif not route.startswith(SKIPPED_PREFIXES):
            yield route, entry


def page_routes() -> list[str]:
    routes = [route for route, _ in _walk(get_resolver().url_patterns)]
    for route in routes:
        assert not route.startswith("^"), f"regex URL patterns are not supported here: {route}"
    return routes


def audience(route: str) -> str:
    for pattern, who in AUDIENCES:
        if pattern.search(route):
            return who
    raise AssertionError(f"{route!r}: who may see it? Add it to AUDIENCES in {__name__}.")


def fill(route: str, world: World) -> str:
    parameters = dict(PARAMETERS)
    for pattern, overrides in PARAMETER_OVERRIDES:
        if pattern.search(route):
            parameters.update(overrides)

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in parameters:
            raise AssertionError(
                f"{route!r}: no value for path parameter {name!r}. Add it to PARAMETERS."
            )
        return str(parameters[name](world))

    return "/" + PARAMETER.sub(value, route)


@pytest.fixture
def world(
    customer: Customer, entitlement: Entitlement, account_manager: User, customer_admin: User
) -> World:
    seat = services.seat_activate(entitlement=entitlement, fingerprint="pc-1").seat
    assert seat is not None
    invitation, token = invitations.invitation_create(
        customer=customer,
        email="invited@acme.test",
        role="viewer",
        actor=services.Actor.of(customer_admin),
    )
    endpoint = WebhookEndpoint.objects.create(
        customer=customer, url="https://hooks.example.test/acme", created_by=customer_admin
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test")
    vendor_endpoint = WebhookEndpoint.objects.create(
        customer=None, url="https://hooks.example.test/vendor", created_by=account_manager
    )
    vendor_delivery = WebhookDelivery.objects.create(
        endpoint=vendor_endpoint, event_type="webhook.test"
    )
    api_token, _ = api_token_create(user=account_manager, name="CI")
    expansion = services.expansion_request(
        entitlement=entitlement, seats=130, actor=services.Actor.of(customer_admin)
    )
    # Scheduled, so the terms stay 100/120 (the POST test checks nothing changed them).
    raise_ = services.raise_grant(
        entitlement=entitlement,
        extra_seats=10,
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=2),
        actor=services.Actor.of(account_manager),
    )
    billed = services.entitlement_create(
        customer=customer,
        product=entitlement.product,
        seats=5,
        hard_limit=6,
        starts_at=timezone.now() - timedelta(days=40),
    )
    statement = services.statement_issue(entitlement=billed, period=billing.first_period(billed))
    return World(
        customer=customer,
        entitlement=entitlement,
        seat_id=seat.pk,
        invitation_id=invitation.pk,
        invitation_token=token,
        endpoint=endpoint,
        delivery=delivery,
        vendor_endpoint=vendor_endpoint,
        vendor_delivery=vendor_delivery,
        api_token_id=api_token.pk,
        expansion_request_id=expansion.pk,
        customer_threshold_id=services.threshold_add(
            entitlement=entitlement, audience="customer", kind="percent", percent=80
        ).pk,
        vendor_threshold_id=services.threshold_add(
            entitlement=entitlement, audience="vendor", kind="overdraft"
        ).pk,
        raise_id=raise_.pk,
        billed_entitlement=billed,
        statement_id=statement.pk,
    )


@pytest.fixture
def clients(
    account_manager: User, customer_admin: User, viewer: User, outsider: User
) -> dict[str, Client]:
    personas = {
        "account_manager": account_manager,
        "customer_admin": customer_admin,
        "viewer": viewer,
        "outsider": outsider,
    }
    found = {}
    for name, user in personas.items():
        client = Client(raise_request_exception=False)
        client.force_login(user)
        found[name] = client
    found["anonymous"] = Client(raise_request_exception=False)
    return found


ALLOWED = {200, 302, 405}  # 405: a POST-only page asked with GET


def expected(who: str, persona: str) -> str:
    """`allowed`, `not_found`, `login` (a redirect to the login page, or 404) or `no_error`."""
    if who == PUBLIC:
        return "allowed"
    if persona == "anonymous":
        return "login"
    if persona == "account_manager":
        return "no_error" if who == OWN_SETTINGS else "allowed"
    if who == STAFF or persona == "outsider":
        return "not_found"
    if who in (CUSTOMER_ADMIN, OWN_SETTINGS) and persona == "viewer":
        return "not_found"
    return "allowed"


def check(response: Any, outcome: str, what: str, blind_405: bool = False) -> str | None:
    """A failure message, or None. `blind_405`: the page answers GET with 405 whatever the
    objects in its path (it is POST-only), which reveals nothing, so it counts as a 404."""
    status = response.status_code
    if status >= 500:
        return f"{what}: {status} (server error)"
    if outcome == "allowed" and status not in ALLOWED:
        return f"{what}: expected access, got {status}"
    if outcome == "not_found" and status != 404 and not (status == 405 and blind_405):
        return f"{what}: expected 404, got {status}"
    if outcome == "login":
        to_login = status == 302 and response.url.startswith("/accounts/login/")
        if not (to_login or status == 404):
            return f"{what}: expected a redirect to login or 404, got {status}"
    return None


def nowhere(route: str) -> str:
    """The route with every parameter naming nothing that exists."""
    return "/" + PARAMETER.sub(
        lambda m: (
            "00000000-0000-4000-8000-000000000000"
            if m.group("converter") == "uuid"
            else "no-such-thing"
        ),
        route,
    )


def test_every_page_is_enumerated_and_classified() -> None:
    routes = page_routes()
    assert "team/customers/<slug:slug>/" in routes
    assert "c/<slug:slug>/entitlements/<uuid:entitlement_id>/" in routes
    assert "team/entitlements/<uuid:entitlement_id>/raises/" in routes
    assert "team/raises/<uuid:raise_id>/end" in routes
    assert (
        "c/<slug:slug>/entitlements/<uuid:entitlement_id>/statements/<uuid:statement_id>.pdf"
        in routes
    )
    problems = []
    for route in routes:
        try:
            audience(route)
            for match in PARAMETER.finditer(route):
                assert match.group("name") in PARAMETERS, (
                    f"{route!r}: no value for path parameter {match.group('name')!r}."
                    " Add it to PARAMETERS."
                )
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_every_page_with_every_persona(world: World, clients: dict[str, Client]) -> None:
    failures = []
    for route in page_routes():
        who = audience(route)
        path = fill(route, world)
        # A POST-only page may refuse GET before looking anything up; that is no leak when it
        # answers the same for objects that do not exist.
        blind_405 = clients["outsider"].get(nowhere(route)).status_code == 405
        for persona, client in clients.items():
            response = client.get(path)
            failure = check(response, expected(who, persona), f"GET {path} as {persona}", blind_405)
            if failure:
                failures.append(failure)
    assert not failures, "\n".join(failures)


def test_no_post_reaches_a_page_it_may_not(world: World, clients: dict[str, Client]) -> None:
    """Writes too: anyone who may not see a page cannot post to it (and nothing changes)."""
    failures = []
    for route in page_routes():
        who = audience(route)
        if who == PUBLIC:
            continue
        path = fill(route, world)
        blind_405 = clients["outsider"].post(nowhere(route), {}).status_code == 405
        for persona in ("anonymous", "outsider", "viewer", "customer_admin"):
            outcome = expected(who, persona)
            if outcome == "allowed":
                continue
            response = clients[persona].post(path, {})
            failure = check(response, outcome, f"POST {path} as {persona}", blind_405)
            if failure:
                failures.append(failure)
    assert not failures, "\n".join(failures)
    world.entitlement.refresh_from_db()
    assert world.entitlement.status == Entitlement.Status.ACTIVE
    assert world.entitlement.seats_used == 1
    assert world.entitlement.seats == 100
    assert ExpansionRequest.objects.get().status == ExpansionRequest.Status.OPEN
    assert list(TemporaryRaise.objects.values_list("status", flat=True)) == ["scheduled"]
    assert WebhookEndpoint.objects.filter(pk=world.endpoint.pk).exists()
    assert invitations.invitation_for_token(world.invitation_token).pk == world.invitation_id
    assert (
        AlertThreshold.objects.filter(
            pk__in=[world.customer_threshold_id, world.vendor_threshold_id]
        ).count()
        == 2
    )


def test_outsider_gets_404_for_acme_pages_even_with_own_objects(
    world: World, clients: dict[str, Client], outsider: User
) -> None:
    """Mixing Globex's slug with Acme's objects (or the reverse) must not leak them either."""
    globex = outsider.memberships.get().customer
    failures = []
    for route in page_routes():
        if "<slug:slug>" not in route or audience(route) == PUBLIC:
            continue
        if len(PARAMETER.findall(route)) < 2:
            continue
        path = fill(route, world).replace(f"/{world.customer.slug}/", f"/{globex.slug}/", 1)
        response = clients["outsider"].get(path)
        blind_405 = clients["outsider"].get(nowhere(route)).status_code == 405
        failure = check(response, "not_found", f"GET {path} as outsider (own slug)", blind_405)
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)
