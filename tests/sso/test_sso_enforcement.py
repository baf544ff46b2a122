"""Enforced single sign-on: no password for the customer's people, no TOTP of the portal's for
them, and a break-glass password sign-in the account team can open (audited)."""

from typing import Any

from django.core.management import call_command
from django.test import Client

from licensing.models import AuditEntry, Customer
from portal.models import SsoConnection, User
from portal.sso import services
from tests.conftest import PASSWORD


def password_login(client: Client, user: User) -> Any:
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


def test_enforcing_is_audited_and_only_changes_once(acme_sso: SsoConnection) -> None:
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.SSO_ENFORCEMENT_CHANGED)
    assert [e.changes for e in entries] == [{"enforced": [False, True]}]


def test_not_enforced_a_member_may_still_use_a_password(
    acme_sso: SsoConnection, customer_admin: User, client: Client
) -> None:
    assert password_login(client, customer_admin).status_code == 302
    assert client.session["_auth_user_id"] == str(customer_admin.pk)


def test_a_member_of_another_domain_is_refused_a_password_too(
    acme_sso: SsoConnection, customer: Customer, client: Client
) -> None:
    from licensing.models import Membership

    contractor = User.objects.create_user("kim@contractor.test", PASSWORD)
    Membership.objects.create(user=contractor, customer=customer, role=Membership.Role.VIEWER)
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    assert password_login(client, contractor).status_code == 403


def test_break_glass_lets_an_admin_in_with_a_password_for_a_while(
    acme_sso: SsoConnection,
    customer: Customer,
    customer_admin: User,
    account_manager: User,
    client: Client,
    frozen: Any,
) -> None:
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    team = Client()
    team.force_login(account_manager)
    response = team.post(
        f"/team/customers/{customer.slug}/sso/break-glass",
        {"email": customer_admin.email, "minutes": "30"},
    )
    assert response.status_code == 302
    granted = AuditEntry.objects.get(action=AuditEntry.Action.SSO_BREAK_GLASS_GRANTED)
    assert granted.actor == account_manager and granted.customer == customer

    assert password_login(client, customer_admin).status_code == 302
    assert AuditEntry.objects.filter(action=AuditEntry.Action.SSO_BREAK_GLASS_USED).count() == 1

    client.logout()
    frozen.shift(31 * 60)
    assert password_login(client, customer_admin).status_code == 403


def test_break_glass_is_only_for_the_customers_admins(
    acme_sso: SsoConnection, customer: Customer, viewer: User, account_manager: User
) -> None:
    team = Client()
    team.force_login(account_manager)
    response = team.post(
        f"/team/customers/{customer.slug}/sso/break-glass",
        {"email": viewer.email, "minutes": "30"},
    )
    assert response.status_code == 400
    assert "No admin of Acme Corp has this address." in response.content.decode()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SSO_BREAK_GLASS_GRANTED).exists()


def test_break_glass_command(acme_sso: SsoConnection, customer_admin: User, client: Client) -> None:
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    call_command("sso_break_glass", "--email", customer_admin.email, "--minutes", "10")
    assert password_login(client, customer_admin).status_code == 302


def test_totp_setup_is_hidden_for_enforced_members(
    acme_sso: SsoConnection, customer_admin: User, viewer: User, client: Client
) -> None:
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    client.force_login(customer_admin)
    page = client.get("/accounts/password/change/")
    assert "Two-factor authentication" not in page.content.decode()
    assert client.get("/accounts/2fa/totp/activate/").status_code == 404
    services.connection_set_enforced(connection=acme_sso, enforced=False)
    # allauth's own page again (it asks for the password first).
    assert client.get("/accounts/2fa/totp/activate/").status_code in {200, 302}
