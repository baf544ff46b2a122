"""The audit log at 1366 px (a common laptop width) shows each IP address on one line."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from licensing import services
from licensing.models import Entitlement
from portal.models import User
from tests.portal.test_browser import launch_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server: Any, account_manager: User, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A 1366x768 chromium page logged in as the account manager."""
    client = Client()
    client.force_login(account_manager)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with launch_chromium(monkeypatch) as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        yield context.new_page()


def test_ip_addresses_do_not_wrap_at_1366_px(
    page: Any, live_server: Any, account_manager: User, entitlement: Entitlement
) -> None:
    actor = services.Actor.of(account_manager, ip="127.0.0.1")
    services.entitlement_update(entitlement=entitlement, seats=110, actor=actor)
    services.entitlement_suspend(entitlement=entitlement, actor=actor)

    page.goto(f"{live_server.url}/team/audit/")
    page.wait_for_load_state("networkidle")

    # Lines of text in each IP cell: one box per line the address is broken over.
    lines = page.evaluate(
        """() => [...document.querySelectorAll("table.events tbody tr")].map(row => {
            const cell = row.lastElementChild;
            const range = document.createRange();
            range.selectNodeContents(cell);
            const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return [cell.textContent.trim(), tops.size];
        })"""
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "audit-1366.png"))
    assert [cell for cell in lines if cell[0] != "—"] == [["127.0.0.1", 1]] * 2
