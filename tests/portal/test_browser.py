"""A real browser (Debian's headless chromium) logs in and looks at the usage chart."""

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.urls import reverse

from licensing.models import Entitlement, Seat
from portal.models import User
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def launch_chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Debian's chromium through Playwright, or a skip when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by
    # fixtures around it are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # Django's connections are context-local, and Playwright runs an event loop in
            # this thread: what the test and the fixtures set up after this one opened is a
            # connection of that context, which pytest-django's teardown never sees (it was
            # left open, and the test database could not be dropped at the end of the run).
            connections.close_all()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


# The runs each line of the seats chart draws, by bucket ({label: {bucket: y}}: two points one
# bucket apart at the same height), and the denials panel.
RUNS_JS = """() => {
    const seats = Chart.getChart(document.getElementById("usage-chart"));
    const denials = Chart.getChart(document.getElementById("denials-chart"));
    if (!seats || !denials) return null;
    const runs = {};
    for (const d of seats.data.datasets) {
        const found = {};
        for (let k = 0; k + 1 < d.data.length; k++) {
            const a = d.data[k], b = d.data[k + 1];
            if (a && b && b.x - a.x === 1 && a.y === b.y) found[a.x + 0.5] = a.y;
        }
        runs[d.label.split(" (")[0]] = found;
    }
    const bars = denials.data.datasets[0].data.map(p => p.y);
    return {
        seats: runs,
        seatsTitle: seats.options.scales.y.title.text,
        scales: Object.keys(seats.scales),
        denials: {
            title: denials.options.scales.y.title.text,
            label: denials.data.datasets[0].label,
            points: bars.length,
            nonZero: bars.filter(v => v > 0).length,
            values: bars,
        },
    };
}"""


def collect_console(problems: list[str], name: str) -> Callable[[Any], None]:
    """Console errors and warnings (CSP violations among them) fail the test."""

    def collect(message: Any) -> None:
        if message.type in {"error", "warning"}:
            problems.append(f"{name} console {message.type}: {message.text}")

    return collect


def test_customer_admin_sees_the_usage_chart(
    browser: Any,
    live_server: Any,
    customer_admin: User,
    entitlement: Entitlement,
    make_history: Callable[..., Any],
    make_seats: Callable[..., list[Seat]],
    make_denials: Callable[..., Any],
) -> None:
    make_history(entitlement, hours=24 * 30)
    make_seats(entitlement, 30)
    make_denials(entitlement, 5)
    url = reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    for name, viewport in [
        ("desktop", {"width": 1280, "height": 900}),
        ("phone", {"width": 390, "height": 844}),
    ]:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.on("console", collect_console(problems, name))
        page.on("pageerror", lambda error, name=name: problems.append(f"{name}: {error}"))

        page.goto(f"{live_server.url}{url}")
        assert "/accounts/login/" in page.url  # not logged in yet: the login form
        page.fill("input[name=login]", customer_admin.email)
        # Email first: an address without single sign-on goes on to the password.
        page.click("form.login button[type=submit]")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")

        chart = page.evaluate(RUNS_JS)
        assert chart is not None, "no Chart.js chart on the page"
        # Each bucket is one horizontal run of each line (licensing.history points).
        for label in ("Seats in use", "Entitled seats", "Hard limit"):
            assert label in chart["seats"], f"{label} dataset missing from {chart}"
            assert len(chart["seats"][label]) == 30
        assert sum(1 for y in chart["seats"]["Seats in use"].values() if y > 0) == 30
        assert set(chart["seats"]["Entitled seats"].values()) == {100}
        # Denials are a panel of their own under the seats, not a second axis of it.
        assert chart["denials"]["title"] == "Denials"
        assert chart["denials"]["points"] == 30
        assert chart["denials"]["nonZero"] > 0
        assert page.locator("#capacity-note").inner_text().endswith("consider 130 seats.")
        assert page.locator(".seats-table tbody tr").count() == 25

        page.screenshot(path=str(SCREENSHOTS / f"entitlement-{name}.png"), full_page=True)
        page.screenshot(path=str(SCREENSHOTS / f"entitlement-{name}-top.png"))
        dashboard = reverse("customer:dashboard", args=[entitlement.customer.slug])
        page.goto(f"{live_server.url}{dashboard}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)
        context.close()

    assert problems == []
    assert os.path.getsize(SCREENSHOTS / "entitlement-phone.png") > 0
