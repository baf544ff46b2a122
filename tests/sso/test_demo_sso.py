"""The demo's single sign-on (scripts/demo_sso.py, which scripts/demo starts): its own identity
provider comes up, Initech is connected to it, Peter signs in through it in a real browser and
joins Initech as an admin, and the provider stops when the demo stops it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from licensing.models import Customer, Membership
from tests.portal.test_browser import SCREENSHOTS, launch_chromium
from tests.sso.test_sso_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "demo_sso.py"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


def database_url() -> str:
    """The test database, for the script's own process."""
    db = connection.settings_dict
    assert connection.vendor == "postgresql", "the script's process needs a database server"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def started(process: subprocess.Popen[str], timeout: float = 90) -> str:
    """The line the script prints once Initech is connected."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("Single sign-on:"):
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"scripts/demo_sso.py did not start (exit {process.poll()})")


def test_the_demo_signs_initech_in_through_a_provider_it_starts(
    browser: Any, live_server: Any
) -> None:
    Customer.objects.create(name="Initech", slug="initech")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "SITE_URL": live_server.url,
        "SSO_ALLOW_PRIVATE_ISSUERS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        line = started(process)
        assert "peter@initech.example" in line
        match = re.search(r"at http://127\.0\.0\.1:(\d+) ", line)
        assert match is not None, line
        port = int(match.group(1))

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live_server.url}/c/initech/")
        sign_in(page, live_server.url, "peter@initech.example", "peter")
        page.screenshot(path=str(SCREENSHOTS / "sso-demo-initech.png"), full_page=True)

        assert page.url.rstrip("/").endswith("/c/initech")
        assert "peter@initech.example" in page.content()
        membership = Membership.objects.get(user__email="peter@initech.example")
        assert (membership.customer.slug, membership.role) == ("initech", Membership.Role.ADMIN)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the provider stopped with the script
