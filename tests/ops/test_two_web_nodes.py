"""Two gunicorn nodes on two ports, one PostgreSQL and one Redis: the web tier keeps no state of
its own, so whichever node a request reaches answers it the same (docs/operations.md, "Two web
nodes"; `WEB_NODES=2 scripts/stack` runs the same shape by hand).

The nodes share the test suite's database (the test commits, `transaction=True`) and a Redis of
the test's own, as the cache and the Celery broker (no worker: no task here needs one). Run
with `-s` to see the race's figures.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from licensing import services
from licensing.models import Customer, Entitlement, Membership, Product, Seat
from portal.models import User
from tests.servers import Client, Gunicorn, RedisServer, suite_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "two-nodes-password-2026"
RACERS = 400


class Nodes:
    """Node A and node B: the same settings, as two hosts behind a load balancer would have."""

    def __init__(self, workdir: Path, redis: RedisServer, license_rate: str) -> None:
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("DATABASE", "REDIS", "CELERY", "SECRET_KEY"))
            },
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_ENV": "development",
            "DEBUG": "0",
            "SECRET_KEY": "two-web-nodes-share-this-secret-key-0123456789",
            "DATABASE_URL": suite_database_url(),
            "REDIS_URL": redis.url,
            "CELERY_BROKER_URL": redis.url.replace("/0", "/1"),
            "API_THROTTLE_LICENSE": license_rate,
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "LOG_LEVEL": "WARNING",
        }
        self.a = Gunicorn(env, workdir / "node-a.log")
        self.b = Gunicorn(env, workdir / "node-b.log")

    @property
    def ports(self) -> tuple[int, int]:
        return self.a.port, self.b.port

    def start(self) -> None:
        failed: list[BaseException] = []

        def start(node: Gunicorn) -> None:
            try:
                node.start()
            except BaseException as exc:  # re-raised below, in the test's thread
                failed.append(exc)

        threads = [threading.Thread(target=start, args=(node,)) for node in (self.a, self.b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failed:
            raise failed[0]

    def stop(self) -> None:
        self.a.stop()
        self.b.stop()


@pytest.fixture
def start_nodes(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Nodes]]:
    """`start_nodes(license_rate=...)`: a Redis of the test's own and two nodes using it."""
    started: list[Nodes] = []
    redis = RedisServer(tmp_path)

    def start(license_rate: str = "1000000/min") -> Nodes:
        redis.start()
        nodes = Nodes(tmp_path, redis, license_rate)
        started.append(nodes)
        nodes.start()
        return nodes

    try:
        yield start
    finally:
        for nodes in started:
            nodes.stop()
        redis.stop()


def _activate(port: int, key: str, fingerprint: str) -> tuple[int, dict[str, Any]]:
    client = Client(port)
    try:
        answer = client.call(
            "POST", "/api/v1/activations", {"fingerprint": fingerprint}, _license(key)
        )
    finally:
        client.close()
    return answer.status, answer.json()


def _license(key: str) -> dict[str, str]:
    return {"Authorization": f"License {key}"}


def test_the_race_across_both_nodes_grants_exactly_the_hard_limit(
    start_nodes: Callable[..., Nodes], make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement(seats=100, hard_limit=120)
    nodes = start_nodes()
    barrier = threading.Barrier(RACERS)
    outcomes: list[tuple[str, int, str, str | None]] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        node, port = ("A", nodes.a.port) if n % 2 == 0 else ("B", nodes.b.port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.connect()  # connected before the start line, so all send at once
            body = json.dumps({"fingerprint": f"pc-{n:03}"}).encode()
            headers = {"Content-Type": "application/json", **_license(entitlement.license_key)}
            barrier.wait(timeout=30)
            conn.request("POST", "/api/v1/activations", body, headers)
            response = conn.getresponse()
            data = json.loads(response.read())
            with lock:
                outcomes.append((node, response.status, data.get("status"), data.get("code")))
        finally:
            conn.close()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    seconds = time.perf_counter() - started
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"

    assert len(outcomes) == RACERS
    results = Counter((status, result, code) for _, status, result, code in outcomes)
    assert results == {
        (201, "ok", None): 100,
        (201, "overdraft", None): 20,
        (409, "denied", "hard_limit_reached"): 280,
    }
    entitlement.refresh_from_db()
    in_use = Seat.objects.filter(entitlement=entitlement, released_at__isnull=True).count()
    assert entitlement.seats_used == 120 == in_use
    per_node = {
        node: Counter(result for name, _, result, _ in outcomes if name == node) for node in "AB"
    }
    assert all(sum(counts.values()) == RACERS // 2 for counts in per_node.values())
    print(
        f"\ntwo-node race: {RACERS} concurrent activations ({RACERS // 2} per node) against"
        f" 100 seats / hard limit 120 in {seconds:.1f} s: {results[(201, 'ok', None)]} ok +"
        f" {results[(201, 'overdraft', None)]} overdraft ="
        f" {results[(201, 'ok', None)] + results[(201, 'overdraft', None)]} granted,"
        f" {results[(409, 'denied', 'hard_limit_reached')]} denied hard_limit_reached;"
        + "".join(
            f" node {node}: {c['ok']} ok, {c['overdraft']} overdraft, {c['denied']} denied;"
            for node, c in per_node.items()
        )
        + f" seats_used {entitlement.seats_used} = seats in use {in_use}"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 302 itself is the answer


class Browser:
    """One person's browser: one cookie jar (cookies are per host, not per port, so the
    session cookie node A set goes to node B too, as it would behind one load balancer)."""

    def __init__(self) -> None:
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def get(self, port: int, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(f"http://127.0.0.1:{port}{path}"))

    def post_form(self, port: int, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """Submit the form on `path` (GET first, for its CSRF token)."""
        _, _, page = self.get(port, path)
        tag = re.search(r'<input[^>]*name="csrfmiddlewaretoken"[^>]*>', page)
        token = re.search(r'value="([^"]+)"', tag.group(0)) if tag else None
        assert token, f"no CSRF token on {path}"
        data = urlencode({**fields, "csrfmiddlewaretoken": token.group(1)}).encode()
        return self._open(urllib.request.Request(f"http://127.0.0.1:{port}{path}", data))

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, "", response.read().decode()
        except urllib.error.HTTPError as answer:  # 3xx (not followed) and errors
            with answer:
                return answer.code, answer.headers.get("Location", ""), answer.read().decode()


def test_a_session_begun_on_one_node_is_the_same_on_the_other(
    start_nodes: Callable[..., Nodes], customer: Customer
) -> None:
    user = User.objects.create_user("admin@acme.test", name="Ada Admin")
    # The nodes run the production hasher (the tests' own is MD5, which they do not accept).
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save(update_fields=["password"])
    Membership.objects.create(user=user, customer=customer, role=Membership.Role.ADMIN)
    nodes = start_nodes()
    browser = Browser()
    page = f"/c/{customer.slug}/"

    status, location, _ = browser.post_form(
        nodes.a.port, "/accounts/login/", {"login": user.email, "password": PASSWORD}
    )
    assert status == 302 and "/accounts/login/" not in location

    status, _, body = browser.get(nodes.b.port, page)
    assert status == 200
    assert "Ada Admin" in body or "admin@acme.test" in body
    assert "Acme Corp" in body

    status, _, _ = browser.post_form(nodes.b.port, "/accounts/logout/", {})
    assert status == 302
    status, location, _ = browser.get(nodes.a.port, page)  # logged out everywhere
    assert status == 302 and location.startswith("/accounts/login/")


def test_the_license_key_throttle_counts_requests_to_both_nodes_together(
    start_nodes: Callable[..., Nodes], make_entitlement: Callable[..., Entitlement]
) -> None:
    # Per hour, not per minute: ten calls never straddle a window's end (a fixed window).
    nodes = start_nodes(license_rate="10/hour")
    key = make_entitlement().license_key
    clients = [Client(port) for port in nodes.ports]

    answers = [
        clients[n % 2].call("GET", "/api/v1/entitlement", headers=_license(key)).status
        for n in range(11)
    ]

    # Each node saw 5 or 6 of them: counted per node, none would be refused.
    assert answers == [200] * 10 + [429]
    throttled = clients[0].call("GET", "/api/v1/entitlement", headers=_license(key))
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    for client in clients:
        client.close()


def test_a_lease_that_ran_out_on_one_node_is_reclaimed_by_an_activation_on_the_other(
    start_nodes: Callable[..., Nodes], customer: Customer, product: Product
) -> None:
    lease = 3
    pool = services.entitlement_create(
        customer=customer, product=product, seats=2, hard_limit=2, lease_seconds=lease
    )
    key = pool.license_key
    nodes = start_nodes()

    status, first = _activate(nodes.a.port, key, "gone-home")
    assert status == 201
    time.sleep(lease + 0.2)  # its lease runs out: no heartbeat came
    assert _activate(nodes.b.port, key, "second")[0] == 201
    status, third = _activate(nodes.b.port, key, "third")  # full: reclaims the first seat

    assert status == 201 and third["seats"]["used"] == 2
    gone = Seat.objects.get(pk=first["id"])
    assert gone.release_reason == Seat.ReleaseReason.EXPIRED
    status, denied = _activate(nodes.a.port, key, "fourth")  # the two live leases hold
    assert (status, denied["code"]) == (409, "hard_limit_reached")
    pool.refresh_from_db()
    in_use = Seat.objects.filter(entitlement=pool, released_at__isnull=True).count()
    assert pool.seats_used == 2 == in_use
