"""Reads on a streaming replica (`DATABASE_REPLICA_URL`), only where a stale answer is safe.

A read goes to the `replica` alias only while ReplicaReadsMiddleware has marked the request
eligible: a GET or HEAD of a portal page or the vendor API, from a browser or token that has
not written in the last `DATABASE_REPLICA_STICKY_SECONDS` (so people read their own writes).
Everything else reads the primary: writes and what is read inside a transaction (a service's
checks), the rest of a request once it has written, the client API (activations write, and a
status must be fresh), log-in, sign-up and the admin, background tasks and commands, and the
tables that decide who someone is and what they may see (sessions, users, tokens,
memberships), so a log-in, a revoked token or a removed member takes effect at once.
docs/operations.md ("A read replica") has the whole picture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from portal.paths import is_client_api

REPLICA: Final = "replica"
# Browsers that wrote carry this cookie for the sticky seconds. It only ever moves its holder's
# own reads to the primary, so it needs no signature.
PIN_COOKIE: Final = "primary_reads"
# Who someone is and what they may see: always as of now.
PRIMARY_ONLY_APPS: Final = frozenset({"sessions", "auth", "account", "mfa", "admin"})
PRIMARY_ONLY_MODELS: Final = frozenset(
    {"portal.user", "portal.invitation", "licensing.apitoken", "licensing.membership"}
)
# Pages that log people in or out, or change state on a GET (allauth's confirmation links,
# invitations), and the admin.
PRIMARY_PATHS: Final = ("/accounts/", "/admin/", "/invitations/")
SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


@dataclass
class _Reads:
    replica: bool


_reads: ContextVar[_Reads | None] = ContextVar("replica_reads", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class PrimaryReplicaRouter:
    """Writes, migrations and most reads on `default`; eligible reads on `replica`."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        reads = _reads.get()
        if reads is None or not reads.replica:
            return DEFAULT_DB_ALIAS
        meta = model._meta
        if meta.app_label in PRIMARY_ONLY_APPS or meta.label_lower in PRIMARY_ONLY_MODELS:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS  # read inside a write: the write's own snapshot
        replica = connections[REPLICA]
        breaker = getattr(replica, "breaker", None)
        if breaker is not None and breaker.is_open:
            return DEFAULT_DB_ALIAS  # the replica failed moments ago: the primary serves
        return REPLICA

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        reads = _reads.get()
        if reads is not None:
            reads.replica = False  # the rest of this request reads what it wrote
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # both aliases hold the same rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS  # the replica follows the primary's schema by itself


def _pin_key(request: HttpRequest) -> str | None:
    """The cache key that pins an API caller (its Authorization header) to the primary."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    return "replica:pin:" + hashlib.sha256(header.encode()).hexdigest()


def _wrote_recently(request: HttpRequest) -> bool:
    if PIN_COOKIE in request.COOKIES:
        return True
    key = _pin_key(request)
    return key is not None and cache.get(key) is not None


class ReplicaReadsMiddleware:
    """Marks the requests whose reads may go to the replica, and remembers who just wrote.

    Not loaded (MiddlewareNotUsed) when no replica is configured.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_client_api(request.path_info):
            return self.get_response(request)  # no mark: the primary, and nothing to pin
        safe = request.method in SAFE_METHODS
        eligible = (
            safe
            and not request.path_info.startswith(PRIMARY_PATHS)
            and not _wrote_recently(request)
        )
        token = _reads.set(_Reads(replica=eligible))
        try:
            response = self.get_response(request)
        finally:
            _reads.reset(token)
        if not safe:
            self._pin(request, response)
        return response

    def _pin(self, request: HttpRequest, response: HttpResponse) -> None:
        """After a write, the writer's next reads for a few seconds go to the primary."""
        seconds = settings.DATABASE_REPLICA_STICKY_SECONDS
        if not seconds:
            return
        key = _pin_key(request)
        if key is not None:
            cache.set(key, 1, seconds)
        else:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=seconds,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
