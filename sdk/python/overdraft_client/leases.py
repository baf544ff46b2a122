"""Lease tokens, checked offline.

A granted activation or heartbeat carries a lease: a compact JWS (RFC 7515) signed with the
portal's Ed25519 key (EdDSA, RFC 8037), whose key id names a key of the portal's JWKS
(`/.well-known/jwks.json`). Its claims:

    iss  the portal                     aud  "overdraft-portal/lease"
    sub  the seat (activation) id       ent  the entitlement id
    fp   the client's fingerprint       zone "ok" or "overdraft"
    iat  issued at (seconds)            exp  valid-until (seconds)
    lease_exp  the floating lease's end (seconds), or null for a named seat

Valid-until is the lease's end (or the issue, for a named seat) plus the entitlement's offline
grace. `verify_lease` is the whole check: signature, audience, fingerprint and time, with
`LEEWAY` seconds of tolerance for clock skew.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from overdraft_client.errors import InvalidLease

AUDIENCE: Final = "overdraft-portal/lease"
ALGORITHM: Final = "EdDSA"
# Seconds of clock difference between client and portal that a check tolerates.
LEEWAY: Final = 120

Zone = Literal["ok", "overdraft"]


@dataclass(frozen=True)
class Lease:
    """A verified lease: what the portal signed for this client."""

    token: str
    seat_id: str
    entitlement_id: str
    fingerprint: str
    zone: Zone
    issued_at: int
    valid_until: int
    lease_expires_at: int | None  # None: a named seat
    issuer: str
    key_id: str

    @property
    def floating(self) -> bool:
        return self.lease_expires_at is not None

    @property
    def valid_until_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.valid_until, UTC)

    def licenses(self, now: float, leeway: float = LEEWAY) -> bool:
        """Whether the lease licenses its client at `now` (seconds since the epoch)."""
        return self.issued_at - leeway <= now <= self.valid_until + leeway


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(token: str) -> str | None:
    """The key id in a token's header (unverified), to look its key up."""
    try:
        header = json.loads(_b64decode(token.split(".", 1)[0]))
    except (ValueError, TypeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _public_key(jwks: Mapping[str, Any], kid: Any) -> Ed25519PublicKey:
    for jwk in jwks.get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kid") == kid:
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                raise InvalidLease(f"key {kid!r} is not an Ed25519 key")
            try:
                return Ed25519PublicKey.from_public_bytes(_b64decode(str(jwk["x"])))
            except (KeyError, ValueError) as exc:
                raise InvalidLease(f"key {kid!r} is malformed ({exc})") from None
    raise InvalidLease(f"no published key {kid!r}")


def _int(claims: dict[str, Any], name: str, *, nullable: bool = False) -> Any:
    value = claims.get(name)
    if (value is None and nullable) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise InvalidLease(f"claim {name!r} is not a number of seconds")


def _str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        raise InvalidLease(f"claim {name!r} is missing")
    return value


def verify_lease(
    token: str,
    jwks: Mapping[str, Any],
    *,
    fingerprint: str,
    now: float | None = None,
    leeway: float = LEEWAY,
) -> Lease:
    """The lease `token` is, if it is signed by a key of `jwks`, is a lease, is for
    `fingerprint`, and licenses at `now` (seconds; the current time by default) give or take
    `leeway` seconds; else InvalidLease saying why."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidLease(f"not a token ({exc})") from None
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidLease("unknown algorithm")
    public = _public_key(jwks, header.get("kid"))
    try:
        public.verify(signature, f"{header_b64}.{claims_b64}".encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError):
        raise InvalidLease("the signature does not match") from None
    if not isinstance(claims, dict):
        raise InvalidLease("the claims are not an object")
    if claims.get("aud") != AUDIENCE:
        raise InvalidLease("not a lease")
    if claims.get("fp") != fingerprint:
        raise InvalidLease("a lease for another client")
    zone = claims.get("zone")
    if zone not in ("ok", "overdraft"):
        raise InvalidLease("claim 'zone' is neither ok nor overdraft")
    lease = Lease(
        token=token,
        seat_id=_str(claims, "sub"),
        entitlement_id=_str(claims, "ent"),
        fingerprint=fingerprint,
        zone=zone,
        issued_at=_int(claims, "iat"),
        valid_until=_int(claims, "exp"),
        lease_expires_at=_int(claims, "lease_exp", nullable=True),
        issuer=str(claims.get("iss", "")),
        key_id=str(header["kid"]),
    )
    now = time.time() if now is None else now
    if now > lease.valid_until + leeway:
        raise InvalidLease(f"expired at {lease.valid_until_datetime.isoformat()}")
    if lease.issued_at > now + leeway:
        raise InvalidLease("issued in the future (is this computer's clock right?)")
    return lease
