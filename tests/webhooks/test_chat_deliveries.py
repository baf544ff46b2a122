"""Slack and Teams endpoints get the events as the message bodies those incoming webhooks take,
unsigned, through the same fan-out, claims, retries and delivery log as signed webhooks.

The receiver is the suite's real HTTP server, so every attempt goes through the transport."""

import pytest

from licensing import services
from licensing.models import Event
from webhooks import outbox
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint

SITE = "https://portal.example.com"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


def _slack_body(chart: str) -> dict:
    return {
        "text": "Acme Corp · Design Studio is in overdraft: 3 of 2 seats in use (hard limit 3).",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Acme Corp · Design Studio is in overdraft: 3 of 2 seats in use"
                    f" (hard limit 3).\n<{chart}|Open the usage chart>",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Overdraft Portal · `entitlement.overdraft_started`",
                    }
                ],
            },
        ],
    }


def _teams_body(chart: str) -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "Acme Corp · Design Studio is in overdraft: 3 of 2 seats in"
                            " use (hard limit 3).",
                            "wrap": True,
                        },
                        {
                            "type": "TextBlock",
                            "text": "Overdraft Portal · entitlement.overdraft_started",
                            "isSubtle": True,
                            "size": "Small",
                            "wrap": True,
                        },
                    ],
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Open the usage chart", "url": chart}
                    ],
                },
            }
        ],
    }


EXPECTED = {"slack": _slack_body, "teams": _teams_body}


def _into_overdraft(make_entitlement):
    """A 2/3 entitlement taken to 3 seats: one `entitlement.overdraft_started` event."""
    entitlement = make_entitlement(seats=2, hard_limit=3)
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"laptop-{n}")
    return entitlement, Event.objects.get(type=Event.Type.OVERDRAFT_STARTED)


def _fan_out_and_deliver() -> None:
    outbox.fan_out(Event.objects.filter(dispatched_at__isnull=True).values_list("seq", flat=True))
    outbox.deliver_due()


def _assert_unsigned_json(headers: dict[str, str]) -> None:
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "OverdraftPortal-Webhooks/1"
    assert "webhook-signature" not in headers
    assert "webhook-id" not in headers
    assert "webhook-timestamp" not in headers


@pytest.mark.parametrize("endpoint_format", ["slack", "teams"])
def test_overdraft_reaches_a_chat_endpoint_as_its_message_body(
    make_endpoint, receiver, make_entitlement, endpoint_format
):
    endpoint = make_endpoint(
        receiver.url, format=endpoint_format, event_types=["entitlement.overdraft_started"]
    )
    entitlement, event = _into_overdraft(make_entitlement)

    _fan_out_and_deliver()

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    chart = f"{SITE}/c/acme-corp/entitlements/{entitlement.pk}/"
    assert received.path == "/hooks"
    assert received.json() == EXPECTED[endpoint_format](chart)
    _assert_unsigned_json(received.headers)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event == event
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_log.get().status_code == 200


@pytest.mark.parametrize("endpoint_format", ["slack", "teams"])
def test_a_chat_endpoint_answering_500_is_retried_and_logged(
    make_endpoint, receiver, make_entitlement, frozen, endpoint_format
):
    receiver.behaviour = lambda n: (500, 0.0, {}) if n == 0 else (200, 0.0, {})
    endpoint = make_endpoint(
        receiver.url, format=endpoint_format, event_types=["entitlement.overdraft_started"]
    )
    entitlement, _event = _into_overdraft(make_entitlement)

    _fan_out_and_deliver()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.next_attempt_at is not None
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.failing_since is not None

    frozen.move_to(delivery.next_attempt_at)
    outbox.deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempts == 2
    attempts = list(delivery.attempt_log.order_by("started_at"))
    assert [a.status_code for a in attempts] == [500, 200]
    assert [a.succeeded for a in attempts] == [False, True]
    assert attempts[0].response_excerpt == "receiver says no"
    chart = f"{SITE}/c/acme-corp/entitlements/{entitlement.pk}/"
    assert [r.json() for r in receiver.requests] == [EXPECTED[endpoint_format](chart)] * 2
    for request in receiver.requests:
        _assert_unsigned_json(request.headers)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_standard_and_slack_endpoints_of_one_event_get_their_own_bodies(
    make_endpoint, receiver, make_entitlement
):
    standard = make_endpoint(receiver.url + "/standard", event_types=["seat.denied"])
    make_endpoint(receiver.url + "/slack", format="slack", event_types=["seat.denied"])
    entitlement = make_entitlement(seats=1, hard_limit=1)
    services.seat_activate(entitlement=entitlement, fingerprint="laptop-1")
    services.seat_activate(entitlement=entitlement, fingerprint="laptop-2", label="Bo")

    _fan_out_and_deliver()

    by_path = {r.path: r for r in receiver.requests}
    assert sorted(by_path) == ["/hooks/slack", "/hooks/standard"]
    signed = by_path["/hooks/standard"]
    assert signed.verify(standard.secret)["type"] == "seat.denied"
    slack = by_path["/hooks/slack"]
    assert "webhook-signature" not in slack.headers
    assert slack.json()["text"] == (
        "Acme Corp · Design Studio: seat denied to laptop-2 (Bo): the hard limit of 1 seat is"
        " reached (1 entitled)."
    )


def test_test_ping_to_a_teams_endpoint_has_no_chart_link(make_endpoint, receiver):
    endpoint = make_endpoint(receiver.url, format=WebhookEndpoint.Format.TEAMS)
    webhook_services.endpoint_send_test(endpoint=endpoint)
    outbox.deliver_due()

    assert len(receiver.requests) == 1
    card = receiver.requests[0].json()["attachments"][0]["content"]
    assert card["body"][0]["text"] == (
        "A test event from the Overdraft Portal: your endpoint works."
    )
    assert card["body"][1]["text"] == "Overdraft Portal · webhook.test"
    assert card["actions"] == []
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED
