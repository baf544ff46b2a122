"""The connection's pages: the account team sets it up (the provider's discovery checked on
save); the customer's admins see it, and change it only when the vendor lets them."""

from typing import Any

from django.test import Client

from licensing.models import AuditEntry, Customer
from portal.models import SsoConnection, User
from tests.servers import OidcProvider
from tests.sso.conftest import ACME_CLIENT


def form(provider: OidcProvider, **changes: str) -> dict[str, str]:
    return {
        "issuer": provider.issuer,
        "client_id": ACME_CLIENT["client_id"],
        "secret": ACME_CLIENT["client_secret"],
        "domains": "acme.test\nacme-corp.test",
        "default_role": "viewer",
        "groups_claim": "groups",
        "admin_group": "portal-admins",
        **changes,
    }


def test_the_team_sets_up_a_connection(
    oidc_provider: OidcProvider, customer: Customer, account_manager: User, client: Client
) -> None:
    client.force_login(account_manager)
    url = f"/team/customers/{customer.slug}/sso/"
    page = client.get(url)
    assert page.status_code == 200
    assert f"/accounts/oidc/c-{customer.slug}/login/callback/" in page.content.decode()

    response = client.post(url, form(oidc_provider))
    assert response.status_code == 302
    connection = SsoConnection.objects.get(customer=customer)
    assert connection.issuer == oidc_provider.issuer
    assert sorted(connection.domains.values_list("domain", flat=True)) == [
        "acme-corp.test",
        "acme.test",
    ]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SSO_CONNECTION_SAVED)
    assert entry.actor == account_manager
    assert ACME_CLIENT["client_secret"] not in str(entry.changes)
    assert ACME_CLIENT["client_secret"] not in client.get(url).content.decode()


def test_a_wrong_issuer_is_a_clear_error_and_changes_nothing(
    oidc_provider: OidcProvider, customer: Customer, account_manager: User, client: Client
) -> None:
    client.force_login(account_manager)
    response = client.post(
        f"/team/customers/{customer.slug}/sso/",
        form(oidc_provider, issuer=f"{oidc_provider.url}/other"),
    )
    assert response.status_code == 400
    assert "names its issuer" in response.content.decode()
    assert not SsoConnection.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SSO_CONNECTION_SAVED).exists()


def test_bad_domains_are_refused(
    oidc_provider: OidcProvider, customer: Customer, account_manager: User, client: Client
) -> None:
    client.force_login(account_manager)
    response = client.post(
        f"/team/customers/{customer.slug}/sso/", form(oidc_provider, domains="not a domain!")
    )
    assert response.status_code == 400
    assert "is not an email domain" in response.content.decode()


def test_another_customers_domain_is_refused(
    acme_sso: SsoConnection,
    oidc_provider: OidcProvider,
    other_customer: Customer,
    account_manager: User,
    client: Client,
) -> None:
    client.force_login(account_manager)
    response = client.post(
        f"/team/customers/{other_customer.slug}/sso/", form(oidc_provider, domains="acme.test")
    )
    assert response.status_code == 400
    assert "acme.test signs in through another customer" in response.content.decode()


def test_customer_admins_see_but_do_not_change_unless_allowed(
    acme_sso: SsoConnection, customer: Customer, customer_admin: User, client: Client, settings: Any
) -> None:
    client.force_login(customer_admin)
    page = client.get(f"/c/{customer.slug}/sso/")
    assert page.status_code == 200
    assert "Your account manager sets up" in page.content.decode()
    enforce = f"/c/{customer.slug}/sso/enforce"
    assert client.post(enforce, {"enforced": "on"}).status_code == 400
    acme_sso.refresh_from_db()
    assert not acme_sso.enforced

    settings.SSO_CUSTOMER_ADMINS_MAY_CONFIGURE = True
    assert client.post(enforce, {"enforced": "on"}).status_code == 302
    acme_sso.refresh_from_db()
    assert acme_sso.enforced
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SSO_ENFORCEMENT_CHANGED)
    assert entry.actor == customer_admin


def test_viewers_do_not_see_it(
    acme_sso: SsoConnection, customer: Customer, viewer: User, client: Client
) -> None:
    client.force_login(viewer)
    assert client.get(f"/c/{customer.slug}/sso/").status_code == 404
