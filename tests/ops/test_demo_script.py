"""The demo runs as a visitor would see the product: DEBUG off (the styled error pages, no
list of URL patterns) and its static files served by WhiteNoise, which `runserver` does not do
itself without DEBUG."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.test import Client

DEMO = Path(django_settings.BASE_DIR) / "scripts" / "demo"


def test_the_demo_script_does_not_turn_debug_on() -> None:
    script = DEMO.read_text()
    # `DEBUG=1`, `DEBUG="${DEBUG:-1}"`, `DEBUG=true` and the like.
    assert not re.search(r"DEBUG=[\"']?(\$\{DEBUG:-)?(1|true|yes|on)\b", script, re.IGNORECASE)


def test_static_files_are_served_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    response = Client().get("/static/css/portal.css")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b".team-nav" in response.getvalue()  # a FileResponse: streamed


def test_without_debug_a_missing_page_is_the_styled_404(settings: Any, db: Any) -> None:
    settings.DEBUG = False
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "/static/css/portal.css" in body
    assert "Page not found" in body
    assert "URLconf" not in body  # Django's debug page lists the URL patterns
