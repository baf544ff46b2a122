"""Settings of the tests' OpenID Connect provider. Environment (set by tests/sso_servers.py):
OIDC_PROVIDER_URL (its address, e.g. http://127.0.0.1:PORT), OIDC_PROVIDER_DB (SQLite file),
OIDC_PROVIDER_SETUP_TOKEN (guards POST /setup/), OIDC_PROVIDER_KEY_FILE (its RSA key, made
when missing)."""

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _private_key(path: Path) -> str:
    """The provider's RS256 signing key: generated on its first start, kept for its restarts
    (and its gunicorn workers) in the run's folder."""
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
    return path.read_text()


URL = os.environ.get("OIDC_PROVIDER_URL", "http://127.0.0.1:9000").rstrip("/")
DB = Path(os.environ.get("OIDC_PROVIDER_DB", "oidc-provider.sqlite3"))
SETUP_TOKEN = os.environ.get("OIDC_PROVIDER_SETUP_TOKEN", "")

SECRET_KEY = "tests-oidc-provider-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oauth2_provider",
    "tests.oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.oidc_provider.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
LOGIN_URL = "/login/"
# Its session cookie must not be the portal's: both live on 127.0.0.1 (cookies ignore ports).
SESSION_COOKIE_NAME = "provider_sessionid"
CSRF_COOKIE_NAME = "provider_csrftoken"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _private_key(
        Path(os.environ.get("OIDC_PROVIDER_KEY_FILE", DB.with_suffix(".key.pem")))
    ),
    "OIDC_ISS_ENDPOINT": f"{URL}/o",
    "OAUTH2_VALIDATOR_CLASS": "tests.oidc_provider.validator.Validator",
    "SCOPES": {"openid": "OpenID Connect", "profile": "Profile", "email": "Email"},
    "PKCE_REQUIRED": True,
}
