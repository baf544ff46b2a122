"""A session signed in through customer A's provider never gets customer B's pages, even for
a person who is also B's member."""

from typing import Any

from licensing.models import Customer, Entitlement, Membership
from portal.models import SsoConnection, User
from tests.sso.conftest import Browser


def test_a_session_from_acmes_provider_sees_acme_only(
    acme_sso: SsoConnection,
    customer: Customer,
    other_customer: Customer,
    viewer: User,
    make_entitlement: Any,
    provider_user: Any,
    browser_session: Browser,
) -> None:
    Membership.objects.create(user=viewer, customer=other_customer, role=Membership.Role.ADMIN)
    theirs: Entitlement = make_entitlement(customer=other_customer)
    provider_user("vic", viewer.email)
    assert browser_session.sign_in(viewer.email, "vic").status_code == 302
    client = browser_session.client
    assert client.get(f"/c/{customer.slug}/").status_code == 200
    assert client.get(f"/c/{other_customer.slug}/").status_code == 404
    assert client.get(f"/c/{other_customer.slug}/entitlements/{theirs.pk}/").status_code == 404
    assert client.get(f"/c/{other_customer.slug}/members/").status_code == 404
    # The home page goes straight to Acme: Globex is not among this session's customers.
    assert client.get("/")["Location"] == f"/c/{customer.slug}/"


def test_the_same_person_with_a_password_sees_both(
    acme_sso: SsoConnection,
    customer: Customer,
    other_customer: Customer,
    viewer: User,
    client: Any,
) -> None:
    from tests.conftest import PASSWORD

    Membership.objects.create(user=viewer, customer=other_customer, role=Membership.Role.ADMIN)
    client.post("/accounts/login/", {"login": viewer.email, "password": PASSWORD})
    assert client.get(f"/c/{other_customer.slug}/").status_code == 200
