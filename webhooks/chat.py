"""Slack and Microsoft Teams messages: each event as a sentence a person reads in a channel,
with a link to the entitlement's usage chart.

`summary` says what happened (one sentence per event type the portal writes, and a plain one
for any other); `slack` and `teams` wrap a `Message` in the JSON body each service's incoming
webhook takes. Neither service checks Standard Webhooks signatures, so webhooks.delivery sends
these bodies unsigned.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from licensing import links
from licensing.models import Event
from webhooks.models import EndpointFormat

SENDER: Final = "Overdraft Portal"
CHART_LINK_TEXT: Final = "Open the usage chart"
ADAPTIVE_CARD: Final = "application/vnd.microsoft.card.adaptive"


@dataclasses.dataclass(frozen=True)
class Message:
    text: str
    event_type: str
    link: str | None = None  # the usage chart; None when there is no entitlement

    @classmethod
    def of(cls, event: Event) -> Message:
        entitlement = event.entitlement
        link = links.chart_url(entitlement) if entitlement is not None else None
        return cls(summary(event), event.type, link)


# --- the sentences ----------------------------------------------------------------------------


def _seats(count: Any) -> str:
    return f"{count} seat" if count == 1 else f"{count} seats"


def _limits(seats: Mapping[str, Any]) -> str:
    hard_limit = seats.get("hard_limit")
    text = "no hard limit" if hard_limit is None else f"hard limit {hard_limit}"
    if seats.get("customer_cap") is not None:
        text += f", customer cap {seats['customer_cap']}"
    return text


def _usage(seats: Mapping[str, Any]) -> str:
    """`101 of 100 seats in use (hard limit 120)`"""
    return f"{seats.get('used')} of {_seats(seats.get('entitled'))} in use ({_limits(seats)})"


def _holder(data: Mapping[str, Any]) -> str:
    """The seat's fingerprint, and its label when it has one: `laptop-1 (Ada)`."""
    fingerprint = data.get("fingerprint") or "a client"
    return f"{fingerprint} ({data['label']})" if data.get("label") else fingerprint


def _when(value: str | None) -> str:
    moment = datetime.fromisoformat(value) if value else None
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else ""


def _seat_activated(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    how = "in overdraft " if data.get("overdraft") else ""
    return f"{name}: seat activated {how}for {_holder(data)}; {_usage(seats)}."


def _seat_denied(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    line = {
        "hard_limit_reached": f"the hard limit of {_seats(seats.get('hard_limit'))} is reached",
        "customer_cap_reached": f"the customer's cap of {_seats(seats.get('customer_cap'))} is"
        " reached",
    }.get(data.get("code", ""))
    if line is None:
        return f"{name}: seat denied to {_holder(data)}; {_usage(seats)}."
    return f"{name}: seat denied to {_holder(data)}: {line} ({seats.get('entitled')} entitled)."


def _seat_released(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    if data.get("reason") == "revoked":
        return f"{name}: the seat of {_holder(data)} was revoked; {_usage(seats)}."
    return f"{name}: {_holder(data)} released its seat; {_usage(seats)}."


def _seat_expired(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    return f"{name}: the lease of {_holder(data)} ran out and its seat was freed; {_usage(seats)}."


def _overdraft_started(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    return f"{name} is in overdraft: {_usage(seats)}."


def _hard_limit_reached(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    return f"{name} reached its hard limit: {_usage(seats)}; further activations are denied."


def _customer_cap_reached(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    return f"{name} reached the customer's cap: {_usage(seats)}; further activations are denied."


def _overdraft_ended(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    return f"{name} is out of overdraft: {_usage(seats)}."


def _entitlement_created(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    return f"{name}: new entitlement of {_seats(seats.get('entitled'))} ({_limits(seats)})."


def _value(value: Any) -> str:
    return "none" if value is None else str(value)


def _entitlement_updated(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    # Sorted: PostgreSQL's jsonb does not keep the order the changes were written in.
    changes = sorted((data.get("changes") or {}).items())
    if not changes:
        return f"{name}: the terms were changed."
    listed = ", ".join(
        f"{field.replace('_', ' ')} {_value(old)} → {_value(new)}" for field, (old, new) in changes
    )
    return f"{name}: the terms were changed: {listed}."


def _expansion_requested(customer: str, product: str, data: Mapping[str, Any]) -> str:
    now = data.get("seats", {}).get("entitled")
    wanted = _seats(data.get("requested_seats"))
    return f"{customer} asks for {wanted} of {product} (now {now})."


def _expansion_granted(customer: str, product: str, data: Mapping[str, Any]) -> str:
    return f"{customer}: {product} now has {_seats(data.get('granted_seats'))} (request granted)."


def _expansion_declined(customer: str, product: str, data: Mapping[str, Any]) -> str:
    wanted = _seats(data.get("requested_seats"))
    return f"{customer}: the request for {wanted} of {product} was declined."


def _license_key_rotated(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    text = f"{name}: the license key was rotated (now {data.get('key_hint')})"
    until = _when(data.get("previous_key_valid_until"))
    if until:
        return f"{text}; the previous key ({data.get('previous_key_hint')}) works until {until}."
    return f"{text}; the previous key ({data.get('previous_key_hint')}) stopped working."


def _threshold_crossed(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    threshold = data.get("threshold") or {}
    return (
        f"{name} crossed {threshold.get('name')} ({_seats(threshold.get('level'))}):"
        f" {_usage(seats)}."
    )


def _raise_started(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    until = _when(data.get("ends_at"))
    return f"{name}: a temporary raise started: {_limits_of(data.get('raised'))} until {until}."


def _raise_ended(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    text = f"{name}: the temporary raise ended: back to {_limits_of(data.get('restored'))}"
    held = data.get("seats_held_over") or 0
    if held:
        return f"{text}; {_seats(held)} in use stay until released."
    return f"{text}."


def _statement_issued(name: str, data: Mapping[str, Any], seats: Mapping[str, Any]) -> str:
    period = data.get("period") or {}
    figures = data.get("figures") or {}
    return (
        f"{name}: the statement for {period.get('label')} was issued:"
        f" {figures.get('overdraft_seat_hours')} overdraft seat-hours"
        f" ({figures.get('billable_overdraft_seat_hours')} billable), peak {figures.get('peak')},"
        f" {figures.get('denials')} denials."
    )


def _limits_of(terms: Any) -> str:
    """`120 seats, hard limit 140`: the lines a raise set."""
    terms = terms if isinstance(terms, Mapping) else {}
    return f"{_seats(terms.get('seats'))}, {_limits(terms)}"


_Sentence = Callable[[str, Mapping[str, Any], Mapping[str, Any]], str]
_ABOUT_ENTITLEMENT: Final[dict[str, _Sentence]] = {
    Event.Type.SEAT_ACTIVATED: _seat_activated,
    Event.Type.SEAT_DENIED: _seat_denied,
    Event.Type.SEAT_RELEASED: _seat_released,
    Event.Type.SEAT_EXPIRED: _seat_expired,
    Event.Type.OVERDRAFT_STARTED: _overdraft_started,
    Event.Type.HARD_LIMIT_REACHED: _hard_limit_reached,
    Event.Type.CUSTOMER_CAP_REACHED: _customer_cap_reached,
    Event.Type.OVERDRAFT_ENDED: _overdraft_ended,
    Event.Type.ENTITLEMENT_CREATED: _entitlement_created,
    Event.Type.ENTITLEMENT_UPDATED: _entitlement_updated,
    Event.Type.LICENSE_KEY_ROTATED: _license_key_rotated,
    Event.Type.THRESHOLD_CROSSED: _threshold_crossed,
    Event.Type.RAISE_STARTED: _raise_started,
    Event.Type.RAISE_ENDED: _raise_ended,
    Event.Type.STATEMENT_ISSUED: _statement_issued,
}
# Requests for seats name the customer and the product apart, as their emails do.
_ABOUT_REQUEST: Final[dict[str, Callable[[str, str, Mapping[str, Any]], str]]] = {
    Event.Type.EXPANSION_REQUESTED: _expansion_requested,
    Event.Type.EXPANSION_GRANTED: _expansion_granted,
    Event.Type.EXPANSION_DECLINED: _expansion_declined,
}


def summary(event: Event) -> str:
    """What happened, as one sentence: "Acme Corp · Design Studio is in overdraft: 101 of 100
    seats in use (hard limit 120)." An event type without a sentence of its own (or without
    an entitlement) gets a plain one naming its type."""
    data = event.data or {}
    entitlement = event.entitlement
    if entitlement is None:
        return f"{event.customer.name}: {event.type} event."
    customer, product = entitlement.customer.name, entitlement.product.name
    name = f"{customer} · {product}"
    if event.type in _ABOUT_REQUEST:
        return _ABOUT_REQUEST[event.type](customer, product, data)
    sentence = _ABOUT_ENTITLEMENT.get(event.type)
    if sentence is None:
        return f"{name}: {event.type} event."
    return sentence(name, data, data.get("seats") or {})


# --- the bodies -------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    """Slack reads `&`, `<` and `>` as markup in mrkdwn: a customer's name must not be."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(message: Message) -> dict[str, Any]:
    """A Slack incoming webhook's body: `text` for notifications, blocks for the channel."""
    text = _slack_escape(message.text)
    section = text if message.link is None else f"{text}\n<{message.link}|{CHART_LINK_TEXT}>"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{SENDER} · `{message.event_type}`"}],
            },
        ],
    }


def teams(message: Message) -> dict[str, Any]:
    """A Teams incoming webhook's (or Workflows') body: a message with an Adaptive Card."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.text, "wrap": True},
            {
                "type": "TextBlock",
                "text": f"{SENDER} · {message.event_type}",
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            },
        ],
        "actions": [],
    }
    if message.link is not None:
        card["actions"].append(
            {"type": "Action.OpenUrl", "title": CHART_LINK_TEXT, "url": message.link}
        )
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


_BODIES: Final[dict[str, Callable[[Message], dict[str, Any]]]] = {
    EndpointFormat.SLACK: slack,
    EndpointFormat.TEAMS: teams,
}


def body(endpoint_format: str, message: Message) -> bytes:
    """The JSON body of `message` for an endpoint of `endpoint_format` (slack or teams)."""
    return json.dumps(_BODIES[endpoint_format](message), ensure_ascii=False).encode()
