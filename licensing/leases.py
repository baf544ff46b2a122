"""Lease tokens: a granted activation or heartbeat, signed, so a client can check offline that
it is licensed, and until when.

A lease is a compact JWS (EdDSA, the portal's signing key, licensing.signing) with the claims

    iss  the portal (SITE_URL)          aud  "overdraft-portal/lease"
    sub  the seat (activation) id       ent  the entitlement id
    fp   the client's fingerprint       zone "ok" or "overdraft"
    iat  when it was issued (seconds)   exp  valid-until (seconds)
    lease_exp  the floating lease's end (seconds), or null for a named seat

**Valid-until** is what the vendor allows offline (`offline_grace`): a floating seat's token
lasts until its lease runs out plus the grace (none by default: the portal reclaims the seat
then, and another client may take it); a named seat's, from its issue plus the grace (72 hours
by default). A client that cannot reach the portal keeps working until valid-until and no
longer (docs/clients.md); the next heartbeat or re-activation gives it a new token.

`verify` is the check a client makes (the Python client library does the same): signature
against the JWKS, audience, the fingerprint it is for, and the time with some leeway for
clock skew.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from licensing import signing

AUDIENCE: Final = "overdraft-portal/lease"
DEFAULT_NAMED_GRACE: Final = 72 * 3600
# Seconds of clock difference a verifier tolerates.
LEEWAY: Final = 120


def offline_grace(lease_seconds: int | None, offline_grace_seconds: int | None) -> int:
    """The grace in seconds: the entitlement's, else 72 hours for named seats and none for
    floating ones."""
    if offline_grace_seconds is not None:
        return offline_grace_seconds
    return 0 if lease_seconds is not None else DEFAULT_NAMED_GRACE


def valid_until(issued_at: int, lease_expires_at: int | None, grace: int) -> int:
    """When a token stops licensing (seconds): the lease's end, or its issue for a named seat,
    plus the grace."""
    return (issued_at if lease_expires_at is None else lease_expires_at) + grace


def issue(seat: Any, *, grace: int, now: datetime | None = None) -> tuple[str, int]:
    """The lease token of a seat just granted or renewed (licensing.models.Seat, as the
    services return it, with the `offline_grace` they return beside it) and its valid-until
    (seconds)."""
    now = now or timezone.now()
    issued = int(now.timestamp())
    lease_exp = int(seat.lease_expires_at.timestamp()) if seat.lease_expires_at else None
    until = valid_until(issued, lease_exp, grace)
    claims = {
        "iss": settings.SITE_URL,
        "aud": AUDIENCE,
        "sub": str(seat.pk),
        "ent": str(seat.entitlement_id),
        "fp": seat.fingerprint,
        "zone": "overdraft" if seat.overdraft else "ok",
        "iat": issued,
        "exp": until,
        "lease_exp": lease_exp,
    }
    return signing.sign_jws(claims), until


class InvalidLease(Exception):
    """A token that does not license this client now; the message says why."""


def verify(
    token: str,
    keyset: dict[str, Any],
    *,
    fingerprint: str,
    now: float | None = None,
    leeway: int = LEEWAY,
) -> dict[str, Any]:
    """The claims of a lease that licenses `fingerprint` at `now` (seconds); else InvalidLease."""
    try:
        claims = signing.verify_jws(token, keyset)
    except signing.BadSignature as exc:
        raise InvalidLease(str(exc)) from None
    now = time.time() if now is None else now
    if claims.get("aud") != AUDIENCE:
        raise InvalidLease("not a lease")
    if claims.get("fp") != fingerprint:
        raise InvalidLease("a lease for another client")
    if not isinstance(claims.get("exp"), int) or now > claims["exp"] + leeway:
        raise InvalidLease("expired")
    if not isinstance(claims.get("iat"), int) or claims["iat"] > now + leeway:
        raise InvalidLease("issued in the future")
    return claims
