"""A real streaming replica (pg_basebackup -R) behind DATABASE_REPLICA_URL.

The app runs under gunicorn against a PostgreSQL cluster of the test's own and a replica of
it. With the replica's replay paused, a write on the primary is invisible there, which shows
where each read went: vendor API reads and the portal's chart data come from the replica,
the client API's status and the reads of whoever just wrote come from the primary, writes
land on the primary, and once replay resumes the replica catches up.

The rest of the suite runs without DATABASE_REPLICA_URL: with it set, pytest-django refuses
queries to the `replica` alias in tests that do not list it in their databases.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Answer, Client, Gunicorn, PostgresCluster, PostgresReplica, manage

pytestmark = [pytest.mark.postgres]

STICKY_SECONDS = 2

SEED = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from licensing import services
from licensing.models import Membership
from portal.models import User
manager = User.objects.create_user("am@vendor.test", "pw-unused-here", is_staff=True)
customer = services.customer_create(name="Acme Corp", account_manager=manager)
product = services.product_create(name="Design Studio")
entitlement = services.entitlement_create(
    customer=customer, product=product, seats=100, hard_limit=120
)
admin = User.objects.create_user("admin@acme.test", "pw-unused-here")
Membership.objects.create(user=admin, customer=customer, role=Membership.Role.ADMIN)
session = SessionStore()
session[SESSION_KEY] = str(admin.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = admin.get_session_auth_hash()
session.create()
_, writer = services.api_token_create(user=manager, name="writer")
_, reader = services.api_token_create(user=manager, name="reader")
print(json.dumps({
    "entitlement": str(entitlement.pk), "slug": customer.slug,
    "license_key": entitlement.license_key, "session": session.session_key,
    "writer": writer, "reader": reader,
}))
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A primary with the portal migrated and seeded, a streaming replica of it, and gunicorn
    reading from both."""
    primary = PostgresCluster("replica-primary")
    replica = PostgresReplica(primary)
    server: Gunicorn | None = None
    try:
        primary.create()
        env = {
            **os.environ,
            "DATABASE_URL": primary.url,
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "1",  # the locmem cache (API pins) is per process
            "GUNICORN_THREADS": "4",
            "DATABASE_REPLICA_STICKY_SECONDS": str(STICKY_SECONDS),
        }
        for name in ("CELERY_BROKER_URL", "REDIS_URL", "DATABASE_REPLICA_URL"):
            env.pop(name, None)
        manage(env, "migrate", "--no-input")
        seeded = json.loads(manage(env, "shell", "-c", SEED).strip().splitlines()[-1])
        replica.create()
        server = Gunicorn({**env, "DATABASE_REPLICA_URL": replica.url}, tmp_path / "web.log")
        server.start()
        yield {"server": server, "replica": replica, **seeded}
    finally:
        if server is not None:
            server.stop()
        replica.stop()
        primary.destroy()


def _until(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def test_reads_go_to_the_replica_and_writers_read_their_own_writes(stack: dict[str, Any]):
    web = Client(stack["server"].port)
    replica: PostgresReplica = stack["replica"]
    entitlement = f"/api/v1/entitlements/{stack['entitlement']}"
    chart_csv = f"/c/{stack['slug']}/entitlements/{stack['entitlement']}/usage.csv"

    def vendor(token: str, method: str = "GET", body: Any = None) -> Answer:
        answer = web.call(method, entitlement, body, {"Authorization": f"Bearer {token}"})
        assert answer.status == 200, answer.body
        return answer

    def seats_used(token: str) -> int:
        return int(vendor(token).json()["seats_used"])

    def portal(path: str, cookies: str = "") -> Answer:
        cookie = f"sessionid={stack['session']}" + (f"; {cookies}" if cookies else "")
        answer = web.call("GET", path, headers={"Cookie": cookie})
        assert answer.status == 200, (answer.status, answer.body[:300])
        return answer

    license = {"Authorization": f"License {stack['license_key']}"}

    def client_status() -> dict[str, Any]:
        answer = web.call("GET", "/api/v1/entitlement", headers=license)
        assert answer.status == 200, answer.body
        return answer.json()

    ready = web.call("GET", "/readyz")
    assert (ready.status, ready.json()["checks"].get("replica")) == (200, "ok"), ready.body

    # Warm up: each token's first use records its last use (a write, so that request stays
    # on the primary); then both read the replica.
    assert seats_used(stack["writer"]) == seats_used(stack["reader"]) == 0
    chart_before = portal(chart_csv).body

    replica.query("SELECT pg_wal_replay_pause()")
    _until(lambda: replica.query("SELECT pg_get_wal_replay_pause_state()") == "paused", "paused")

    # A write by a license client: one seat taken, on the primary.
    activated = web.call("POST", "/api/v1/activations", {"fingerprint": "host-1"}, license)
    assert activated.status == 201, activated.body

    # The client API always reads the primary: the seat is there.
    assert client_status()["seats"]["used"] == 1
    # The vendor API and the portal's chart data read the paused replica: not yet.
    assert seats_used(stack["reader"]) == 0
    assert seats_used(stack["writer"]) == 0
    assert portal(chart_csv).body == chart_before

    # The writer changes the entitlement (a write: the primary) and reads its own write at
    # once, seat included; the other token still reads the replica.
    changed = vendor(stack["writer"], "PATCH", {"seats": 101}).json()
    assert changed["seats"] == 101
    fresh = vendor(stack["writer"]).json()
    assert (fresh["seats"], fresh["seats_used"]) == (101, 1)
    stale = vendor(stack["reader"]).json()
    assert (stale["seats"], stale["seats_used"]) == (100, 0)

    # A browser that wrote carries the pin cookie the POST answered with: its chart data come
    # from the primary (the new seat's activation is in this hour's bucket).
    posted = web.call("POST", chart_csv, headers={"Cookie": f"sessionid={stack['session']}"})
    pin = posted.headers.get("Set-Cookie", "")
    assert "primary_reads=1" in pin, posted.headers
    pinned_chart = portal(chart_csv, "primary_reads=1").body
    assert pinned_chart != chart_before

    # The pin lasts DATABASE_REPLICA_STICKY_SECONDS: then the writer reads the replica again.
    time.sleep(STICKY_SECONDS + 0.5)
    assert vendor(stack["writer"]).json()["seats"] == 100

    # Replay resumes: the replica catches up with both writes.
    replica.query("SELECT pg_wal_replay_resume()")
    _until(lambda: vendor(stack["reader"]).json()["seats"] == 101, "the replica caught up")
    assert seats_used(stack["reader"]) == 1
    assert portal(chart_csv).body == pinned_chart

    print(
        "\nread replica (pg_basebackup -R, replay paused while writing):"
        "\n  vendor API GET and portal chart CSV: served by the replica (stale while paused)"
        "\n  client API status: primary (saw the new seat at once)"
        "\n  PATCH by a token: written on the primary; that token's next GET saw it (and the"
        " seat),\n    another token's GET did not; after"
        f" {STICKY_SECONDS} s the writer read the replica again"
        "\n  browser POST: answered with the primary_reads pin cookie; with it the chart came"
        " from the primary"
        "\n  replay resumed: the replica caught up (seats 101, 1 in use, same chart)"
    )
