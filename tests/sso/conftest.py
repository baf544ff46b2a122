"""Single sign-on against a real OpenID Connect provider (tests/oidc_provider, served by
tests.servers.OidcProvider): the portal's test client on one side, a `requests` session as
the person's browser at the provider on the other."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from licensing.models import Customer
from portal.models import SsoConnection
from portal.sso import services
from tests.servers import OidcProvider

PROVIDER_PASSWORD = "provider-password-2026"
ACME_CLIENT = {"client_id": "acme-portal", "client_secret": "acme-secret-0123456789"}
GLOBEX_CLIENT = {"client_id": "globex-portal", "client_secret": "globex-secret-0123456789"}


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(autouse=True)
def _private_issuers(settings: Any) -> None:
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True


def callback_uri(base: str, customer: Customer) -> str:
    return f"{base}/accounts/oidc/c-{customer.slug}/login/callback/"


def connect(
    provider: OidcProvider,
    customer: Customer,
    client: dict[str, str],
    *,
    domains: str,
    base: str = "http://testserver",
    **options: Any,
) -> SsoConnection:
    provider.setup(applications=[{**client, "redirect_uris": [callback_uri(base, customer)]}])
    return services.connection_save(
        customer=customer,
        issuer=provider.issuer,
        client_id=client["client_id"],
        secret=client["client_secret"],
        domains=domains,
        **options,
    )


@pytest.fixture
def acme_sso(oidc_provider: OidcProvider, customer: Customer) -> SsoConnection:
    """Acme's provider for acme.test; members of `portal-admins` are admins."""
    return connect(
        oidc_provider, customer, ACME_CLIENT, domains="acme.test", admin_group="portal-admins"
    )


@pytest.fixture
def provider_user(oidc_provider: OidcProvider) -> Callable[..., dict[str, Any]]:
    def make(username: str, email: str, **claims: Any) -> dict[str, Any]:
        spec = {"username": username, "password": PROVIDER_PASSWORD, "email": email, **claims}
        oidc_provider.setup(users=[spec])
        return spec

    return make


class Browser:
    """The person's browser: the portal through Django's test client, the provider through a
    `requests` session (its own cookies)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.provider = requests.Session()

    def start(self, email: str, **extra: str) -> str:
        """The login page's email step; returns the provider's authorize URL it sends to."""
        response = self.client.post("/accounts/login/", {"login": email, **extra})
        assert response.status_code == 200, response.content[:500]
        found = re.search(r'id="sso-continue"[^>]* href="([^"]+)"', response.content.decode())
        assert found, response.content[:800]
        return html.unescape(found.group(1))

    def at_provider(self, authorize_url: str, username: str) -> str:
        """Sign in at the provider; returns the portal callback URL it sends back to."""
        response = self.provider.get(authorize_url, allow_redirects=False)
        assert response.status_code == 302, response.text[:500]
        login_url = response.headers["Location"]
        if "/accounts/oidc/" in login_url:
            return str(login_url)  # signed in at the provider already
        if login_url.startswith("/"):
            login_url = (
                f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}{login_url}"
            )
        page = self.provider.get(login_url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        next_url = parse_qs(urlsplit(login_url).query)["next"][0]
        response = self.provider.post(
            login_url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": username,
                "password": PROVIDER_PASSWORD,
                "next": next_url,
            },
            headers={"Referer": login_url},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        base = f"{urlsplit(login_url).scheme}://{urlsplit(login_url).netloc}"
        response = self.provider.get(base + response.headers["Location"], allow_redirects=False)
        assert response.status_code == 302, response.text[:500]
        return str(response.headers["Location"])

    def back(self, callback_url: str) -> Any:
        parts = urlsplit(callback_url)
        return self.client.get(f"{parts.path}?{parts.query}")

    def sign_in(self, email: str, username: str) -> Any:
        return self.back(self.at_provider(self.start(email), username))


@pytest.fixture
def browser_session(client: Client) -> Browser:
    return Browser(client)
