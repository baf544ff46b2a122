"""Vendor API tokens: created for account-team users, shown once, stored as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from licensing.models import ApiToken, AuditEntry
from licensing.services.audit import SYSTEM, Actor, audit_record

TOKEN_PREFIX: Final = "odp_"
_VISIBLE_CHARS: Final = len(TOKEN_PREFIX) + 8
# Recording every use would put a write on every API request; a minute is precise enough.
LAST_USED_PRECISION: Final = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def api_token_create(
    *, user: Any, name: str, read_only: bool = False, actor: Actor = SYSTEM
) -> tuple[ApiToken, str]:
    """Create a token for a staff user; returns the row and the token, which is never stored."""
    if not (user.is_staff and user.is_active):
        raise ValidationError(
            {"user": ["API tokens are for active account-team (staff) users only."]}
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken(
        name=name.strip() or "API token",
        user=user,
        prefix=token[:_VISIBLE_CHARS],
        secret_hash=hash_token(token),
        read_only=read_only,
    )
    api_token.full_clean(exclude=["secret_hash", "prefix"])
    with transaction.atomic():
        api_token.save(force_insert=True)
        audit_record(
            action=AuditEntry.Action.TOKEN_CREATED,
            target=api_token,
            actor=actor,
            changes={"name": [None, api_token.name], "read_only": [None, api_token.read_only]},
        )
    return api_token, token


def api_token_revoke(
    *, api_token: ApiToken, actor: Actor = SYSTEM, now: datetime | None = None
) -> bool:
    """Revoke a token at once. Idempotent: False, and nothing recorded, when it was already
    revoked."""
    now = now or timezone.now()
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if not updated:
            return False
        api_token.revoked_at = now
        audit_record(action=AuditEntry.Action.TOKEN_REVOKED, target=api_token, actor=actor)
    return True


def api_token_touch(*, api_token: ApiToken, now: datetime) -> None:
    """Record that the token was used now, at most once a minute."""
    last = api_token.last_used_at
    if last is not None and now - last < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    api_token.last_used_at = now
