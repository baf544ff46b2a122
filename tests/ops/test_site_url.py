"""SITE_URL, the portal's public address that every absolute link starts with, is checked at
start-up like every other variable."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from licensing import links
from portal.env import env_url


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("https://portal.example.com/", "https://portal.example.com"),
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010"),
        ("https://example.com/portal/", "https://example.com/portal"),
        ("", "http://127.0.0.1:8000"),  # empty: the default
    ],
)
def test_site_url_is_read_without_its_trailing_slash(
    raw: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_URL", raw)
    assert env_url("SITE_URL", "http://127.0.0.1:8000") == value


@pytest.mark.parametrize(
    "raw",
    [
        "portal.example.com",
        "ftp://portal.example.com",
        "https://",
        "http://host:port",
        "http://x/?a",
    ],
)
def test_a_site_url_that_is_not_an_http_url_is_refused_naming_the_variable(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_URL", raw)
    with pytest.raises(ImproperlyConfigured, match="SITE_URL must be an http"):
        env_url("SITE_URL", "http://127.0.0.1:8000")


def test_links_are_absolute_on_site_url(settings: Any) -> None:
    settings.SITE_URL = "https://portal.example.com"
    assert links.absolute("/c/acme/") == "https://portal.example.com/c/acme/"
