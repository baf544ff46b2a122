"""Webhook fixtures: a real local HTTP receiver, endpoints pointing at it, a flaky mail server."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from licensing.models import Customer
from licensing.services import Actor
from portal.models import User
from tests.webhooks.mailserver import FlakyMailServer
from webhooks import services
from webhooks.models import WebhookEndpoint


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float = field(default_factory=time.time)  # seconds since the epoch

    @property
    def delay(self) -> float:
        """Seconds from the event (the payload's `timestamp`) to its arrival here."""
        return self.arrived_at - datetime.fromisoformat(self.json()["timestamp"]).timestamp()

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)

    def verify(self, secret: str) -> Any:
        return Webhook(secret).verify(self.body, self.headers)


# (status code, seconds to wait before answering, extra headers) for the n-th request (0-based).
Behaviour = Callable[[int], tuple[int, float, dict[str, str]]]


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers as told."""

    behaviour: Behaviour = lambda n: (200, 0.0, {})
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return len(self.requests) - 1

    def ids(self) -> set[str]:
        with self._lock:
            return {r.message_id for r in self.requests}

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            n = receiver.record(Received(self.path, headers, body))
            status, delay, extra = receiver.behaviour(n)
            if delay:
                time.sleep(delay)
            answer = b'{"received": true}' if status < 300 else b"receiver says no"
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (timeout): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1, served from a thread while the block runs."""
    found = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # The personas are created with passwords; PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def allow_private(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def make_endpoint(db: Any, allow_private: None) -> Callable[..., WebhookEndpoint]:
    def make(url: str, **kwargs: Any) -> WebhookEndpoint:
        kwargs.setdefault("customer", None)
        return services.endpoint_create(url=url, **kwargs)

    return make


@pytest.fixture
def vendor_endpoint(
    make_endpoint: Callable[..., WebhookEndpoint], receiver: Receiver, account_manager: User
) -> WebhookEndpoint:
    return make_endpoint(receiver.url, actor=Actor.of(account_manager))


@pytest.fixture
def customer_endpoint(
    make_endpoint: Callable[..., WebhookEndpoint],
    receiver: Receiver,
    customer: Customer,
    customer_admin: User,
) -> WebhookEndpoint:
    return make_endpoint(receiver.url, customer=customer, actor=Actor.of(customer_admin))


@pytest.fixture
def mail_server(settings: Any) -> Iterator[type[FlakyMailServer]]:
    """Emails go to a mail server the test can take down (`mail_server.down = True`)."""
    settings.EMAIL_BACKEND = f"{FlakyMailServer.__module__}.{FlakyMailServer.__qualname__}"
    FlakyMailServer.reset()
    yield FlakyMailServer
    FlakyMailServer.reset()
