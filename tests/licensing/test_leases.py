"""Lease tokens (licensing.leases) in the client API's answers: what they claim, until when they
license, and what a verifier refuses."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from licensing import leases, services, signing, statements

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _client(entitlement):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    return client


def _activate(client, fingerprint="host-1"):
    response = client.post("/api/v1/activations", {"fingerprint": fingerprint}, format="json")
    assert response.status_code in (200, 201), response.json()
    return response.json()


def test_a_named_seat_is_licensed_offline_for_72_hours_by_default(make_entitlement):
    entitlement = make_entitlement(seats=1, hard_limit=2, starts_at=T0 - timedelta(days=1))
    with time_machine.travel(T0, tick=False):
        body = _activate(_client(entitlement))
        _activate(_client(entitlement), "host-2")  # the overdraft seat
        over = _activate(_client(entitlement), "host-2")
    claims = leases.verify(body["lease"], signing.jwks(), fingerprint="host-1", now=T0.timestamp())
    assert claims == {
        "iss": "http://127.0.0.1:8000",
        "aud": "overdraft-portal/lease",
        "sub": body["id"],
        "ent": str(entitlement.pk),
        "fp": "host-1",
        "zone": "ok",
        "iat": int(T0.timestamp()),
        "exp": int((T0 + timedelta(hours=72)).timestamp()),
        "lease_exp": None,
    }
    assert body["lease_valid_until"] == (T0 + timedelta(hours=72)).isoformat()
    over_claims = leases.verify(
        over["lease"], signing.jwks(), fingerprint="host-2", now=T0.timestamp()
    )
    assert over_claims["zone"] == "overdraft"


def test_a_floating_seat_is_licensed_until_its_lease_and_a_heartbeat_extends_it(
    make_entitlement,
):
    entitlement = make_entitlement(
        seats=5, hard_limit=5, lease_seconds=900, starts_at=T0 - timedelta(days=1)
    )
    client = _client(entitlement)
    with time_machine.travel(T0, tick=False) as clock:
        body = _activate(client)
        clock.move_to(T0 + timedelta(minutes=10))
        beat = client.post(f"/api/v1/activations/{body['id']}/heartbeat")
    first = leases.verify(body["lease"], signing.jwks(), fingerprint="host-1", now=T0.timestamp())
    assert first["exp"] == first["lease_exp"] == int((T0 + timedelta(seconds=900)).timestamp())
    later = leases.verify(
        beat.json()["lease"], signing.jwks(), fingerprint="host-1", now=T0.timestamp() + 600
    )
    assert later["exp"] == int((T0 + timedelta(seconds=1500)).timestamp())


def test_the_offline_grace_is_a_term(make_entitlement):
    entitlement = make_entitlement(
        seats=5, hard_limit=5, lease_seconds=900, starts_at=T0 - timedelta(days=1)
    )
    services.entitlement_update(entitlement=entitlement, offline_grace_seconds=3600)
    with time_machine.travel(T0, tick=False):
        body = _activate(_client(entitlement))
    claims = leases.verify(body["lease"], signing.jwks(), fingerprint="host-1", now=T0.timestamp())
    assert claims["exp"] == int((T0 + timedelta(seconds=900 + 3600)).timestamp())
    assert entitlement.terms_history.last().offline_grace_seconds == 3600
    with pytest.raises(ValidationError):
        services.entitlement_update(entitlement=entitlement, offline_grace_seconds=31 * 86400)


@pytest.mark.parametrize("statements_on", [True, False], ids=["statements", "transaction"])
def test_every_granted_answer_carries_the_offline_grace_in_force(
    make_entitlement, monkeypatch, statements_on
):
    """A new seat, its re-activation and its heartbeat, whichever path answers them; a change
    of the grace reaches the next token."""
    if not statements_on:
        monkeypatch.setattr(statements, "available", lambda: False)
    entitlement = make_entitlement(
        seats=5, hard_limit=5, lease_seconds=900, starts_at=T0 - timedelta(days=1)
    )
    services.entitlement_update(entitlement=entitlement, offline_grace_seconds=3600)
    client = _client(entitlement)
    with time_machine.travel(T0, tick=False) as clock:
        first = _activate(client)
        clock.move_to(T0 + timedelta(minutes=1))
        again = _activate(client)
        services.entitlement_update(entitlement=entitlement, offline_grace_seconds=7200)
        clock.move_to(T0 + timedelta(minutes=2))
        beat = client.post(f"/api/v1/activations/{first['id']}/heartbeat").json()
    expected = {
        first["lease"]: T0 + timedelta(seconds=900 + 3600),
        again["lease"]: T0 + timedelta(minutes=1, seconds=900 + 3600),
        beat["lease"]: T0 + timedelta(minutes=2, seconds=900 + 7200),
    }
    for token, until in expected.items():
        claims = leases.verify(token, signing.jwks(), fingerprint="host-1", now=T0.timestamp())
        assert (claims["sub"], claims["ent"]) == (first["id"], str(entitlement.pk))
        assert claims["exp"] == int(until.timestamp())
    assert again["lease_valid_until"] == expected[again["lease"]].isoformat()


def _tamper(token: str, **changes) -> str:
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_verifier_refuses_what_does_not_license_this_client_now(make_entitlement):
    entitlement = make_entitlement(seats=5, hard_limit=5, starts_at=T0 - timedelta(days=1))
    with time_machine.travel(T0, tick=False):
        token = _activate(_client(entitlement))["lease"]
    keyset = signing.jwks()
    now = T0.timestamp()
    refused = {
        "tampered": (_tamper(token, zone="ok", exp=2**40), "host-1", now),
        "another client": (token, "host-2", now),
        "expired": (token, "host-1", now + 72 * 3600 + leases.LEEWAY + 1),
        "not a token": ("abc", "host-1", now),
    }
    for name, (candidate, fingerprint, moment) in refused.items():
        with pytest.raises(leases.InvalidLease):
            leases.verify(candidate, keyset, fingerprint=fingerprint, now=moment)
        assert name
    unknown_kid = {"keys": [{**keyset["keys"][0], "kid": "someone-else"}]}
    with pytest.raises(leases.InvalidLease, match="no published key"):
        leases.verify(token, unknown_kid, fingerprint="host-1", now=now)
    # Within the leeway for clock skew, still licensed.
    leases.verify(token, keyset, fingerprint="host-1", now=now + 72 * 3600 + leases.LEEWAY)


def test_a_rotation_keeps_a_client_with_cached_keys_working(make_entitlement):
    entitlement = make_entitlement(seats=5, hard_limit=5, starts_at=T0 - timedelta(days=1))
    with time_machine.travel(T0, tick=False):
        before = _activate(_client(entitlement))["lease"]
        cached = signing.jwks()
        signing.rotate()
        after = _activate(_client(entitlement), "host-2")["lease"]
    now = T0.timestamp()
    leases.verify(before, cached, fingerprint="host-1", now=now)
    leases.verify(before, signing.jwks(), fingerprint="host-1", now=now)  # the old key stays
    with pytest.raises(leases.InvalidLease, match="no published key"):
        leases.verify(after, cached, fingerprint="host-2", now=now)  # fetch the JWKS again
    leases.verify(after, signing.jwks(), fingerprint="host-2", now=now)
