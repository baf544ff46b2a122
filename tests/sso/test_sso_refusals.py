"""What a provider's answer must not do: each is refused, and no one is signed in."""

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.core.exceptions import ValidationError

from licensing.models import Customer, Membership
from portal.models import SsoConnection, User
from portal.sso import services
from tests.conftest import PASSWORD
from tests.servers import OidcProvider
from tests.sso.conftest import GLOBEX_CLIENT, Browser, connect

_logged: list[pytest.LogCaptureFixture] = []


@pytest.fixture(autouse=True)
def _log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="portal.sso")
    _logged[:] = [caplog]


def refused(response: Any, browser: Browser, text: str = "", *, why: str = "") -> None:
    """A 403 page, no one signed in; `text` on the page, `why` in the portal's log."""
    assert response.status_code == 403, response.content[:800]
    assert "_auth_user_id" not in browser.client.session
    if text:
        assert text in response.content.decode()
    if why:
        assert why in _logged[0].text, _logged[0].text


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_an_id_token_of_another_issuer_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("mallory", "mallory@acme.test", id_token_overrides={"iss": "https://evil.test/o"})
    refused(
        browser_session.sign_in("mallory@acme.test", "mallory"),
        browser_session,
        why="Invalid issuer",
    )
    assert not User.objects.filter(email="mallory@acme.test").exists()


def test_a_discovery_document_naming_another_issuer_is_refused_on_save(
    oidc_provider: OidcProvider, customer: Customer
) -> None:
    with pytest.raises(ValidationError) as raised:
        services.connection_save(
            customer=customer,
            issuer=f"{oidc_provider.url}/other",
            client_id="acme-portal",
            secret="s",
            domains="acme.test",
        )
    assert "names its issuer" in str(raised.value.message_dict["issuer"])
    assert not SsoConnection.objects.exists()


def test_an_issuer_that_is_no_provider_is_refused_on_save(
    oidc_provider: OidcProvider, customer: Customer
) -> None:
    with pytest.raises(ValidationError) as raised:
        services.connection_save(
            customer=customer,
            issuer=f"{oidc_provider.url}/nothing",
            client_id="acme-portal",
            secret="s",
            domains="acme.test",
        )
    assert "answered 404" in str(raised.value.message_dict["issuer"])


def test_an_id_token_for_another_audience_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("trudy", "trudy@acme.test", id_token_overrides={"aud": "another-client"})
    refused(
        browser_session.sign_in("trudy@acme.test", "trudy"),
        browser_session,
        why="Audience doesn't match",
    )


def test_a_replayed_callback_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser, client: Any
) -> None:
    provider_user("vera", "vera@acme.test")
    callback = browser_session.at_provider(browser_session.start("vera@acme.test"), "vera")
    assert browser_session.back(callback).status_code == 302
    browser_session.client.logout()
    refused(browser_session.back(callback), browser_session)


def test_a_callback_without_state_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("vera", "vera@acme.test")
    callback = browser_session.at_provider(browser_session.start("vera@acme.test"), "vera")
    refused(browser_session.back(with_query(callback, state=None)), browser_session)


def test_an_id_token_without_the_nonce_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("vera", "vera@acme.test")
    authorize = with_query(browser_session.start("vera@acme.test"), nonce=None)
    refused(
        browser_session.back(browser_session.at_provider(authorize, "vera")),
        browser_session,
        why="carries no nonce",
    )


def test_an_id_token_with_an_earlier_sign_ins_nonce_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("vera", "vera@acme.test")
    first = browser_session.start("vera@acme.test")
    assert browser_session.back(browser_session.at_provider(first, "vera")).status_code == 302
    browser_session.client.logout()
    old_nonce = parse_qs(urlsplit(first).query)["nonce"][0]
    second = with_query(browser_session.start("vera@acme.test"), nonce=old_nonce)
    refused(
        browser_session.back(browser_session.at_provider(second, "vera")),
        browser_session,
        why="nonce is not this sign-in's",
    )


def test_an_email_outside_the_customers_domains_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("eve", "eve@elsewhere.test")
    authorize = browser_session.start("someone@acme.test")
    response = browser_session.back(browser_session.at_provider(authorize, "eve"))
    refused(response, browser_session, "eve@elsewhere.test is not an address of Acme Corp")
    assert not User.objects.filter(email="eve@elsewhere.test").exists()


def test_an_unverified_email_is_refused(
    acme_sso: SsoConnection, provider_user: Any, browser_session: Browser
) -> None:
    provider_user("una", "una@acme.test", email_verified=False)
    response = browser_session.sign_in("una@acme.test", "una")
    refused(response, browser_session, "has not verified una@acme.test")
    assert not User.objects.filter(email="una@acme.test").exists()


def test_a_password_login_of_an_enforced_customers_member_is_refused(
    acme_sso: SsoConnection, customer_admin: User, client: Any
) -> None:
    services.connection_set_enforced(connection=acme_sso, enforced=True)
    response = client.post(
        "/accounts/login/", {"login": customer_admin.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "passwords are not accepted" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_another_customers_provider_cannot_sign_in_acme_people(
    acme_sso: SsoConnection,
    oidc_provider: OidcProvider,
    other_customer: Customer,
    provider_user: Any,
    browser_session: Browser,
) -> None:
    """Globex's connection (same provider software, its own client) sends back an identity
    of acme.test: refused, because acme.test signs in through Acme's connection only."""
    connect(oidc_provider, other_customer, GLOBEX_CLIENT, domains="globex.test")
    provider_user("vera", "vera@acme.test")
    authorize = browser_session.start("someone@globex.test")
    assert "globex-portal" in authorize
    refused(browser_session.back(browser_session.at_provider(authorize, "vera")), browser_session)
    assert not Membership.objects.filter(customer=other_customer).exists()
