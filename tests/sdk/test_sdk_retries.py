"""The library retries politely: it waits at least the portal's `Retry-After` on 429 and 503,
backs off with full jitter when there is no answer or a 5xx, and never asks again when the
answer would not change. A local stub answers (tests/sdk/stub.py); the waits go to an
injected sleep, and the clock is injected where an HTTP-date `Retry-After` needs one."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate
from typing import Any

import pytest
from overdraft_client import (
    ActivationNotFound,
    Backoff,
    Client,
    Denied,
    EntitlementUnusable,
    Granted,
    InvalidLicenseKey,
    InvalidRequest,
    SeatNotHeld,
    State,
    Unavailable,
)

from tests.sdk.stub import Reply, Signer, serving
from tests.servers import free_port

FINGERPRINT = "host-1"


class Waits(list[float]):
    """An injected sleep: records what the library would have slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _client(url: str, signer: Signer, waits: Waits, **options: Any) -> Client:
    options.setdefault("backoff", Backoff(attempts=4, base=0.1, cap=60))
    return Client(
        url,
        "KEY-1",
        fingerprint=FINGERPRINT,
        jwks=signer.jwks,
        sleep=waits,
        release_at_exit=False,
        **options,
    )


def test_429_and_503_are_waited_out_for_at_least_their_retry_after() -> None:
    signer, waits = Signer(), Waits()
    replies: list[Reply] = [
        (429, {"Retry-After": "7"}, {"code": "throttled", "message": "Slow down."}),
        (503, {"Retry-After": "3"}, {"code": "service_unavailable", "message": "Briefly."}),
        (201, {}, signer.granted(FINGERPRINT)),
    ]
    with serving(replies) as stub:
        result = _client(stub.url, signer, waits).activate()

    assert isinstance(result, Granted)
    assert len(stub.requests) == 3
    assert len(waits) == 2
    assert waits[0] >= 7
    assert waits[1] >= 3


def test_a_retry_after_date_is_waited_out_by_the_clock() -> None:
    signer, waits = Signer(), Waits()
    now = float(int(time.time()))  # the clock stands still here
    replies: list[Reply] = [
        (503, {"Retry-After": formatdate(now + 42, usegmt=True)}, None),
        (201, {}, signer.granted(FINGERPRINT)),
    ]
    with serving(replies) as stub:
        client = _client(stub.url, signer, waits, clock=lambda: now)
        assert isinstance(client.activate(), Granted)

    assert waits == [42.0]


def test_no_answer_and_5xx_are_retried_with_full_jitter_then_given_up() -> None:
    signer, waits = Signer(), Waits()
    backoff = Backoff(attempts=4, base=0.1, cap=60)
    replies: list[Reply] = [(500, {}, None), (502, {}, None), (201, {}, signer.granted("host-1"))]
    with serving(replies) as stub:
        assert isinstance(_client(stub.url, signer, waits, backoff=backoff).activate(), Granted)
    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.1 and 0 <= waits[1] <= 0.2  # uniform in [0, base * 2**(n-1)]

    closed, waits = f"http://127.0.0.1:{free_port()}", Waits()
    client = _client(closed, signer, waits, backoff=backoff)
    with pytest.raises(Unavailable, match="cannot be reached"):
        client.activate()
    assert len(waits) == 3  # four tries
    assert all(0 <= wait <= 0.1 * 2**n for n, wait in enumerate(waits))
    assert client.state is State.OFFLINE_PAST_GRACE  # no lease to fall back on


def test_a_retry_after_longer_than_the_cap_ends_the_call_at_once() -> None:
    signer, waits = Signer(), Waits()
    throttled: list[Reply] = [(429, {"Retry-After": "120"}, {"code": "throttled"})]
    with serving(throttled) as stub, pytest.raises(Unavailable) as raised:
        _client(stub.url, signer, waits, backoff=Backoff(cap=30)).activate()
    assert raised.value.retry_after == 120
    assert raised.value.status == 429
    assert (len(stub.requests), waits) == (1, [])


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [
        (400, "invalid_request", InvalidRequest),
        (401, "invalid_license_key", InvalidLicenseKey),
        (403, "entitlement_suspended", EntitlementUnusable),
    ],
)
def test_a_refusal_is_not_retried(status: int, code: str, raised: type[Exception]) -> None:
    signer, waits = Signer(), Waits()
    with serving([(status, {"Retry-After": "1"}, {"code": code, "message": "No."})]) as stub:
        client = _client(stub.url, signer, waits)
        with pytest.raises(raised) as error:
            client.activate()
    assert getattr(error.value, "code", None) == code
    assert (len(stub.requests), waits) == (1, [])
    assert client.state is State.REFUSED
    assert not client.licensed()
    assert client.message == "No."


def test_a_denial_is_an_answer_not_retried() -> None:
    signer, waits = Signer(), Waits()
    denied = {
        "status": "denied",
        "code": "hard_limit_reached",
        "message": "All 5 seats are in use.",
        "seats": {"used": 5, "entitled": 5, "hard_limit": 5, "customer_cap": None},
        "retry_after": 30,
    }
    with serving([(409, {"Retry-After": "30"}, denied)]) as stub:
        client = _client(stub.url, signer, waits)
        result = client.activate()
    assert isinstance(result, Denied)
    assert (result.code, result.retry_after) == ("hard_limit_reached", 30)
    assert (len(stub.requests), waits) == (1, [])
    assert client.state is State.DENIED_HARD_LIMIT


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [(410, "seat_not_held", SeatNotHeld), (404, "activation_not_found", ActivationNotFound)],
)
def test_a_lost_seat_is_not_heartbeated_again(
    status: int, code: str, raised: type[Exception]
) -> None:
    signer, waits = Signer(), Waits()
    replies: list[Reply] = [(201, {}, signer.granted(FINGERPRINT)), (status, {}, {"code": code})]
    with serving(replies) as stub:
        client = _client(stub.url, signer, waits)
        client.activate()
        with pytest.raises(raised):
            client.heartbeat()
    assert [method for method, _ in stub.requests] == ["POST", "POST"]
    assert waits == []
    assert client.seat_id is None
    assert client.state is State.INACTIVE


def test_a_server_that_answers_no_http_is_unreachable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        client = _client(url, Signer(), Waits(), backoff=Backoff(attempts=1), timeout=0.2)
        with pytest.raises(Unavailable):
            client.activate()
