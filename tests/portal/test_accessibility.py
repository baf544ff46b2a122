"""WCAG 2.1 AA on every page, checked with axe-core in headless chromium (issue 24).

Every page of every persona: the routes come from the permission test's walk over the URL
patterns (tests/portal/test_every_page_permissions.py), so a new page is audited without anyone
listing it, with the same objects in its path; allauth's pages are walked the same way. Every
form that takes typed input is also sent empty, and the page that answers (its error state) is
audited; so are the pages only a form reaches (a new token, a webhook secret, a member's
removal) and the error pages.

What axe checks and what we accept: tests/browser_tools/accessibility.py. Run with `-s` to see
the violations per page (`.venv/bin/pytest tests/portal/test_accessibility.py -s`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from licensing import services
from licensing.models import Customer, Membership
from portal import invitations, unavailable, views
from portal.models import User
from tests.browser_tools import accessibility
from tests.browser_tools.accessibility import Tally
from tests.conftest import PASSWORD
from tests.portal import test_every_page_permissions as every_page
from tests.portal.test_browser import launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The permission test's objects and logged-in clients (their session cookies log the browser in).
world = every_page.world
clients = every_page.clients

DESKTOP = {"width": 1280, "height": 900}
# Personas whose pages are audited. The outsider sees Acme's pages as the 404 page (audited
# with the error pages) and Globex's as any admin sees a customer's.
PERSONAS = ("account_manager", "customer_admin", "viewer", "anonymous")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


@pytest.fixture
def story(
    world: every_page.World,
    make_history: Callable[..., Any],
    viewer: User,
    other_customer: Customer,
) -> every_page.World:
    """The permission test's world with something on every page: 30 days of use rising into
    overdraft with denials and a running raise (beside the scheduled one), an entitlement in
    overdraft and one at its hard limit (each zone's badge), a customer whose only entitlement
    is suspended, and a viewer of two customers (who gets the list to pick from)."""
    make_history(world.entitlement, hours=24 * 30)
    services.raise_grant(
        entitlement=world.entitlement,
        extra_seats=5,
        ends_at=timezone.now() + timedelta(hours=6),
        reason="launch week",
    )
    initech = services.customer_create(name="Initech")
    services.entitlement_suspend(
        entitlement=services.entitlement_create(
            customer=initech, product=world.entitlement.product, seats=10, hard_limit=10
        )
    )
    for name, seats, hard_limit, used in (("Render Farm", 2, 4, 3), ("Build Cloud", 1, 2, 2)):
        entitlement = services.entitlement_create(
            customer=world.customer,
            product=services.product_create(name=name),
            seats=seats,
            hard_limit=hard_limit,
        )
        for n in range(used):
            services.seat_activate(entitlement=entitlement, fingerprint=f"{name}-{n}")
    Membership.objects.create(user=viewer, customer=other_customer, role=Membership.Role.VIEWER)
    return world


def _context(browser: Any, live_server: Any, client: Client) -> Any:
    """A browser context with `client`'s session (anonymous when it has none)."""
    context = accessibility.new_context(browser, viewport=DESKTOP)
    session = client.cookies.get(settings.SESSION_COOKIE_NAME)
    if session is not None:
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session.value, "url": live_server.url}]
        )
    return context


def _open(page: Any, url: str) -> Any | None:
    """Go to `url`: the response when an HTML page answers 200 (after redirects), else None
    (a 405 for a POST-only address, a download, JSON). Asked first outside the page, since
    chromium shows no page for a 405 without a body and starts a download for a CSV or PDF."""
    asked = page.request.get(url)
    if asked.status != 200 or not asked.headers.get("content-type", "").startswith("text/html"):
        return None
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    return response


def _path(page: Any) -> str:
    """Where the page landed, without the query (a redirect to log in carries `next`)."""
    return urlsplit(page.url).path


def _name(persona: str, route: str) -> str:
    return f"{persona} /{route}"


def _site_pages(persona: str, world: every_page.World) -> list[tuple[str, str]]:
    """(route, path) of every site page `persona` may see."""
    return [
        (route, every_page.fill(route, world))
        for route in every_page.page_routes()
        if every_page.expected(every_page.audience(route), persona) in ("allowed", "no_error")
    ]


def account_routes() -> list[str]:
    """allauth's pages without parameters in their address (login, password reset, 2FA...)."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if route == "" or route.startswith("accounts/"):
                    yield from walk(entry.url_patterns, route)
            elif route.startswith("accounts/") and not re.search(r"[<(^]", route):
                yield route

    return list(walk(get_resolver().url_patterns, ""))


def test_every_page_of_every_persona_passes_axe(
    browser: Any,
    live_server: Any,
    story: every_page.World,
    clients: dict[str, Client],
) -> None:
    tally = Tally()
    for persona in PERSONAS:
        context = _context(browser, live_server, clients[persona])
        page = context.new_page()
        seen: set[str] = set()
        for route, path in _site_pages(persona, story):
            if _open(page, f"{live_server.url}{path}") is None or _path(page) in seen:
                continue
            seen.add(_path(page))
            tally.add(_name(persona, route), accessibility.audit(page, _name(persona, route)))
        context.close()
    print(f"\n{tally.table()}")
    assert not tally.failures(), tally.report()


def _typed_forms(page: Any) -> list[int]:
    """The indexes of the page's POST forms with a field a person types into."""
    indexes: list[int] = page.evaluate(
        """() => Array.from(document.forms).flatMap((form, i) => {
            const typed = Array.from(form.elements).some(el =>
                el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && [
                    "text", "email", "number", "url", "password", "search", "tel",
                    "date", "datetime-local", "time",
                ].includes(el.type)));
            return form.method === "post" && typed ? [i] : [];
        })"""
    )
    return indexes


SEND_EMPTY = """(i) => {
    const form = document.forms[i];
    for (const el of form.elements) {
        if (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && ![
            "hidden", "checkbox", "radio", "submit", "button", "reset", "file",
        ].includes(el.type))) { el.value = ""; }
    }
    form.noValidate = true;  // the server's errors, not the browser's
    form.requestSubmit(form.querySelector("[type=submit], button:not([type])"));
}"""


def _send_forms_empty(
    page: Any, tally: Tally, url: str, name: str, server_errors: list[str]
) -> None:
    """Send each typed form of the page at `url` empty, from a fresh copy of the page, and
    audit the page that answers (the form with its errors, or where a valid empty form went)."""
    if _open(page, url) is None:
        return
    for index in _typed_forms(page):
        if _open(page, url) is None:
            return
        if not page.evaluate("(i) => i < document.forms.length", index):
            continue  # the page changed with an earlier form's answer
        with page.expect_navigation() as navigation:
            page.evaluate(SEND_EMPTY, index)
        response = navigation.value
        state = f"{name} [form {index + 1} sent empty]"
        if response is not None and response.status >= 500:
            server_errors.append(f"{state}: {response.status}")
            continue
        tally.add(state, accessibility.audit(page, state))


# Filters are GET forms: their error states, by address.
FILTER_ERRORS = {
    "team/customers/": "?q=%00",
    "team/events/": "?type=no-such-type&customer=No+Such+Slug&start=yesterday&end=2020-01-01",
    "team/audit/": "?customer=No+Such+Slug&start=yesterday",
}


def test_every_form_in_its_error_state_passes_axe(
    browser: Any,
    live_server: Any,
    story: every_page.World,
    clients: dict[str, Client],
) -> None:
    """Each persona's typed forms (the account team's on its own pages, a customer admin's on
    the customer's, anyone's on allauth's) sent empty, and the filters given nonsense."""
    tally = Tally()
    server_errors: list[str] = []
    accounts = [(route, f"/{route}") for route in account_routes()]
    paths = {
        "account_manager": [
            (route, path)
            for route, path in _site_pages("account_manager", story)
            if route.startswith("team/")
        ]
        + accounts,
        "customer_admin": _site_pages("customer_admin", story) + accounts,
        "anonymous": accounts,
    }
    for persona, pages in paths.items():
        context = _context(browser, live_server, clients[persona])
        page = context.new_page()
        for route, path in pages:
            url = f"{live_server.url}{path}"
            _send_forms_empty(page, tally, url, _name(persona, route), server_errors)
            if persona == "account_manager" and route in FILTER_ERRORS:
                name = f"{_name(persona, route)}{FILTER_ERRORS[route]}"
                if _open(page, url + FILTER_ERRORS[route]) is not None:
                    tally.add(name, accessibility.audit(page, name))
        context.close()
    print(f"\n{tally.table()}")
    assert server_errors == []
    assert not tally.failures(), tally.report()


def test_account_pages_and_pages_only_a_form_reaches_pass_axe(
    browser: Any,
    live_server: Any,
    story: every_page.World,
    clients: dict[str, Client],
    customer_admin: User,
    viewer: User,
) -> None:
    tally = Tally()

    def check(page: Any, name: str) -> None:
        tally.add(name, accessibility.audit(page, name))

    for persona in ("anonymous", "customer_admin"):
        context = _context(browser, live_server, clients[persona])
        page = context.new_page()
        seen: set[str] = set()
        for route in account_routes():
            if _open(page, f"{live_server.url}/{route}") is not None and _path(page) not in seen:
                seen.add(_path(page))
                check(page, _name(persona, route))
        context.close()

    context = _context(browser, live_server, clients["anonymous"])
    page = context.new_page()
    # The emailed password-reset link: a good one (it asks for the new password) and a bad one.
    key = default_token_generator.make_token(customer_admin)
    uid = user_pk_to_url_str(customer_admin)
    reset = reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": key})
    assert _open(page, f"{live_server.url}{reset}") is not None
    check(page, "anonymous password reset from the emailed key")
    bad = reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": "1-nope"})
    assert _open(page, f"{live_server.url}{bad}") is not None
    check(page, "anonymous password reset with a bad key")
    # An invitation revoked since it was sent.
    invitation, token = invitations.invitation_create(
        customer=story.customer,
        email="late@acme.test",
        role="viewer",
        actor=services.Actor.of(customer_admin),
    )
    invitations.invitation_revoke(invitation=invitation, actor=services.Actor.of(customer_admin))
    _open(page, f"{live_server.url}/invitations/{token}/")
    check(page, "anonymous revoked invitation")
    context.close()

    context = _context(browser, live_server, clients["account_manager"])
    page = context.new_page()
    # A new API token, shown once.
    assert _open(page, f"{live_server.url}{reverse('tokens:list')}") is not None
    page.fill("input[name=name]", "Billing sync")
    page.click("form[action$='/new'] button[type=submit]")
    page.wait_for_load_state()
    assert "Billing sync" in page.content()
    check(page, "account_manager token created")
    # A new webhook endpoint's secret, shown once.
    assert _open(page, f"{live_server.url}{reverse('team_webhooks:create')}") is not None
    page.fill("input[name=url]", "https://hooks.example.test/new")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    check(page, "account_manager webhook secret")
    context.close()

    context = _context(browser, live_server, clients["customer_admin"])
    page = context.new_page()
    members = reverse("customer_members", args=[story.customer.slug])
    assert _open(page, f"{live_server.url}{members}") is not None
    page.get_by_role("button", name=f"Remove {viewer.email}").click()
    page.wait_for_load_state()
    check(page, "customer_admin member removal")
    context.close()

    print(f"\n{tally.table()}")
    assert not tally.failures(), tally.report()


def _error_pages() -> dict[str, tuple[int, bytes]]:
    """The pages Django's handlers render for 400, 403, 500 and 503 (no request reaches them
    on purpose here), rendered by those handlers."""
    request = RequestFactory().get("/c/acme-corp/")
    found = {
        "400": views.bad_request(request),
        "403": views.permission_denied(request),
        "500": views.server_error(request),
        "503": unavailable.response(request, RuntimeError("database unavailable (a test)")),
    }
    return {code: (response.status_code, response.content) for code, response in found.items()}


def _serving(status: int, body: bytes) -> Callable[[Any], None]:
    def serve(route: Any) -> None:
        route.fulfill(status=status, body=body, content_type="text/html; charset=utf-8")

    return serve


def test_error_pages_pass_axe(browser: Any, live_server: Any, clients: dict[str, Client]) -> None:
    tally = Tally()
    context = _context(browser, live_server, clients["customer_admin"])
    page = context.new_page()
    page.goto(f"{live_server.url}/c/no-such-customer/")
    tally.add("404", accessibility.audit(page, "404"))
    for code, (status, body) in _error_pages().items():
        url = f"{live_server.url}/__error__/{code}"
        page.route(url, _serving(status, body))
        page.goto(url)
        tally.add(code, accessibility.audit(page, code))
    context.close()

    # A CSRF failure: a login form sent after its cookie went (a tab left open too long).
    context = _context(browser, live_server, clients["anonymous"])
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('account_login')}")
    page.fill("input[name=login]", "admin@acme.test")
    page.click("form.login button[type=submit]")  # email first, then the password step
    page.fill("input[name=password]", PASSWORD)
    context.clear_cookies()
    with page.expect_navigation() as navigation:
        page.click("form.login button[type=submit]")
    assert navigation.value.status == 403
    tally.add("403 CSRF", accessibility.audit(page, "403 CSRF"))
    context.close()

    print(f"\n{tally.table()}")
    assert not tally.failures(), tally.report()
