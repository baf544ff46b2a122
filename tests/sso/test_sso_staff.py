"""The vendor's staff sign in through the vendor's provider (STAFF_SSO_* settings), to /team/
and to /admin/ alike; only existing staff, and never through a customer's provider."""

from typing import Any

import pytest
from django.test import Client

from licensing.models import Customer
from portal.models import SsoConnection, User
from tests.conftest import PASSWORD
from tests.servers import OidcProvider
from tests.sso.conftest import Browser

STAFF_CLIENT = {"client_id": "vendor-team", "client_secret": "vendor-secret-0123456789"}


@pytest.fixture
def staff_sso(settings: Any, oidc_provider: OidcProvider) -> None:
    oidc_provider.setup(
        applications=[
            {
                **STAFF_CLIENT,
                "redirect_uris": ["http://testserver/accounts/oidc/team/login/callback/"],
            }
        ]
    )
    settings.STAFF_SSO_ISSUER = oidc_provider.issuer
    settings.STAFF_SSO_CLIENT_ID = STAFF_CLIENT["client_id"]
    settings.STAFF_SSO_DOMAINS = ["vendor.test"]
    settings.STAFF_SSO_ENFORCED = True
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "team",
                    "name": "the vendor",
                    "client_id": STAFF_CLIENT["client_id"],
                    "secret": STAFF_CLIENT["client_secret"],
                    "settings": {"server_url": oidc_provider.issuer},
                }
            ]
        }
    }


def test_staff_sign_in_to_the_team_pages(
    staff_sso: None, account_manager: User, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("avery", account_manager.email)
    authorize = browser_session.start(account_manager.email, next="/admin/")
    assert "vendor-team" in authorize
    response = browser_session.back(browser_session.at_provider(authorize, "avery"))
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert browser_session.client.get("/team/customers/").status_code == 200


def test_staff_passwords_are_refused_when_enforced(
    staff_sso: None, account_manager: User, client: Client
) -> None:
    response = client.post(
        "/accounts/login/", {"login": account_manager.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_only_existing_staff_sign_in_through_the_vendors_provider(
    db: Any, staff_sso: None, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("newbie", "newbie@vendor.test")
    response = browser_session.sign_in("newbie@vendor.test", "newbie")
    assert response.status_code == 403
    assert not User.objects.filter(email="newbie@vendor.test").exists()


def test_a_customer_connection_cannot_take_the_vendors_domain(
    staff_sso: None, acme_sso: SsoConnection, customer: Customer
) -> None:
    from django.core.exceptions import ValidationError

    from portal.sso import services

    with pytest.raises(ValidationError, match="the vendor's own domain"):
        services.clean_domains("acme.test\nvendor.test", connection=acme_sso)
