"""Settings for the overdraft licensing portal, driven by environment variables.

Unset variables give the embedded default: SQLite in the project folder, Celery tasks run
in-process after commit, emails to the console. `.env.example` lists every variable.
"""

import copy
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_networks, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

# PORTAL_ENV=production turns on the checks and cookie/HSTS settings a real deployment needs;
# the default, development, runs with nothing configured.
PORTAL_ENV = env_str("PORTAL_ENV", "development")
if PORTAL_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"PORTAL_ENV must be development or production, got {PORTAL_ENV!r}")
PRODUCTION = PORTAL_ENV == "production"
DEBUG = env_bool("DEBUG", default=False)
_INSECURE_KEY = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = env_secret("SECRET_KEY", _INSECURE_KEY)  # or SECRET_KEY_FILE
if PRODUCTION and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 32+ characters.")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PORTAL_ENV=production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Proxies (addresses or networks) whose X-Forwarded-For is believed: from a request whose peer
# is one of them, portal.proxy takes the client's address from that header (the nearest hop
# that is not itself a trusted proxy). Unset: the header is ignored and the peer is the client.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "portal",
    "licensing",
    "webhooks",
]

MIDDLEWARE = [
    # The client's address first (everything after counts and logs it); then the request id
    # (every later log line carries it); probes and /metrics are answered before host
    # validation, so load balancers and Prometheus can address servers by IP.
    "portal.proxy.TrustedProxyMiddleware",
    "portal.logging.RequestIdMiddleware",
    "portal.health.HealthCheckMiddleware",
    "portal.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the database: which reads of this request may go to the replica.
    "portal.db_router.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, so it sees the views' exceptions: a database outage is a 503, not a 500.
    "portal.unavailable.ServiceUnavailableMiddleware",
]

# The client API (software clients calling /api/v1/activations and /api/v1/entitlement with a
# license key) is served by portal.wsgi through this shorter list: no static files, sessions,
# CSRF, users or messages, none of which a license-key call uses; ids, metrics, security
# headers and host validation (CommonMiddleware) stay. docs/performance.md has the measurement.
CLIENT_API_MIDDLEWARE = [
    "portal.proxy.TrustedProxyMiddleware",
    "portal.logging.RequestIdMiddleware",
    "portal.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.unavailable.ServiceUnavailableMiddleware",
]

# Security headers on every response (SecurityMiddleware, XFrameOptionsMiddleware; the CSP
# comes from portal.middleware).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Forms carry the CSRF token in a hidden field and no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# A failed check (often a form left open across a log-in elsewhere) is a styled page.
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
if PRODUCTION:
    # HTTPS only: cookies never travel in clear, browsers remember to use HTTPS (HSTS), and
    # plain HTTP is redirected, except the probes and /metrics that load balancers and
    # Prometheus call by address (their middleware answers before this one anyway).
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    # Turning these off is a deliberate choice (a proxy redirects to HTTPS; the domain stays
    # off browsers' preload lists), so `check --deploy` need not warn about it.
    SILENCED_SYSTEM_CHECKS = [
        *([] if SECURE_SSL_REDIRECT else ["security.W008"]),
        *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
    ]
# Behind a TLS-terminating proxy: the header it sets, e.g. "X-Forwarded-Proto" (value https)
# or "X-Forwarded-Proto=https". Only set it when the proxy always overwrites that header.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER").strip()
if _proxy_ssl_header:
    _header, _, _value = _proxy_ssl_header.partition("=")
    if not _header.strip() or any(c in _header for c in " :"):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must look like X-Forwarded-Proto or "
            f"X-Forwarded-Proto=https, got {_proxy_ssl_header!r}"
        )
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _header.strip().upper().replace("-", "_"),
        _value.strip() or "https",
    )

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL in the usual URL form, e.g. postgres://user@host:5432/name or
# sqlite:///path/to/file. Unset: a SQLite file in the project folder.
_database_url = env_secret("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    _database = dj_database_url.parse(_database_url)
except Exception as exc:  # dj-database-url raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy timeout
    # instead of failing with "database is locked" when a reader upgrades to a writer.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _database["ENGINE"] == "django.db.backends.postgresql":
    # DATABASE_POOL=N: the threads of each web process share a pool of at most N connections
    # (psycopg_pool), which caps the requests queueing on one hot row; 0: a persistent
    # connection per thread. Production default 2 (docs/performance.md has the measurements);
    # development and the tests keep persistent connections.
    _pool_size = env_int("DATABASE_POOL", 2 if PRODUCTION else 0, minimum=0)
    # portal.postgres: Django's backend with a circuit breaker (a down server costs one bounded
    # wait per DATABASE_RETRY_SECONDS, then requests get a 503 at once) and, with a pool, a
    # cheaper check of pooled connections.
    _database["ENGINE"] = "portal.postgres"
    if _pool_size:
        # The pool checks each connection it lends, so one broken while idle (database restart)
        # is replaced, not used; portal.postgres makes that check cheap, in place of Django's
        # round trip per request (CONN_HEALTH_CHECKS).
        _database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": _pool_size,
            "max_size": _pool_size,
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 3, minimum=1),
        }
        _database["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
        _database["CONN_HEALTH_CHECKS"] = False
    else:
        _database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
        _database["CONN_HEALTH_CHECKS"] = True
    # A database host that drops packets must fail a request (and /readyz) fast, not hang it.
    _database.setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 2, minimum=1)
    )
    # Django turns psycopg's prepared statements off (its own cursors bind client-side and never
    # prepare anyway); licensing/statements.py prepares the client API's hot statements, once
    # per connection. Behind PgBouncer in transaction mode that needs PgBouncer 1.21+ with
    # max_prepared_statements set (docs/operations.md).
    _database["OPTIONS"]["prepare_threshold"] = 5
DATABASES = {"default": _database}
# DATABASE_REPLICA_URL: a streaming replica of that PostgreSQL database. Portal pages and the
# vendor API's GETs read from it (portal.db_router decides which reads may); writes, reads
# inside a transaction, the client API and whoever wrote in the last
# DATABASE_REPLICA_STICKY_SECONDS stay on the primary. Same connection settings as the
# primary; the tests point it at the test database (MIRROR), and it is never migrated.
_replica_url = env_secret("DATABASE_REPLICA_URL")
if _replica_url:
    if _database["ENGINE"] != "portal.postgres":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL to be PostgreSQL.")
    try:
        _replica = dj_database_url.parse(_replica_url)
    except Exception as exc:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URL is not a valid database URL: {exc}"
        ) from None
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a postgres:// URL.")
    DATABASES["replica"] = copy.deepcopy(_database)
    for _key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        DATABASES["replica"][_key] = _replica[_key]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["portal.db_router.PrimaryReplicaRouter"]
DATABASE_REPLICA_STICKY_SECONDS = env_int("DATABASE_REPLICA_STICKY_SECONDS", 5, minimum=0)
# While the database is unavailable: seconds between tries (the breaker in portal.postgres),
# and the Retry-After of the 503 that requests get meanwhile (portal.unavailable).
DATABASE_RETRY_SECONDS = env_int("DATABASE_RETRY_SECONDS", 2, minimum=1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Outside production (the demo's runserver runs without DEBUG) files are looked up on each
# request, so a stylesheet edited while it runs is served whole, not cut at its old length.
WHITENOISE_AUTOREFRESH = not PRODUCTION

# Accounts (django-allauth): email is the login.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
# Accounts come from invitations: /accounts/signup/ shows "sign-up is closed" unless this is
# on (portal.adapters.AccountAdapter.is_open_for_signup).
ACCOUNT_ALLOW_SIGNUP = env_bool("ACCOUNT_ALLOW_SIGNUP", False)
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
# No page tells whether an address has an account: password reset answers alike for any
# address, login failures read alike. (allauth's default, stated because it is relied on.)
ACCOUNT_PREVENT_ENUMERATION = True
# A password reset for an unknown address emails nothing: the mail would invite a stranger
# to sign up, which only makes sense when signup is open.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = ACCOUNT_ALLOW_SIGNUP
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"
# Login brute force: after 5 failed logins for one address in 5 minutes (or 10 a minute from
# one IP, the peer address: X-Forwarded-For is not trusted) further logins are refused, even
# with the right password, until the window passes. Counted in the default cache (Redis).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip"}

# Single sign-on (OpenID Connect; portal.sso, docs/sso.md). Each customer's provider is saved
# in /team/ (django-allauth's SocialApp, provider `openid_connect`); people are made by the
# portal at their first sign-in (portal.sso.services), never by allauth's signup form.
SOCIALACCOUNT_ADAPTER = "portal.sso.adapter.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = env_int("SSO_TIMEOUT_SECONDS", 5, minimum=1)
# The vendor's own provider, for its staff (the account team) at /team/ and /admin/: set
# all three to turn it on; STAFF_SSO_DOMAINS are the email domains that sign in through it.
STAFF_SSO_ISSUER = env_str("STAFF_SSO_ISSUER")
STAFF_SSO_CLIENT_ID = env_str("STAFF_SSO_CLIENT_ID")
STAFF_SSO_CLIENT_SECRET = env_secret("STAFF_SSO_CLIENT_SECRET", "")  # or ..._FILE
STAFF_SSO_DOMAINS = env_list("STAFF_SSO_DOMAINS", [])
# On: staff of those domains can no longer sign in with a password (break-glass:
# `manage.py sso_break_glass --email ...`).
STAFF_SSO_ENFORCED = env_bool("STAFF_SSO_ENFORCED", default=False)
if STAFF_SSO_ISSUER and not (STAFF_SSO_CLIENT_ID and STAFF_SSO_DOMAINS):
    raise ImproperlyConfigured(
        "STAFF_SSO_ISSUER needs STAFF_SSO_CLIENT_ID, STAFF_SSO_CLIENT_SECRET and STAFF_SSO_DOMAINS."
    )
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [
                {
                    "provider_id": "team",
                    "name": "the vendor",
                    "client_id": STAFF_SSO_CLIENT_ID,
                    "secret": STAFF_SSO_CLIENT_SECRET,
                    "settings": {"server_url": STAFF_SSO_ISSUER},
                }
            ]
            if STAFF_SSO_ISSUER
            else []
        ),
    }
}
# Customer admins may configure their own customer's provider (and enforce it); off, only the
# account team does.
SSO_CUSTOMER_ADMINS_MAY_CONFIGURE = env_bool("SSO_CUSTOMER_ADMINS_MAY_CONFIGURE", default=False)
# Providers on plain http:// or private addresses (tests, local development only).
SSO_ALLOW_PRIVATE_ISSUERS = env_bool("SSO_ALLOW_PRIVATE_ISSUERS", default=False)
# How long a break-glass password sign-in stays open by default.
SSO_BREAK_GLASS_MINUTES = env_int("SSO_BREAK_GLASS_MINUTES", 60, minimum=1)

# Email: console by default; EMAIL_URL may name smtp://user:pass@host:port.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Overdraft Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_url = env_str("EMAIL_URL")
if _email_url:
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(_email_url)
    if _email.scheme not in {"smtp", "smtps", "console", "file", "locmem"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL must start with smtp://, smtps://, console://, file:// or locmem://,"
            f" got {_email.scheme!r}"
        )
    if _email.scheme in {"smtp", "smtps"}:
        EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        EMAIL_HOST = _email.hostname or "localhost"
        EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 25)
        EMAIL_HOST_USER = unquote(_email.username or "")
        EMAIL_HOST_PASSWORD = unquote(_email.password or "")
        EMAIL_USE_SSL = _email.scheme == "smtps"
    elif _email.scheme == "file":
        EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
        EMAIL_FILE_PATH = _email.path
    else:
        EMAIL_BACKEND = f"django.core.mail.backends.{_email.scheme}.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Cache (throttles, login limits): Redis when REDIS_URL is set, local memory otherwise. On Redis
# it degrades instead of failing (portal.cache): a call Redis does not answer within
# REDIS_TIMEOUT_MS is answered from process memory, and the calls after it skip Redis for
# REDIS_RETRY_SECONDS, when one call tries again.
_redis_url = env_str("REDIS_URL")
if _redis_url:
    _redis_timeout = env_int("REDIS_TIMEOUT_MS", 250, minimum=1) / 1000
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": _redis_url,
            "OPTIONS": {"socket_connect_timeout": _redis_timeout, "socket_timeout": _redis_timeout},
            "RETRY_SECONDS": env_int("REDIS_RETRY_SECONDS", 5, minimum=1),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: without a broker the tasks run in-process (eagerly), after the commit that queued them.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Queueing happens right after the activation commits: a down broker must fail it fast (no
# publish retries, no reconnect loop, 1 s to connect) so the request never hangs; the event
# stays undispatched and the outbox sweep queues it again.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_connect_timeout": 1}
# Fan-out on its own queue, the periodic jobs on theirs, so neither waits behind the other
# (docs/operations.md: which workers consume which). Deliveries are no tasks: the dispatcher
# (manage.py deliver_webhooks) claims them from the database.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "webhooks.fan_out": {"queue": "fanout"},
    "webhooks.deliver": {"queue": "fanout"},
    "webhooks.sweep_outbox": {"queue": "periodic"},
    "webhooks.deliver_due": {"queue": "periodic"},
    "webhooks.send_denial_digests": {"queue": "periodic"},
    "webhooks.resend_emails": {"queue": "periodic"},
    "licensing.expire_stale_seats": {"queue": "periodic"},
    "licensing.prune_events": {"queue": "periodic"},
    "licensing.ensure_event_partitions": {"queue": "periodic"},
    "licensing.roll_up_usage": {"queue": "periodic"},
    "licensing.apply_raises": {"queue": "periodic"},
    "licensing.issue_statements": {"queue": "periodic"},
}
CELERY_BEAT_SCHEDULE = {
    "webhooks-sweep-outbox": {"task": "webhooks.sweep_outbox", "schedule": 30.0},
    "webhooks-deliver-due": {"task": "webhooks.deliver_due", "schedule": 30.0},
    "webhooks-denial-digests": {"task": "webhooks.send_denial_digests", "schedule": 300.0},
    "webhooks-resend-emails": {"task": "webhooks.resend_emails", "schedule": 60.0},
    "licensing-expire-stale-seats": {"task": "licensing.expire_stale_seats", "schedule": 60.0},
    "licensing-apply-raises": {"task": "licensing.apply_raises", "schedule": 60.0},
    "licensing-prune-events": {
        "task": "licensing.prune_events",
        "schedule": crontab(hour=3, minute=30),
    },
    # Daily: the coming months' event partitions (licensing.partitions; PostgreSQL only).
    "licensing-ensure-event-partitions": {
        "task": "licensing.ensure_event_partitions",
        "schedule": crontab(hour=3, minute=10),
    },
    # Hourly: the days that ended (and settled, an hour after midnight) are rolled up.
    "licensing-roll-up-usage": {"task": "licensing.roll_up_usage", "schedule": 3600.0},
    # Hourly: a period closes at its entitlement's start hour, and its statement follows it
    # within the hour (licensing.services.billing.SETTLE after the close at the earliest).
    "licensing-issue-statements": {"task": "licensing.issue_statements", "schedule": 3600.0},
}
# Raw events older than this many days are deleted daily (usage buckets, which the charts and
# denial counts read, are kept); 0 keeps every event.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 400, minimum=0)
# On PostgreSQL the events table has a partition per month (licensing.partitions): the current
# month and this many after it are created ahead, on migrate and daily. Retention drops whole
# months, once all of a month is older than EVENT_RETENTION_DAYS.
EVENT_PARTITIONS_AHEAD = env_int("EVENT_PARTITIONS_AHEAD", 3, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["licensing.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "licensing.api.negotiation.JSONFirstNegotiation",
    "EXCEPTION_HANDLER": "licensing.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# API rate limits, "<count>/<s|min|hour|day>": per vendor API token, per license key (client
# API), and failed authentications (bad key or token) per client IP. Kept in the default cache.
API_THROTTLE_TOKEN = env_str("API_THROTTLE_TOKEN", "1000/min")
API_THROTTLE_LICENSE = env_str("API_THROTTLE_LICENSE", "600/min")
API_THROTTLE_AUTH_FAILURES = env_str("API_THROTTLE_AUTH_FAILURES", "30/min")
for _name in ("API_THROTTLE_TOKEN", "API_THROTTLE_LICENSE", "API_THROTTLE_AUTH_FAILURES"):
    _count, _, _period = globals()[_name].partition("/")
    if not (_count.strip().isdigit() and _period.strip() in {"s", "min", "hour", "day"}):
        raise ImproperlyConfigured(f"{_name} must look like '600/min' (s, min, hour, day)")
# The event feed (GET /api/v1/events) hands out events once they are this old, so a poller
# never passes an event whose transaction has not committed yet (see docs/api.md).
API_EVENTS_SETTLE_SECONDS = env_int("API_EVENTS_SETTLE_SECONDS", 10, minimum=0)

SPECTACULAR_SETTINGS = {
    "TITLE": "Overdraft Portal API",
    "DESCRIPTION": "Client API (`Authorization: License <key>`) for software that takes "
    "seats, and vendor API (`Authorization: Bearer <token>`) for the account team. "
    "Errors always have the shape `{code, message, errors?}`. Guide: docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "SeatReleaseReasonEnum": "licensing.models.Seat.ReleaseReason",
        "EntitlementStatusEnum": "licensing.models.Entitlement.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        "WebhookEndpointFormatEnum": "webhooks.models.EndpointFormat",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "licensing.api.schema.close_request_bodies",
    ],
}

# Webhooks to loopback/private addresses are refused unless this is set (tests, local dev).
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# Seconds to wait for a receiver (connect, and each read) before the attempt counts as failed.
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1)
# A dispatcher claims a delivery for this long; if it dies mid-attempt another retries after.
WEBHOOKS_CLAIM_SECONDS = env_int("WEBHOOKS_CLAIM_SECONDS", 60, minimum=1)
# Attempts one dispatcher keeps in flight (threads waiting on receivers), and per endpoint (at
# most a quarter of the threads; one while an endpoint is failing, at most one per
# WEBHOOKS_FAILING_INTERVAL_SECONDS).
WEBHOOKS_DISPATCH_THREADS = env_int("WEBHOOKS_DISPATCH_THREADS", 64, minimum=1)
WEBHOOKS_ENDPOINT_IN_FLIGHT = env_int("WEBHOOKS_ENDPOINT_IN_FLIGHT", 16, minimum=1)
WEBHOOKS_FAILING_INTERVAL_SECONDS = env_int("WEBHOOKS_FAILING_INTERVAL_SECONDS", 1, minimum=0)
# The longest the periodic safety net (and, without a broker, a fan-out) delivers in one go.
WEBHOOKS_DRAIN_SECONDS = env_int("WEBHOOKS_DRAIN_SECONDS", 20, minimum=1)
# The portal's public address: every absolute link (emails, invitations) starts with it
# (licensing.links). No trailing slash.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
if PRODUCTION and not env_str("SITE_URL"):
    # Emails would send customers to this machine's loopback address.
    raise ImproperlyConfigured(
        "SITE_URL must be set when PORTAL_ENV=production: the public address that links in "
        "emails and invitations start with, e.g. https://portal.example.com"
    )

# Prometheus scrapes of /metrics send `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics
# answers only requests from this host (127.0.0.1, ::1).
METRICS_TOKEN = env_str("METRICS_TOKEN")

# LOG_FORMAT=json: one JSON object per line with the request id (portal.logging), and one line
# per API request (logger portal.access, LOG_REQUESTS); plain: readable text for the demo.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOG_REQUESTS = env_bool("LOG_REQUESTS", default=LOG_FORMAT == "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"portal.access": {"level": "INFO" if LOG_REQUESTS else "WARNING"}},
}
# Celery workers log through the handler above (JSON too) instead of their own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
