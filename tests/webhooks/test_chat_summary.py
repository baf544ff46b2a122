"""`webhooks.chat.summary`: the sentence a Slack or Teams channel reads for each event type."""

import pytest

from licensing.models import Event
from webhooks import chat

# The 100/120 entitlement's counts, as licensing's services write them into every event.
OVER = {"used": 101, "entitled": 100, "hard_limit": 120, "customer_cap": None, "available": 19}
AT_LIMIT = {**OVER, "used": 120, "available": 0}
WITHIN = {**OVER, "used": 99, "available": 21}
CAPPED = {**OVER, "used": 110, "customer_cap": 110, "available": 0}
UNLIMITED = {**OVER, "hard_limit": None, "available": None}

CASES = [
    (
        "seat.activated",
        {"fingerprint": "laptop-1", "label": "Ada", "overdraft": False, "seats": WITHIN},
        "Acme Corp · Design Studio: seat activated for laptop-1 (Ada); 99 of 100 seats in use"
        " (hard limit 120).",
    ),
    (
        "seat.activated",
        {"fingerprint": "laptop-2", "label": "", "overdraft": True, "seats": OVER},
        "Acme Corp · Design Studio: seat activated in overdraft for laptop-2; 101 of 100 seats"
        " in use (hard limit 120).",
    ),
    (
        "seat.denied",
        {"fingerprint": "laptop-9", "label": "Bo", "code": "hard_limit_reached", "seats": AT_LIMIT},
        "Acme Corp · Design Studio: seat denied to laptop-9 (Bo): the hard limit of 120 seats is"
        " reached (100 entitled).",
    ),
    (
        "seat.denied",
        {"fingerprint": "laptop-9", "label": "", "code": "customer_cap_reached", "seats": CAPPED},
        "Acme Corp · Design Studio: seat denied to laptop-9: the customer's cap of 110 seats is"
        " reached (100 entitled).",
    ),
    (
        "seat.released",
        {"fingerprint": "laptop-1", "label": "Ada", "reason": "released", "seats": WITHIN},
        "Acme Corp · Design Studio: laptop-1 (Ada) released its seat; 99 of 100 seats in use"
        " (hard limit 120).",
    ),
    (
        "seat.released",
        {"fingerprint": "laptop-1", "label": "", "reason": "revoked", "seats": WITHIN},
        "Acme Corp · Design Studio: the seat of laptop-1 was revoked; 99 of 100 seats in use"
        " (hard limit 120).",
    ),
    (
        "seat.expired",
        {"fingerprint": "build-7", "label": "", "reason": "expired", "seats": WITHIN},
        "Acme Corp · Design Studio: the lease of build-7 ran out and its seat was freed; 99 of"
        " 100 seats in use (hard limit 120).",
    ),
    (
        "entitlement.overdraft_started",
        {"seats": OVER},
        "Acme Corp · Design Studio is in overdraft: 101 of 100 seats in use (hard limit 120).",
    ),
    (
        "entitlement.overdraft_started",
        {"seats": UNLIMITED},
        "Acme Corp · Design Studio is in overdraft: 101 of 100 seats in use (no hard limit).",
    ),
    (
        "entitlement.hard_limit_reached",
        {"seats": AT_LIMIT},
        "Acme Corp · Design Studio reached its hard limit: 120 of 100 seats in use (hard limit"
        " 120); further activations are denied.",
    ),
    (
        "entitlement.customer_cap_reached",
        {"seats": CAPPED},
        "Acme Corp · Design Studio reached the customer's cap: 110 of 100 seats in use (hard"
        " limit 120, customer cap 110); further activations are denied.",
    ),
    (
        "entitlement.overdraft_ended",
        {"seats": {**OVER, "used": 100, "available": 20}},
        "Acme Corp · Design Studio is out of overdraft: 100 of 100 seats in use (hard limit 120).",
    ),
    (
        "entitlement.created",
        {"changes": {"seats": 100, "hard_limit": 120}, "seats": {**OVER, "used": 0}},
        "Acme Corp · Design Studio: new entitlement of 100 seats (hard limit 120).",
    ),
    (
        "entitlement.updated",
        {"changes": {"seats": [100, 130], "hard_limit": [120, None]}, "seats": OVER},
        "Acme Corp · Design Studio: the terms were changed: hard limit 120 → none, seats 100 →"
        " 130.",
    ),
    (
        "expansion.requested",
        {"requested_seats": 130, "requested_hard_limit": 150, "message": "", "seats": OVER},
        "Acme Corp asks for 130 seats of Design Studio (now 100).",
    ),
    (
        "expansion.granted",
        {"previous_seats": 100, "granted_seats": 130, "granted_hard_limit": 150, "seats": OVER},
        "Acme Corp: Design Studio now has 130 seats (request granted).",
    ),
    (
        "expansion.declined",
        {"requested_seats": 130, "requested_hard_limit": 150, "note": "", "seats": OVER},
        "Acme Corp: the request for 130 seats of Design Studio was declined.",
    ),
    (
        "license_key.rotated",
        {
            "key_hint": "…Q7RTX",
            "previous_key_hint": "…AB3CD",
            "previous_key_valid_until": "2026-12-01T09:30:00+00:00",
            "seats": OVER,
        },
        "Acme Corp · Design Studio: the license key was rotated (now …Q7RTX); the previous key"
        " (…AB3CD) works until 2026-12-01 09:30 UTC.",
    ),
    (
        "license_key.rotated",
        {
            "key_hint": "…Q7RTX",
            "previous_key_hint": "…AB3CD",
            "previous_key_valid_until": None,
            "seats": OVER,
        },
        "Acme Corp · Design Studio: the license key was rotated (now …Q7RTX); the previous key"
        " (…AB3CD) stopped working.",
    ),
    (
        "entitlement.threshold_crossed",
        {
            "threshold": {"name": "80% of the entitled seats", "level": 80},
            "used": 80,
            "seats": OVER,
        },
        "Acme Corp · Design Studio crossed 80% of the entitled seats (80 seats): 101 of 100 seats"
        " in use (hard limit 120).",
    ),
    (
        "entitlement.raise_started",
        {
            "raised": {"seats": 120, "hard_limit": 140, "customer_cap": None},
            "ends_at": "2026-12-31T00:00:00+00:00",
            "seats": OVER,
        },
        "Acme Corp · Design Studio: a temporary raise started: 120 seats, hard limit 140 until"
        " 2026-12-31 00:00 UTC.",
    ),
    (
        "entitlement.raise_ended",
        {
            "restored": {"seats": 100, "hard_limit": 120, "customer_cap": 110},
            "seats_held_over": 0,
            "seats": OVER,
        },
        "Acme Corp · Design Studio: the temporary raise ended: back to 100 seats, hard limit 120,"
        " customer cap 110.",
    ),
    (
        "entitlement.raise_ended",
        {
            "restored": {"seats": 100, "hard_limit": 120, "customer_cap": None},
            "seats_held_over": 131,
            "seats": OVER,
        },
        "Acme Corp · Design Studio: the temporary raise ended: back to 100 seats, hard limit 120;"
        " 131 seats in use stay until released.",
    ),
    (
        "statement.issued",
        {
            "period": {"label": "Nov 2026"},
            "figures": {
                "overdraft_seat_hours": 1234,
                "billable_overdraft_seat_hours": 1000,
                "peak": 120,
                "denials": 37,
            },
            "seats": OVER,
        },
        "Acme Corp · Design Studio: the statement for Nov 2026 was issued: 1234 overdraft"
        " seat-hours (1000 billable), peak 120, 37 denials.",
    ),
]


@pytest.mark.parametrize(
    "event_type, data, sentence", CASES, ids=[f"{t}-{n}" for n, (t, _, _) in enumerate(CASES)]
)
def test_summary_of_each_event_type(entitlement, event_type, data, sentence):
    event = Event(
        type=event_type, entitlement=entitlement, customer=entitlement.customer, data=data
    )
    assert chat.summary(event) == sentence


def test_every_event_type_the_portal_writes_has_a_sentence_of_its_own():
    assert {event_type for event_type, _, _ in CASES} == set(Event.Type.values)


def test_another_event_type_gets_a_plain_sentence(entitlement):
    # A type a newer portal may write (statement.issued, which this test used, has its own).
    event = Event(
        type="example.unknown",
        entitlement=entitlement,
        customer=entitlement.customer,
        data={"seats": OVER},
    )
    assert chat.summary(event) == "Acme Corp · Design Studio: example.unknown event."


def test_an_event_without_an_entitlement_names_the_customer(customer):
    event = Event(type="customer.renamed", customer=customer, data={})
    assert chat.summary(event) == "Acme Corp: customer.renamed event."


def test_slack_text_escapes_markup_in_names(entitlement):
    entitlement.customer.name = "Smith & <Sons>"
    event = Event(
        type="entitlement.overdraft_started",
        entitlement=entitlement,
        customer=entitlement.customer,
        data={"seats": OVER},
    )
    body = chat.slack(chat.Message(chat.summary(event), event.type))
    assert body["text"] == (
        "Smith &amp; &lt;Sons&gt; · Design Studio is in overdraft: 101 of 100 seats in use"
        " (hard limit 120)."
    )
    assert body["blocks"][0]["text"]["text"] == body["text"]  # no link: no chart to open


def test_one_seat_is_singular(make_entitlement):
    entitlement = make_entitlement(seats=1, hard_limit=1)
    event = Event(
        type="seat.denied",
        entitlement=entitlement,
        customer=entitlement.customer,
        data={
            "fingerprint": "laptop-2",
            "label": "",
            "code": "hard_limit_reached",
            "seats": {"used": 1, "entitled": 1, "hard_limit": 1, "customer_cap": None},
        },
    )
    assert chat.summary(event) == (
        "Acme Corp · Design Studio: seat denied to laptop-2: the hard limit of 1 seat is reached"
        " (1 entitled)."
    )
