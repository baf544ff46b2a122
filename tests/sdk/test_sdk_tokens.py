"""The library checks lease tokens offline: a tampered token, an unknown key id, an expired
token and another client's token are each refused with the portal out of reach; a rotation of
the portal's key keeps a client with cached keys working and makes it fetch them again for the
new key id."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from overdraft_client import LEEWAY, Granted, InvalidLease, Lease

from licensing import signing
from licensing.models import Entitlement
from tests.sdk.conftest import Portal
from tests.sdk.stub import Signer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_tokens_that_do_not_license_this_client_now_are_refused_offline(
    portal: Portal, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=5, hard_limit=5)
    granted = portal.client(entitlement.license_key, "host-1").activate()
    assert isinstance(granted, Granted)
    token, kid = granted.lease.token, granted.lease.key_id
    header, _, signature = token.split(".")
    portal.web.stop()  # offline from here: the keys are the ones cached on disk

    def offline(fingerprint: str = "host-1", at: float | None = None) -> Callable[[str], Lease]:
        clock = (lambda: at) if at is not None else None
        extra = {"clock": clock} if clock is not None else {}
        return portal.client(entitlement.license_key, fingerprint, **extra).verify

    assert offline()(token).seat_id == granted.seat_id
    refused = {
        "tampered": (offline(), f"{header}.{_part({**_claims(token), 'exp': 2**40})}.{signature}"),
        "unknown key id": (
            offline(),
            f"{_part({'alg': 'EdDSA', 'kid': 'someone-else', 'typ': 'JWT'})}."
            f"{token.split('.')[1]}.{signature}",
        ),
        "signed by another key under the portal's key id": (
            offline(),
            Signer(kid).token(**_claims(token)),
        ),
        "expired": (offline(at=granted.lease.valid_until + LEEWAY + 1), token),
        "issued in the future": (offline(at=granted.lease.issued_at - LEEWAY - 1), token),
        "another client's": (offline("host-2"), token),
        "not a token": (offline(), "not-a-token"),
    }
    reasons = {}
    for name, (verify, candidate) in refused.items():
        with pytest.raises(InvalidLease) as raised:
            verify(candidate)
        reasons[name] = str(raised.value)
    assert reasons["tampered"] == "the signature does not match"
    assert reasons["unknown key id"] == "no published key 'someone-else'"
    assert reasons["signed by another key under the portal's key id"] == (
        "the signature does not match"
    )
    assert reasons["expired"].startswith("expired at")
    assert reasons["another client's"] == "a lease for another client"
    # Within the leeway for clock skew, still licensed.
    assert offline(at=granted.lease.valid_until + LEEWAY)(token)


def _cached_kids(cache: Path) -> list[str]:
    (jwks,) = cache.glob("jwks-*.json")
    return [key["kid"] for key in json.loads(jwks.read_text())["keys"]]


def test_a_rotation_keeps_cached_keys_working_and_a_new_key_id_is_fetched(
    portal: Portal, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=5, hard_limit=5)
    before = portal.client(entitlement.license_key, "host-1").activate()
    assert isinstance(before, Granted)
    old_kid = before.lease.key_id
    cache = portal.workdir / "cache"
    assert _cached_kids(cache) == [old_kid]

    new_kid = signing.rotate().kid
    # A web process picks up the new key within a minute (licensing.signing); a restart at once.
    portal.web.stop()
    later = portal.client(entitlement.license_key, "host-1")  # starts from the cached keys
    assert later.verify(before.lease.token).key_id == old_kid  # offline, the old key cached
    portal.web.start()

    after = later.activate()

    assert isinstance(after, Granted)
    assert after.lease.key_id == new_kid != old_kid
    assert _cached_kids(cache) == [new_kid, old_kid]  # fetched again; the retired key stays
    assert later.verify(before.lease.token).seat_id == before.seat_id
