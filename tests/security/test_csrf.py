"""CSRF on every form: a POST without the token is refused with 403 and changes nothing.

Pages are found by walking the URL patterns (as the every-page permission test does), so a new
form is covered without anyone remembering to; allauth's and the admin's forms are listed.
Each page is posted to by someone who may use it, so only the missing token stops the POST.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from licensing.models import ApiToken, AuditEntry, Entitlement, Membership, Seat
from portal.models import Invitation, User
from tests.conftest import PASSWORD
from tests.portal.test_every_page_permissions import (
    CUSTOMER_ADMIN,
    MEMBER,
    OWN_SETTINGS,
    PUBLIC,
    STAFF,
    World,
    audience,
    fill,
    page_routes,
    world,
)
from webhooks.models import WebhookEndpoint

__all__ = ["world"]  # the fixture, imported for pytest

# Forms outside the walked patterns (allauth and the admin), with who posts them.
LISTED_FORMS = [
    ("/accounts/login/", "anonymous"),
    ("/accounts/signup/", "anonymous"),
    ("/accounts/password/reset/", "anonymous"),
    ("/accounts/logout/", "customer_admin"),
    ("/accounts/password/change/", "customer_admin"),
    ("/accounts/email/", "customer_admin"),
    ("/admin/login/", "anonymous"),
]

# Whatever a form might want, so that the only thing missing is the CSRF token.
PAYLOAD = {
    "login": "admin@acme.test",
    "email": "attacker@evil.example",
    "password": PASSWORD,
    "password1": "A-new-passw0rd-for-the-attacker",
    "password2": "A-new-passw0rd-for-the-attacker",
    "oldpassword": PASSWORD,
    "username": "am@vendor.test",
    "name": "Attacker",
    "role": "admin",
    "seats": "1",
    "overdraft": "none",
    "starts_at": "2026-01-01T00:00",
    "url": "https://evil.example/hook",
    "enabled": "on",
    "read_only": "",
    "notify_overdraft": "",
    "notify_denials": "",
}

POSTER = {
    PUBLIC: "anonymous",
    STAFF: "account_manager",
    MEMBER: "customer_admin",
    CUSTOMER_ADMIN: "customer_admin",
    OWN_SETTINGS: "customer_admin",
}


def _state() -> tuple[Any, ...]:
    return (
        sorted(Entitlement.objects.values_list("pk", "seats", "hard_limit", "status")),
        Seat.objects.filter(released_at__isnull=True).count(),
        sorted(Membership.objects.values_list("pk", "role", "notify_overdraft", "notify_denials")),
        Invitation.objects.filter(accepted_at__isnull=True).count(),
        ApiToken.objects.filter(revoked_at__isnull=True).count(),
        sorted(WebhookEndpoint.objects.values_list("pk", "url", "enabled", "secret")),
        User.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def csrf_clients(account_manager: User, customer_admin: User) -> dict[str, Client]:
    clients = {"anonymous": Client(enforce_csrf_checks=True)}
    for name, user in (("account_manager", account_manager), ("customer_admin", customer_admin)):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        clients[name] = client
    return clients


def _targets(world: World) -> list[tuple[str, str]]:
    walked = [(fill(route, world), POSTER[audience(route)]) for route in page_routes()]
    return walked + LISTED_FORMS


def test_every_post_without_a_csrf_token_is_refused(
    world: World, csrf_clients: dict[str, Client]
) -> None:
    before = _state()
    failures = []
    for path, persona in _targets(world):
        response = csrf_clients[persona].post(path, PAYLOAD)
        if response.status_code != 403:
            failures.append(f"POST {path} as {persona}: {response.status_code}, not 403")
    assert not failures, "\n".join(failures)
    assert _state() == before


def _release_path(world: World) -> str:
    entitlement = f"/c/{world.customer.slug}/entitlements/{world.entitlement.pk}"
    return f"{entitlement}/seats/{world.seat_id}/release"


def test_a_wrong_csrf_token_is_refused_too(world: World, csrf_clients: dict[str, Client]) -> None:
    client = csrf_clients["customer_admin"]
    client.get(f"/c/{world.customer.slug}/")  # sets the CSRF cookie
    path = _release_path(world)
    response = client.post(path, {"csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert Seat.objects.get(pk=world.seat_id).released_at is None


def test_the_same_post_with_the_token_goes_through(
    world: World, csrf_clients: dict[str, Client]
) -> None:
    """The control: the 403s above come from the missing token, not from the posts."""
    client = csrf_clients["customer_admin"]
    path = _release_path(world)
    token = client.get(path).context["csrf_token"]  # the "Release this seat?" page
    response = client.post(path, {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert Seat.objects.get(pk=world.seat_id).released_at is not None
