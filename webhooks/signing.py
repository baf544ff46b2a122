"""Standard Webhooks messages: the body and the three signed headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> bytes:
    message = {"type": event_type, "timestamp": timestamp.isoformat(), "data": data}
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode()


def headers(
    *, message_id: str, payload: bytes, secrets: list[str], now: datetime
) -> dict[str, str]:
    """Headers signed with every current secret (two during a rotation's grace period)."""
    now = now.astimezone(UTC)
    text = payload.decode()
    signatures = [
        Webhook(secret).sign(msg_id=message_id, timestamp=now, data=text) for secret in secrets
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
