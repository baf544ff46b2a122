"""Every zone transition, walked through the client API and a vendor edit: the events, the
counter, the hour's bucket and the emails, written out by hand (licensing/zones.py is the
rule). Walked twice: with the single-statement first step, and with it off (the transaction
alone, as on SQLite), which must write the same."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail

from licensing import statements
from licensing.models import Entitlement, Event, UsageBucket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)

# (what happens, HTTP status, "status" or "code" of the answer, seats in use after)
WALK = [
    ("activate a", 201, "ok", 1),
    ("activate b", 201, "ok", 2),
    ("activate c: into overdraft", 201, "overdraft", 3),
    ("activate d: to the hard limit", 201, "overdraft", 4),
    ("activate e: denied", 409, "denied", 4),
    ("release d: below the hard limit", 204, None, 3),
    ("release c: out of overdraft", 204, None, 2),
    ("activate f: into overdraft again", 201, "overdraft", 3),
    ("vendor lowers the hard limit to 3: at the hard limit", 200, "active", 3),
    ("vendor raises to 3 entitled / 5: out of overdraft", 200, "active", 3),
    ("vendor lowers entitled seats below those in use: refused", 400, "invalid_request", 3),
]

EVENTS = [
    "seat.activated",
    "seat.activated",
    "seat.activated",
    "entitlement.overdraft_started",
    "seat.activated",
    "entitlement.hard_limit_reached",
    "seat.denied",
    "seat.released",
    "seat.released",
    "entitlement.overdraft_ended",
    "seat.activated",
    "entitlement.overdraft_started",
    "entitlement.updated",
    "entitlement.hard_limit_reached",
    "entitlement.updated",
    "entitlement.overdraft_ended",
]

# The second time the walk reaches a hard limit is the same day: that event is a webhook, not
# an email (hard-limit emails go at most once a day per entitlement).
EMAILS = [
    "Acme Corp: Design Studio is in overdraft (3 of 2 seats)",
    "Acme Corp: Design Studio reached its hard limit of 4 seats",
    "Acme Corp: Design Studio is in overdraft (3 of 2 seats)",
]


def _walk(entitlement: Entitlement, vendor: Any) -> list[tuple[str, int, Any, int]]:
    client = client_for(entitlement)
    seats: dict[str, str] = {}
    answers = []

    def record(step: str, response: Any) -> None:
        body = response.json() if response.content else {}
        entitlement.refresh_from_db()
        answers.append(
            (
                step,
                response.status_code,
                body.get("status") or body.get("code"),
                entitlement.seats_used,
            )
        )
        if "id" in body and response.status_code == 201:
            seats[step.split()[1].rstrip(":")] = body["id"]

    def activate(step: str) -> None:
        fingerprint = step.split()[1].rstrip(":")
        record(step, client.post("/api/v1/activations", {"fingerprint": fingerprint}, "json"))

    def release(step: str) -> None:
        record(step, client.delete(f"/api/v1/activations/{seats[step.split()[1].rstrip(':')]}"))

    def edit(step: str, **terms: int) -> None:
        record(step, vendor.patch(f"/api/v1/entitlements/{entitlement.pk}", terms, "json"))

    for step, *_ in WALK[:5]:
        activate(step)
    release(WALK[5][0])
    release(WALK[6][0])
    activate(WALK[7][0])
    edit(WALK[8][0], hard_limit=3)
    edit(WALK[9][0], seats=3, hard_limit=5)
    edit(WALK[10][0], seats=2)
    return answers


@pytest.mark.parametrize("first_step", ["statement", "transaction alone"])
def test_every_zone_transition_through_the_client_api_and_a_vendor_edit(
    make_entitlement: Any,
    vendor: Any,
    customer_admin: Any,
    account_manager: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    first_step: str,
) -> None:
    if first_step == "transaction alone":
        monkeypatch.setattr(statements, "available", lambda: False)
    entitlement = make_entitlement(seats=2, hard_limit=4, starts_at=T0 - timedelta(days=1))
    mail.outbox.clear()
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        answers = _walk(entitlement, vendor)

    assert answers == WALK
    events = Event.objects.filter(entitlement=entitlement).exclude(type="entitlement.created")
    assert list(events.order_by("seq").values_list("type", flat=True)) == EVENTS
    zone_changes = events.filter(type__startswith="entitlement.").exclude(
        type="entitlement.updated"
    )
    assert [e.data["seats"]["used"] for e in zone_changes.order_by("seq")] == [3, 4, 2, 3, 3, 3]
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit, entitlement.seats_used) == (3, 5, 3)
    bucket = UsageBucket.objects.get(entitlement=entitlement)
    assert bucket.hour == T0.replace(minute=0)
    assert (
        bucket.peak_used,
        bucket.closing_used,
        bucket.activations,
        bucket.overdraft_activations,
        bucket.denials,
        bucket.releases,
    ) == (4, 3, 5, 3, 1, 2)
    assert [str(m.subject) for m in mail.outbox[::2]] == EMAILS
    for message_pair in zip(mail.outbox[::2], mail.outbox[1::2], strict=True):
        assert sorted(to for m in message_pair for to in m.to) == sorted(
            [customer_admin.email, account_manager.email]
        )
