"""A real gunicorn keeps answering when Redis or PostgreSQL falter (docs/operations.md).

The stack here is its own: a PostgreSQL cluster, one Redis serving as both the cache and the
Celery broker (the common deployment), and gunicorn with the production config, so stopping or
pausing them touches nothing else. Each scenario prints what the clients got, how many requests
it sent and the worst added latency (run with -s to see them); no timing is asserted.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.servers import Answer, Client, Gunicorn, PostgresCluster, RedisServer, manage, pg_bin

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="needs PostgreSQL's server binaries")

PASSWORD = "degraded-password-2026"
STAFF = "am@degraded.test"

# A 2/3 entitlement with 900 s floating seats, walked through every answer a license client
# gets: (HTTP status, "status", "code", seats used after). Written out by hand.
EXPECTED_STORY = [
    ("activate a", 201, "ok", None, 1),
    ("activate b", 201, "ok", None, 2),
    ("activate c", 201, "overdraft", None, 3),
    ("activate d", 409, "denied", "hard_limit_reached", 3),
    ("activate a again", 200, "ok", None, 3),
    ("heartbeat a", 200, "ok", None, 3),
    ("release b", 204, None, None, None),
    ("read entitlement", 200, "active", None, 2),
    ("activate d", 201, "overdraft", None, 3),
    ("vendor: list customers", 200, None, None, None),
    ("portal: log in", 302, None, None, None),
]


class Stack:
    def __init__(self, workdir: Path) -> None:
        self.postgres = PostgresCluster("degraded")
        self.redis = RedisServer(workdir)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS"))},
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_ENV": "development",
            "DEBUG": "0",
            "DATABASE_URL": self.postgres.url,
            "DATABASE_POOL": "2",  # the production default: the pool's path is the one to test
            "DATABASE_RETRY_SECONDS": "1",
            "REDIS_URL": self.redis.url.replace("/0", "/1"),
            "CELERY_BROKER_URL": self.redis.url,
            "REDIS_RETRY_SECONDS": "1",
            "API_THROTTLE_LICENSE": "1000000/min",  # the load below is one key's
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
            "LOG_LEVEL": "WARNING",
        }
        self.web = Gunicorn(self.env, workdir / "gunicorn.log")
        self.keys: list[str] = []
        self.token = ""

    def start(self) -> None:
        self.postgres.create()
        self.redis.start()
        manage(self.env, "migrate", "--no-input", "-v0")
        made = manage(self.env, "shell", "-c", _MAKE_DATA)
        self.keys, self.token = json.loads(made.strip().splitlines()[-1])
        self.web.start()

    def stop(self) -> None:
        self.web.stop()
        self.redis.stop()
        self.postgres.destroy()

    def sql(self, query: str, *params: Any) -> Any:
        with psycopg.connect(self.postgres.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(query, params).fetchone()


_MAKE_DATA = f"""
import json
from licensing import services
from licensing.services.tokens import api_token_create
from portal.models import User
staff = User.objects.create_user({STAFF!r}, {PASSWORD!r}, is_staff=True)
customer = services.customer_create(name="Degraded Co", account_manager=staff)
product = services.product_create(name="Tool")
keys = [
    services.entitlement_create(
        customer=customer, product=product, seats=2, hard_limit=3, lease_seconds=900
    ).license_key
    for _ in range(8)
]
keys.append(
    services.entitlement_create(customer=customer, product=product, seats=100, hard_limit=120)
    .license_key
)
print(json.dumps([keys, api_token_create(user=staff, name="degraded")[1]]))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("degraded"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _login(client: Client) -> Any:
    page = client.call("GET", "/accounts/login/")
    cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", ""))
    tag = re.search(rb'<input[^>]*name="csrfmiddlewaretoken"[^>]*>', page.body)
    field = re.search(rb'value="([^"]+)"', tag.group(0)) if tag else None
    assert cookie and field, page.status
    form = f"login={STAFF}&password={PASSWORD}&csrfmiddlewaretoken={field.group(1).decode()}"
    client._conn.request(  # type: ignore[union-attr]
        "POST",
        "/accounts/login/",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie.group(1)}",
            "Referer": f"http://127.0.0.1:{client.port}/accounts/login/",
        },
    )
    started = time.perf_counter()
    response = client._conn.getresponse()  # type: ignore[union-attr]
    response.read()
    took = time.perf_counter() - started
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie") or "")
    return response.status, took, session.group(1) if session else None


def run_story(stack: Stack, key: str) -> tuple[list[tuple[Any, ...]], list[float]]:
    """The story's answers, reduced to what EXPECTED_STORY names, and each call's seconds."""
    client = Client(stack.web.port)
    answers: list[tuple[Any, ...]] = []
    seconds: list[float] = []
    seat_ids: dict[str, str] = {}

    def call(name: str, method: str, path: str, body: Any = None, auth: str = "") -> Any:
        answer = client.call(method, path, body, {"Authorization": auth or f"License {key}"})
        data: dict[str, Any] = answer.json() if answer.body else {}
        seats = data["seats"] if isinstance(data.get("seats"), dict) else {}
        answers.append(
            (name, answer.status, data.get("status"), data.get("code"), seats.get("used"))
        )
        seconds.append(answer.seconds)
        return data

    for fingerprint in "abc":
        data = call(
            f"activate {fingerprint}", "POST", "/api/v1/activations", {"fingerprint": fingerprint}
        )
        seat_ids[fingerprint] = data.get("id", "none")
    call("activate d", "POST", "/api/v1/activations", {"fingerprint": "d"})
    call("activate a again", "POST", "/api/v1/activations", {"fingerprint": "a"})
    call("heartbeat a", "POST", f"/api/v1/activations/{seat_ids['a']}/heartbeat")
    call("release b", "DELETE", f"/api/v1/activations/{seat_ids['b']}")
    call("read entitlement", "GET", "/api/v1/entitlement")
    call("activate d", "POST", "/api/v1/activations", {"fingerprint": "d"})
    call("vendor: list customers", "GET", "/api/v1/customers", auth=f"Bearer {stack.token}")
    client.close()
    portal = Client(stack.web.port)
    status, took, _ = _login(portal)
    portal.close()
    answers.append(("portal: log in", status, None, None, None))
    seconds.append(took)
    return answers, seconds


def test_license_clients_get_the_same_answers_while_redis_is_stopped_or_hung(
    stack: Stack,
) -> None:
    keys = iter(stack.keys)
    report: dict[str, Any] = {}
    run_story(stack, next(keys))  # warm up: first connections, prepared statements
    baseline_answers, baseline = run_story(stack, next(keys))
    assert baseline_answers == EXPECTED_STORY

    def phase(name: str) -> None:
        answers, seconds = run_story(stack, next(keys))
        assert answers == EXPECTED_STORY, name
        added = [(took - usual) * 1000 for took, usual in zip(seconds, baseline, strict=True)]
        worst = max(range(len(added)), key=added.__getitem__)
        report[name] = {
            "requests": len(seconds),
            "5xx": sum(1 for a in answers if a[1] >= 500),
            "worst_added_ms": round(added[worst], 1),
            "worst_call": answers[worst][0],
            "median_added_ms": round(statistics.median(added), 1),
        }

    stack.redis.pause()  # hung: the kernel accepts connections, nothing answers
    try:
        phase("redis hung")
        time.sleep(1.1)  # past REDIS_RETRY_SECONDS: the breaker lets one call try again
        phase("redis hung, after a retry interval")
    finally:
        stack.redis.resume()
    time.sleep(1.1)
    phase("redis back after the hang")
    stack.redis.stop()
    phase("redis stopped")
    stack.redis.start()
    time.sleep(1.1)
    phase("redis back after the stop")
    ready = Client(stack.web.port).call("GET", "/readyz").json()
    assert ready["checks"]["cache"] == "ok"
    print("\nredis faults (each call's latency against the same call with Redis up):")
    for name, figures in report.items():
        print(f"  {name}: {figures}")


class Load:
    """Threads calling the client API (activations, heartbeats, reads) until stopped; each
    answer is kept with the moments it was sent and answered."""

    def __init__(self, port: int, key: str, threads: int = 4) -> None:
        self.port, self.key = port, key
        self.stopping = threading.Event()
        self.answers: list[tuple[float, float, Any]] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]

    def _run(self, n: int) -> None:
        client = Client(self.port, timeout=20)
        license = {"Authorization": f"License {self.key}"}
        for i in range(20_000):  # bounded however long the test waits
            if self.stopping.is_set():
                break
            sent = time.monotonic()
            answer: Answer | OSError
            try:
                if i % 3 == 0:
                    answer = client.call("GET", "/api/v1/entitlement", None, license)
                else:
                    fingerprint = f"load-{n}-{i % 10}"
                    answer = client.call(
                        "POST", "/api/v1/activations", {"fingerprint": fingerprint}, license
                    )
            except OSError as error:
                answer = error
            with self._lock:
                self.answers.append((sent, time.monotonic(), answer))
            time.sleep(0.005)
        client.close()

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(30)


def test_postgres_stopped_under_load_gives_503_with_retry_after_then_recovers(
    stack: Stack,
) -> None:
    key = stack.keys[-1]  # 100/120, named seats
    staff = Client(stack.web.port)
    session = {"Cookie": f"sessionid={_login(staff)[2]}"}
    assert staff.call("GET", "/team/customers/", headers=session).status == 200
    with Load(stack.web.port, key) as load:
        time.sleep(1)
        stack.postgres.stop()
        down_from = time.monotonic()
        time.sleep(1.5)
        page = staff.call("GET", "/team/customers/", headers=session)
        vendor = staff.call(
            "GET", "/api/v1/customers", headers={"Authorization": f"Bearer {stack.token}"}
        )
        time.sleep(1.5)
        down_until = time.monotonic()
        stack.postgres.start()
        deadline = time.monotonic() + 30
        probe = Client(stack.web.port)
        while time.monotonic() < deadline and probe.call("GET", "/readyz").status != 200:
            time.sleep(0.2)
        recovered = time.monotonic()
        time.sleep(1)
    answers = load.answers
    errors = [a for _, _, a in answers if isinstance(a, Exception)]
    assert errors == []
    statuses = [a.status for _, _, a in answers]
    assert all(s < 500 or s == 503 for s in statuses), sorted(set(statuses))
    unavailable = [a for _, _, a in answers if a.status == 503]
    assert unavailable, "no request saw the database down"
    for answer in unavailable:
        assert answer.json()["code"] == "service_unavailable"
        assert int(answer.headers["Retry-After"]) >= 1
    while_down = [a.status for sent, done, a in answers if down_from < sent and done < down_until]
    assert while_down and set(while_down) == {503}
    after = [a.status for sent, _, a in answers if sent > recovered]
    assert after and set(after) <= {200, 201}

    # The portal's own page: styled, no session or user needed to render it.
    assert page.status == 503
    assert int(page.headers["Retry-After"]) >= 1
    assert b"We&#x27;ll be right back" in page.body or b"We'll be right back" in page.body
    assert b"/static/css/portal.css" in page.body
    assert staff.call("GET", "/team/customers/", headers=session).status == 200
    assert vendor.status == 503 and vendor.json()["code"] == "service_unavailable"
    assert int(vendor.headers["Retry-After"]) >= 1
    assert vendor.status == 503 and vendor.json()["code"] == "service_unavailable"
    assert int(vendor.headers["Retry-After"]) >= 1

    answers_after, _ = run_story(stack, stack.keys[-2])
    assert answers_after == EXPECTED_STORY
    used, held = stack.sql(
        "SELECT e.seats_used, (SELECT count(*) FROM licensing_seat s"
        " WHERE s.entitlement_id = e.id AND s.released_at IS NULL)"
        " FROM licensing_entitlement e WHERE e.license_key = %s",
        key,
    )
    assert used == held == 40  # 4 threads x 10 fingerprints
    worst_503 = max(a.seconds for a in unavailable)
    slow_503 = sum(1 for a in unavailable if a.seconds > 0.1)
    print(
        f"\npostgres stopped for {down_until - down_from:.1f} s under load: "
        f"{len(answers)} requests, {len(unavailable)} answered 503 (worst wait "
        f"{worst_503 * 1000:.0f} ms, {slow_503} over 100 ms), 0 other 5xx; ready again "
        f"{recovered - down_until:.1f} s after the restart; seats_used {used} = held {held}"
    )
