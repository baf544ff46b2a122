"""Statements of billing periods (licensing.services.billing): figures against a hand-built
month with a change of terms inside it, signed, reissued byte for byte, verified, tampered with,
and verifiable after a key rotation."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from licensing import billing, services, signing
from licensing.models import Event, Seat, SigningKey, Statement

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def _take(entitlement, count, prefix):
    return [
        services.seat_activate(entitlement=entitlement, fingerprint=f"{prefix}-{n}")
        for n in range(count)
    ]


def _give_back(entitlement, count, prefix):
    for seat in Seat.objects.filter(
        entitlement=entitlement, fingerprint__startswith=prefix, released_at=None
    )[:count]:
        services.seat_release(entitlement=entitlement, seat_id=seat.pk)


@pytest.fixture
def january(make_entitlement):
    """10 seats, hard limit 12, 5 free overdraft seat-hours a month, from 1 Jan:
    - 5 Jan 10:00 11 seats (1 over) until one goes at 12:30: 3 overdraft hours, 3 seat-hours;
    - 6 Jan 09:00 12 seats, the limit; one denied at 09:05; both go at 10:10: 2 hours at the
      limit, 4 seat-hours;
    - 16 Jan: the terms become 15/18;
    - 20 Jan 14:00 16 seats (1 over 15) until 15:30: 2 hours, 2 seat-hours.
    """
    with time_machine.travel(JAN, tick=False) as clock:
        entitlement = make_entitlement(
            seats=10, hard_limit=12, starts_at=JAN, free_overdraft_seat_hours=5
        )
        clock.move_to(at(5, 10))
        _take(entitlement, 11, "a")
        clock.move_to(at(5, 12, 30))
        _give_back(entitlement, 1, "a")
        clock.move_to(at(6, 9))
        _take(entitlement, 2, "b")
        clock.move_to(at(6, 9, 5))
        assert services.seat_activate(entitlement=entitlement, fingerprint="c").status == ("denied")
        clock.move_to(at(6, 10, 10))
        _give_back(entitlement, 2, "b")
        clock.move_to(at(16, 0))
        services.entitlement_update(entitlement=entitlement, seats=15, hard_limit=18)
        clock.move_to(at(20, 14))
        _take(entitlement, 6, "d")
        clock.move_to(at(20, 15, 30))
        _give_back(entitlement, 6, "d")
    return entitlement


def _issue(entitlement, now=FEB + timedelta(hours=1)):
    period = billing.period_at(billing.anchor_of(entitlement.starts_at), "monthly", 0)
    with time_machine.travel(now, tick=False):
        return services.statement_issue(entitlement=entitlement, period=period)


def test_a_statement_holds_every_figure_judged_by_the_terms_of_each_hour(january):
    statement = _issue(january)
    payload = signing.verify(statement.document, signing.jwks())

    assert (statement.period_start, statement.period_end) == (JAN, FEB)
    assert payload["period"] == {
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-02-01T00:00:00+00:00",
        "billing_period": "monthly",
        "label": "Jan 2026",
    }
    assert payload["provisional"] is False and payload["as_of"] is None
    entitlement, customer, product = january, january.customer, january.product
    assert {k: v for k, v in payload.items() if k not in {"figures", "utilization"}} == {
        "format": "overdraft-portal/statement",
        "version": 1,
        "statement": f"{entitlement.pk}/2026-01-01T00",
        "provisional": False,
        "as_of": None,
        "customer": {"id": str(customer.pk), "name": "Acme Corp"},
        "product": {"id": str(product.pk), "name": product.name, "code": product.code},
        "entitlement": str(entitlement.pk),
        "period": payload["period"],
        "terms": [
            {
                "effective_from": "2026-01-01T00:00:00+00:00",
                "seats": 10,
                "hard_limit": 12,
                "customer_cap": None,
                "status": "active",
            },
            {
                "effective_from": "2026-01-16T00:00:00+00:00",
                "seats": 15,
                "hard_limit": 18,
                "customer_cap": None,
                "status": "active",
            },
        ],
    }
    assert payload["figures"] == {
        "hours": 744,
        "peak": 16,
        "p95_daily_peak": 12,
        "overdraft_hours": 7,
        "overdraft_seat_hours": 9,
        "overdraft_days": 3,
        "hours_at_limit": 2,
        "denials": 1,
        "activations": 19,
        "free_overdraft_seat_hours": 5,
        "billable_overdraft_seat_hours": 4,
    }
    at_or_above = {row["seats"]: row["hours"] for row in payload["utilization"]}
    assert len(at_or_above) == 16
    assert at_or_above[16] == 2  # 20 Jan 14:00 and 15:00
    assert at_or_above[12] == 4  # those and 6 Jan 09:00, 10:00
    assert at_or_above[11] == 7  # and 5 Jan 10:00, 11:00, 12:00
    assert at_or_above[10] == at_or_above[1] == 638  # every hour from 5 Jan 10:00
    assert (statement.overdraft_seat_hours, statement.billable_overdraft_seat_hours) == (9, 4)
    event = Event.objects.get(type=Event.Type.STATEMENT_ISSUED)
    assert event.data["statement_id"] == str(statement.pk)
    assert event.data["figures"]["billable_overdraft_seat_hours"] == 4


def test_reissuing_gives_the_same_statement_and_the_same_bytes(january):
    first = _issue(january)
    assert _issue(january, now=FEB + timedelta(days=20)).pk == first.pk
    document = first.document
    Statement.objects.all().delete()
    again = _issue(january, now=FEB + timedelta(days=3))
    assert again.pk != first.pk
    assert again.document == document
    assert Event.objects.filter(type=Event.Type.STATEMENT_ISSUED).count() == 2


def test_a_changed_figure_fails_verification(january):
    document = json.loads(_issue(january).document)
    signing.verify(json.dumps(document), signing.jwks())
    document["payload"]["figures"]["billable_overdraft_seat_hours"] = 3
    with pytest.raises(signing.BadSignature, match="does not match"):
        signing.verify(json.dumps(document), signing.jwks())
    document["payload"]["figures"]["billable_overdraft_seat_hours"] = 4
    document["signature"]["kid"] = "someone-else"
    with pytest.raises(signing.BadSignature, match="no published key"):
        signing.verify(json.dumps(document), signing.jwks())
    with pytest.raises(signing.BadSignature, match="not a signed document"):
        signing.verify(b"{}", signing.jwks())


def test_statements_stay_verifiable_after_a_key_rotation(january, tmp_path, capsys):
    statement = _issue(january)
    call_command("rotate_signing_key")
    assert SigningKey.objects.count() == 2
    new = SigningKey.objects.get(current=True)
    assert new.kid != statement.kid
    keyset = signing.jwks()
    assert [k["kid"] for k in keyset["keys"]] == [new.kid, statement.kid]
    signing.verify(statement.document, keyset)

    file = tmp_path / "statement.json"
    file.write_text(statement.document)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keyset))
    call_command("verify_statement", str(file), "--jwks", str(jwks_file))
    out = capsys.readouterr().out
    assert f"VERIFIED (key {statement.kid})" in out
    assert "billable_overdraft_seat_hours: 4" in out

    tampered = json.loads(statement.document)
    tampered["payload"]["figures"]["peak"] = 15
    file.write_text(json.dumps(tampered))
    with pytest.raises(CommandError, match="NOT VERIFIED"):
        call_command("verify_statement", str(file), "--jwks", str(jwks_file))


def test_the_job_issues_each_closed_period_once(january):
    with time_machine.travel(datetime(2026, 4, 1, 0, 10, tzinfo=UTC), tick=False):
        assert services.statements_issue_due() == 2  # Jan, Feb; Mar closed 10 minutes ago
    with time_machine.travel(datetime(2026, 4, 1, 0, 20, tzinfo=UTC), tick=False):
        assert services.statements_issue_due() == 1  # Mar, settled
        assert services.statements_issue_due() == 0
    starts = list(Statement.objects.order_by("period_start").values_list("period_start", flat=True))
    assert starts == [JAN, FEB, datetime(2026, 3, 1, tzinfo=UTC)]


def test_a_provisional_statement_covers_the_period_so_far(january):
    with time_machine.travel(at(20, 16, 30), tick=False):
        payload = signing.verify(services.statement_provisional(january), signing.jwks())
    assert payload["provisional"] is True
    assert payload["as_of"] == "2026-01-20T16:30:00+00:00"
    assert payload["figures"]["overdraft_seat_hours"] == 9
    assert payload["figures"]["hours"] == 473  # 1 Jan 00:00 to 20 Jan 16:30, the last partial
    assert not Statement.objects.exists()


def test_an_open_period_is_not_issued(january):
    period = billing.period_at(billing.anchor_of(january.starts_at), "monthly", 0)
    with time_machine.travel(at(31, 23), tick=False), pytest.raises(ValueError, match="not closed"):
        services.statement_issue(entitlement=january, period=period)


def test_the_jwks_is_published(client, january):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": SigningKey.objects.get().public_key,
        "kid": SigningKey.objects.get().kid,
        "alg": "EdDSA",
        "use": "sig",
    }
