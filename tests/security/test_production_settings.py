"""Production settings: `check --deploy` is clean, secrets come only from the environment (or
files it names), and the portal refuses to start with a default key or DEBUG on.

Each test starts a fresh Python process, since settings are read once at start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_secret

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 20 + "-production-key-for-tests-0123456789"


def _env(**overrides: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SECRET_KEY", "DATABASE_URL", "DEBUG", "PORTAL_ENV"))
    }
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY=STRONG_KEY,
        SITE_URL="https://portal.example.com",
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(args: list[str], **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _python(code: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return _run(["-c", "import django; django.setup()\n" + code], **overrides)


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_site_url() -> None:
    """Links in emails would otherwise point at 127.0.0.1."""
    result = _python("", SITE_URL=None)
    assert result.returncode != 0
    assert "SITE_URL must be set when PORTAL_ENV=production" in result.stderr


def test_check_deploy_warns_without_https_settings() -> None:
    """The same check fails in development mode: the test above really looks at them."""
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PORTAL_ENV="development"
    )
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_production_cookies_hsts_and_redirect() -> None:
    result = _python(
        "from django.conf import settings as s\n"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.CSRF_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.X_FRAME_OPTIONS,"
        " s.SECURE_REFERRER_POLICY)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        *["True"] * 5,
        str(365 * 24 * 3600),
        "True",
        "True",
        "DENY",
        "same-origin",
    ]


def test_plain_http_is_redirected_but_probes_are_not() -> None:
    """Load balancers probe /healthz over plain HTTP by address; people are sent to HTTPS."""
    result = _python(
        "from django.test import Client\n"
        "c = Client()\n"
        "home = c.get('/')\n"
        "print(home.status_code, home.headers.get('Location'))\n"
        "print(c.get('/healthz').status_code)\n"
        "secure = c.get('/', secure=True)\n"
        "print(secure.status_code, secure.headers.get('Strict-Transport-Security'))\n"
        "print(secure.headers.get('Content-Security-Policy'))\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "301 https://testserver/"
    assert lines[1] == "200"
    assert lines[2] == "200 max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in lines[3]


def test_proxy_ssl_header_is_read_from_the_environment() -> None:
    result = _python(
        "from django.conf import settings as s\nprint(s.SECURE_PROXY_SSL_HEADER)",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        (
            {"SECRET_KEY": "insecure-development-key-do-not-use-in-production"},
            "SECRET_KEY must be set",
        ),
        ({"DEBUG": "1"}, "DEBUG must be off"),
    ],
    ids=["no-key", "short-key", "default-key", "debug-on"],
)
def test_production_refuses_to_start_insecurely(
    overrides: dict[str, str | None], message: str
) -> None:
    result = _run(["manage.py", "check"], **overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(STRONG_KEY[::-1] + "\n")
    result = _python(
        "from django.conf import settings\nprint(settings.SECRET_KEY)",
        SECRET_KEY=None,
        SECRET_KEY_FILE=str(key_file),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == STRONG_KEY[::-1]


def test_database_url_can_come_from_a_file(tmp_path: Path) -> None:
    url_file = tmp_path / "database_url"
    url_file.write_text("postgres://portal:s3cret@db.internal:5432/portal\n")
    result = _python(
        "from django.conf import settings\nd = settings.DATABASES['default']\n"
        "print(d['HOST'], d['PASSWORD'], d['NAME'])",
        DATABASE_URL_FILE=str(url_file),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db.internal", "s3cret", "portal"]


def test_env_secret_refuses_both_the_variable_and_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file")
    monkeypatch.setenv("PORTAL_TEST_SECRET_FILE", str(key_file))
    assert env_secret("PORTAL_TEST_SECRET") == "from-file"
    monkeypatch.setenv("PORTAL_TEST_SECRET", "from-env")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("PORTAL_TEST_SECRET")


def test_env_secret_names_the_variable_of_a_missing_or_empty_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORTAL_TEST_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_SECRET_FILE"):
        env_secret("PORTAL_TEST_SECRET")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("PORTAL_TEST_SECRET_FILE", str(tmp_path / "empty"))
    with pytest.raises(ImproperlyConfigured, match="empty"):
        env_secret("PORTAL_TEST_SECRET")
