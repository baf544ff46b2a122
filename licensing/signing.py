"""The portal's signatures: Ed25519 (RFC 8032) over canonical JSON, keys published as a JWKS.

What is signed is a JSON object's canonical bytes (`canonical`): keys sorted, no spaces,
UTF-8, and only strings, integers, booleans, null, lists and objects (no floats, whose text
differs between languages). A signed document is

    {"payload": {...}, "signature": {"alg": "EdDSA", "kid": "<key id>", "sig": "<base64url>"}}

serialised canonically too, where `sig` signs `canonical(payload)`. Anyone can check it offline
with the public key of `kid` from the JWKS at `/.well-known/jwks.json` (OKP keys, RFC 8037);
docs/api.md has a ten-line verifier and `manage.py verify_statement` is one.

Keys live in the database (licensing.models.SigningKey). The current key signs; a rotation
(`rotate`, `manage.py rotate_signing_key`) makes a new current key and retires the old one,
which stays published so everything it signed stays verifiable. The first signature creates
the first key.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import SigningKey

ALG: Final = "EdDSA"


class BadSignature(Exception):
    """A document that is not signed, names an unknown key, or whose signature does not match."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("canonical JSON carries no floats: use integers or strings")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("canonical JSON keys are strings")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)


def canonical(value: Any) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8, no floats."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _new_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    now = timezone.now()
    return SigningKey(
        kid=f"{now:%Y%m%d}-{secrets.token_hex(4)}",
        private_key=pem,
        public_key=b64url(_public_raw(private)),
        created_at=now,
        current=True,
    )


def current_key() -> SigningKey:
    """The key that signs now (created the first time: of two at once, one wins)."""
    key = SigningKey.objects.filter(current=True).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            key = _new_key()
            key.save(force_insert=True)
            return key
    except IntegrityError:  # another process created it first
        return SigningKey.objects.get(current=True)


def rotate() -> SigningKey:
    """A new current key; the previous one is retired (still published, no longer signing)."""
    global _current
    with transaction.atomic():
        now = timezone.now()
        SigningKey.objects.select_for_update().filter(current=True).update(
            current=False, retired_at=now
        )
        key = _new_key()
        key.save(force_insert=True)
    _current = None  # this process signs with the new key at once; others within a minute
    return key


def sign(payload: dict[str, Any], key: SigningKey | None = None) -> bytes:
    """The signed document of `payload`, as canonical bytes."""
    key = key or current_key()
    signature = _private(key).sign(canonical(payload))
    return canonical(
        {"payload": payload, "signature": {"alg": ALG, "kid": key.kid, "sig": b64url(signature)}}
    )


# --- compact JWS (RFC 7515), for tokens: leases ---------------------------------------------

# Loaded private keys by kid: parsing PEM on every activation would cost more than signing.
_loaded: dict[str, Ed25519PrivateKey] = {}
_current: tuple[float, SigningKey] | None = None
CURRENT_KEY_TTL: Final = 60.0  # a rotation reaches every process within a minute


def _private(key: SigningKey) -> Ed25519PrivateKey:
    private = _loaded.get(key.kid)
    if private is None:
        loaded = serialization.load_pem_private_key(key.private_key.encode("ascii"), None)
        assert isinstance(loaded, Ed25519PrivateKey)
        private = _loaded[key.kid] = loaded
    return private


def _current_cached() -> SigningKey:
    global _current
    now = time.monotonic()
    if _current is None or _current[0] < now:
        _current = (now + CURRENT_KEY_TTL, current_key())
    return _current[1]


def sign_jws(claims: dict[str, Any]) -> str:
    """A compact JWS (`header.payload.signature`, EdDSA) of `claims`, by the current key."""
    key = _current_cached()
    header = b64url(canonical({"alg": ALG, "kid": key.kid, "typ": "JWT"}))
    body = b64url(canonical(claims))
    signature = _private(key).sign(f"{header}.{body}".encode("ascii"))
    return f"{header}.{body}.{b64url(signature)}"


def verify_jws(token: str, keyset: dict[str, Any]) -> dict[str, Any]:
    """The claims of a compact JWS whose EdDSA signature checks out against `keyset`; else
    BadSignature. Checks no claim: the caller does (licensing.leases)."""
    try:
        header_b64, body_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(body_b64))
        signature = b64url_decode(signature_b64)
    except (ValueError, AttributeError) as exc:
        raise BadSignature(f"not a token ({exc})") from None
    if not isinstance(header, dict) or header.get("alg") != ALG:
        raise BadSignature("unknown algorithm")
    found = [k for k in keyset.get("keys", []) if k.get("kid") == header.get("kid")]
    if not found:
        raise BadSignature(f"no published key {header.get('kid')!r}")
    try:
        Ed25519PublicKey.from_public_bytes(b64url_decode(found[0]["x"])).verify(
            signature, f"{header_b64}.{body_b64}".encode("ascii")
        )
    except InvalidSignature:
        raise BadSignature("the signature does not match") from None
    if not isinstance(claims, dict):
        raise BadSignature("the claims are not an object")
    return claims


def jwk(key: SigningKey) -> dict[str, str]:
    """The public half of `key` as a JWK (RFC 8037)."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.public_key,
        "kid": key.kid,
        "alg": ALG,
        "use": "sig",
    }


def jwks(keys: Iterable[SigningKey] | None = None) -> dict[str, list[dict[str, str]]]:
    """Every key's public half, the current one first: what `/.well-known/jwks.json` serves."""
    if keys is None:
        keys = SigningKey.objects.order_by("-current", "-created_at")
    return {"keys": [jwk(key) for key in keys]}


def verify(document: bytes | str, keyset: dict[str, Any]) -> dict[str, Any]:
    """The payload of a signed document if its signature checks out against a key of `keyset`
    (a JWKS); else BadSignature saying why."""
    try:
        parsed = json.loads(document)
        payload, signature = parsed["payload"], parsed["signature"]
        kid, sig = signature["kid"], b64url_decode(signature["sig"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadSignature(f"not a signed document ({exc})") from None
    if signature.get("alg") != ALG:
        raise BadSignature(f"unknown algorithm {signature.get('alg')!r}")
    found = [k for k in keyset.get("keys", []) if k.get("kid") == kid]
    if not found:
        raise BadSignature(f"no published key {kid!r}")
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(found[0]["x"]))
    try:
        public.verify(sig, canonical(payload))
    except (InvalidSignature, TypeError):
        raise BadSignature("the signature does not match the figures") from None
    return payload
