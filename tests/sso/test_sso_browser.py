"""A real browser (Debian's headless chromium) signs in through a customer's real OpenID
Connect provider (tests/oidc_provider): email first, the provider's login form, back in the
portal as the customer's member; and a new person, made just in time as an admin by the
groups claim. Screenshots go to artifacts/screenshots/sso-*.png."""

from collections.abc import Iterator
from typing import Any

import pytest

from licensing.models import Customer, Membership
from portal.models import User
from tests.portal.test_browser import SCREENSHOTS, launch_chromium
from tests.servers import OidcProvider
from tests.sso.conftest import ACME_CLIENT, PROVIDER_PASSWORD, connect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


def collect_console(problems: list[str], name: str, portal: str) -> Any:
    """The portal's console errors and warnings fail the test (the provider's are its own)."""

    def collect(message: Any) -> None:
        if message.type in {"error", "warning"} and message.location.get("url", "").startswith(
            portal
        ):
            problems.append(f"{name} console {message.type}: {message.text}")

    return collect


def sign_in(page: Any, base: str, email: str, username: str, shots: str = "") -> None:
    """From a customer page: the portal's email step, the provider's form, back."""
    page.fill("input[name=login]", email)
    if shots:
        page.screenshot(path=str(SCREENSHOTS / f"{shots}-1-email.png"), full_page=True)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#provider-login")
    assert "Example Identity Provider" in page.content()
    page.fill("#id_username", username)
    page.fill("#id_password", PROVIDER_PASSWORD)
    if shots:
        page.screenshot(path=str(SCREENSHOTS / f"{shots}-2-provider.png"), full_page=True)
    page.click("#provider-login button[type=submit]")
    page.wait_for_url(f"{base}/c/**")
    page.wait_for_load_state("networkidle")


def test_customer_admin_and_a_new_admin_sign_in_through_the_provider(
    browser: Any,
    live_server: Any,
    oidc_provider: OidcProvider,
    customer: Customer,
    customer_admin: User,
) -> None:
    connect(
        oidc_provider,
        customer,
        ACME_CLIENT,
        domains="acme.test",
        base=live_server.url,
        admin_group="portal-admins",
    )
    oidc_provider.setup(
        users=[
            {"username": "ada", "password": PROVIDER_PASSWORD, "email": customer_admin.email},
            {
                "username": "nia",
                "password": PROVIDER_PASSWORD,
                "email": "nia@acme.test",
                "groups": ["portal-admins"],
            },
        ]
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    dashboard = f"{live_server.url}/c/{customer.slug}/"

    # The customer's admin, on a desktop.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", collect_console(problems, "desktop", live_server.url))
    page.goto(dashboard)
    assert "/accounts/login/" in page.url
    assert page.locator("input[name=password]").count() == 0  # email first
    sign_in(page, live_server.url, customer_admin.email, "ada", shots="sso-admin")
    assert page.url == dashboard
    assert customer.name in page.locator("h1").inner_text()
    assert customer_admin.email in page.locator(".nav-user").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sso-admin-3-dashboard.png"), full_page=True)
    context.close()

    # A new person, on a phone: made just in time, an admin by the groups claim.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.on("console", collect_console(problems, "phone", live_server.url))
    page.goto(dashboard)
    sign_in(page, live_server.url, "nia@acme.test", "nia", shots="sso-new-phone")
    assert page.url == dashboard
    page.goto(f"{live_server.url}/c/{customer.slug}/members/")
    row = page.locator("tr", has_text="nia@acme.test")
    assert row.locator("select[name=role]").input_value() == "admin"
    page.screenshot(path=str(SCREENSHOTS / "sso-new-phone-3-members.png"), full_page=True)
    context.close()

    assert Membership.objects.get(user__email="nia@acme.test").role == Membership.Role.ADMIN
    assert not problems, problems
