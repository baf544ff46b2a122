"""Signing in through a customer's provider: the person and their membership are made just in
time, with the role the groups claim gives."""

from typing import Any

from licensing.models import AuditEntry, Customer, Membership
from portal.models import SsoConnection, User
from tests.sso.conftest import Browser


def test_a_new_person_of_the_domain_joins_as_viewer(
    acme_sso: SsoConnection, customer: Customer, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("vera", "vera@acme.test", groups=["engineering"])
    response = browser_session.sign_in("vera@acme.test", "vera")
    assert response.status_code == 302, response.content[:800]
    user = User.objects.get(email="vera@acme.test")
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user, customer=customer)
    assert membership.role == Membership.Role.VIEWER
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_PROVISIONED)
    assert entry.customer == customer
    assert entry.changes["role"] == [None, "viewer"]
    page = browser_session.client.get(f"/c/{customer.slug}/")
    assert page.status_code == 200


def test_a_member_of_the_admin_group_joins_as_admin(
    acme_sso: SsoConnection, customer: Customer, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("ada", "ada.new@acme.test", groups=["portal-admins"])
    response = browser_session.sign_in("ada.new@acme.test", "ada")
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="ada.new@acme.test", customer=customer)
    assert membership.role == Membership.Role.ADMIN
    assert browser_session.client.get(f"/c/{customer.slug}/members/").status_code == 200


def test_an_existing_member_signs_in_and_the_claim_changes_their_role(
    acme_sso: SsoConnection,
    customer: Customer,
    customer_admin: User,
    viewer: User,
    provider_user: Any,
    browser_session: Browser,
) -> None:
    provider_user("vic", viewer.email, groups=["portal-admins"])
    response = browser_session.sign_in(viewer.email, "vic")
    assert response.status_code == 302
    assert browser_session.client.session["_auth_user_id"] == str(viewer.pk)
    membership = Membership.objects.get(user=viewer, customer=customer)
    assert membership.role == Membership.Role.ADMIN
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_ROLE_CHANGED)
    assert entry.changes == {"role": ["viewer", "admin"]}
    assert "single sign-on" in entry.actor_label
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_PROVISIONED).exists()


def test_an_address_without_single_sign_on_goes_on_to_the_password(
    acme_sso: SsoConnection, client: Any
) -> None:
    response = client.post("/accounts/login/", {"login": "someone@elsewhere.test"})
    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert b"someone@elsewhere.test" in response.content


def test_the_password_step_can_be_asked_for_directly(client: Any, db: Any) -> None:
    response = client.get("/accounts/login/?password=1")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_a_bad_email_is_a_clear_error(client: Any, db: Any) -> None:
    response = client.post("/accounts/login/", {"login": "not-an-email"})
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
