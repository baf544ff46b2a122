"""Concurrent seat changes on PostgreSQL, with real threads and one connection each.

Run with `-s` to see the figures.
"""

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Entitlement, Event, Seat, UsageBucket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T = Event.Type


def run_together(jobs: list[list[Callable[[], Any]]]) -> list[Any]:
    """Run each list of jobs in its own thread, all released at once by a barrier.

    Returns every job's result (or the exception it raised), in no particular order.
    """
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = []
    lock = threading.Lock()

    def work(mine: list[Callable[[], Any]]) -> None:
        try:
            connection.ensure_connection()  # connect before the start line, not after it
            barrier.wait(timeout=30)
            done = []
            for job in mine:
                try:
                    done.append(job())
                except Exception as exc:  # reported by the test's assertions
                    done.append(exc)
            with lock:
                results.extend(done)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(mine,)) for mine in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return results


def deal(items: list[Any], hands: int) -> list[list[Any]]:
    return [items[i::hands] for i in range(hands)]


def in_use(entitlement: Entitlement) -> int:
    return Seat.objects.filter(entitlement=entitlement, released_at__isnull=True).count()


def event_count(entitlement: Entitlement, event_type: str) -> int:
    return Event.objects.filter(entitlement=entitlement, type=event_type).count()


def latest_bucket(entitlement: Entitlement) -> UsageBucket:
    return UsageBucket.objects.filter(entitlement=entitlement).latest("hour")


def assert_full_at_hard_limit(entitlement: Entitlement, statuses: Counter[str]) -> None:
    entitlement.refresh_from_db()
    assert statuses["ok"] == 100
    assert statuses["overdraft"] == 20
    assert entitlement.seats_used == 120 == in_use(entitlement)
    assert Seat.objects.filter(entitlement=entitlement, overdraft=True).count() == 20
    assert event_count(entitlement, T.SEAT_ACTIVATED) == 120
    assert event_count(entitlement, T.SEAT_DENIED) == statuses["denied"]
    denials = Event.objects.filter(entitlement=entitlement, type=T.SEAT_DENIED)
    assert not denials.exclude(data__seats__used=120).exists()  # denied only when truly full
    assert event_count(entitlement, T.OVERDRAFT_STARTED) == 1
    assert event_count(entitlement, T.HARD_LIMIT_REACHED) == 1
    assert event_count(entitlement, T.OVERDRAFT_ENDED) == 0
    buckets = UsageBucket.objects.filter(entitlement=entitlement)
    assert sum(b.activations for b in buckets) == 120
    assert sum(b.overdraft_activations for b in buckets) == 20
    assert sum(b.denials for b in buckets) == statuses["denied"]
    assert max(b.peak_used for b in buckets) == 120
    assert latest_bucket(entitlement).closing_used == 120


def test_concurrent_activations_grant_exactly_up_to_the_hard_limit(entitlement):
    workers, attempts = 40, 240

    def activate(fingerprint: str) -> Callable[[], str]:
        return lambda: (
            services.seat_activate(entitlement=entitlement, fingerprint=fingerprint).status
        )

    jobs = [activate(f"race-{n}") for n in range(attempts)]
    results = run_together(deal(jobs, workers))

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    statuses = Counter(results)
    print(f"\nservice race: {attempts} activations from {workers} threads: {dict(statuses)}")
    assert statuses["denied"] == attempts - 120
    assert_full_at_hard_limit(entitlement, statuses)


def test_concurrent_activations_over_http_grant_exactly_up_to_the_hard_limit(entitlement, caplog):
    caplog.set_level(logging.ERROR, logger="django.request")  # no line per 409 under -s
    workers, attempts = 32, 200

    def activate(client: APIClient, fingerprint: str) -> Callable[[], tuple[int, str]]:
        def call() -> tuple[int, str]:
            response = client.post(
                "/api/v1/activations", {"fingerprint": fingerprint}, format="json"
            )
            return response.status_code, response.json()["status"]

        return call

    hands = deal([f"http-race-{n}" for n in range(attempts)], workers)
    jobs = []
    for fingerprints in hands:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
        jobs.append([activate(client, fingerprint) for fingerprint in fingerprints])
    results = run_together(jobs)

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    codes = Counter(code for code, _ in results)
    statuses = Counter(status for _, status in results)
    print(f"\nHTTP race: {attempts} activations from {workers} threads: {dict(statuses)}")
    assert codes == {201: 120, 409: attempts - 120}
    assert_full_at_hard_limit(entitlement, statuses)


def test_concurrent_activations_over_http_stop_at_the_customers_cap(entitlement, caplog):
    """100 seats, hard limit 120, capped by the customer at 110: 300 activations at once give
    exactly 110 seats, and every denial names the customer's cap, none the hard limit."""
    caplog.set_level(logging.ERROR, logger="django.request")
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)
    workers, attempts = 30, 300

    def activate(client: APIClient, fingerprint: str) -> Callable[[], tuple[int, str]]:
        def call() -> tuple[int, str]:
            response = client.post(
                "/api/v1/activations", {"fingerprint": fingerprint}, format="json"
            )
            body = response.json()
            return response.status_code, body.get("code", body["status"])

        return call

    jobs = []
    for fingerprints in deal([f"cap-race-{n}" for n in range(attempts)], workers):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
        jobs.append([activate(client, fingerprint) for fingerprint in fingerprints])
    results = run_together(jobs)

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    outcomes = Counter(results)
    print(f"\ncap race: {attempts} activations from {workers} threads: {dict(outcomes)}")
    assert outcomes == {
        (201, "ok"): 100,
        (201, "overdraft"): 10,
        (409, "customer_cap_reached"): 190,
    }
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 110 == in_use(entitlement)
    assert event_count(entitlement, T.CUSTOMER_CAP_REACHED) == 1
    assert event_count(entitlement, T.HARD_LIMIT_REACHED) == 0
    denials = Event.objects.filter(entitlement=entitlement, type=T.SEAT_DENIED)
    assert denials.count() == 190
    assert not denials.exclude(data__code="customer_cap_reached").exists()
    assert not denials.exclude(data__seats__used=110).exists()


def test_concurrent_releases_and_activations_keep_the_counter_exact(entitlement):
    rng = random.Random(2024)
    held: list[Seat] = []
    for n in range(110):
        seat = services.seat_activate(entitlement=entitlement, fingerprint=f"held-{n}").seat
        assert seat is not None
        held.append(seat)
    to_release = rng.sample(held, 45)
    twice = to_release[:5]  # released by two threads at once
    duplicates = [f"dup-{n}" for n in range(10)]  # activated by two threads at once

    def release(seat: Seat) -> Callable[[], tuple[str, Any]]:
        return lambda: (
            "release",
            services.seat_release(entitlement=seat.entitlement, seat_id=seat.pk),
        )

    def activate(fingerprint: str) -> Callable[[], tuple[str, Any]]:
        def call() -> tuple[str, Any]:
            result = services.seat_activate(entitlement=entitlement, fingerprint=fingerprint)
            return fingerprint, (result.status, result.seat.pk if result.seat else None)

        return call

    workers = 34
    jobs: list[list[Callable[[], Any]]] = [[] for _ in range(workers)]
    # The racing pairs go first, on neighbouring threads, so they really overlap.
    for n, fingerprint in enumerate(duplicates):
        jobs[2 * n].append(activate(fingerprint))
        jobs[2 * n + 1].append(activate(fingerprint))
    for n, seat in enumerate(twice):
        jobs[20 + 2 * n].append(release(seat))
        jobs[21 + 2 * n].append(release(seat))
    rest = [release(seat) for seat in to_release[5:]]
    rest += [activate(f"new-{n}") for n in range(100)]
    rng.shuffle(rest)
    for n, job in enumerate(rest):
        jobs[(n + 30) % workers].append(job)
    results = run_together(jobs)

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    entitlement.refresh_from_db()
    used = in_use(entitlement)
    releases = [done for kind, done in results if kind == "release"]
    activations = [outcome for kind, outcome in results if kind != "release"]
    statuses = Counter(status for status, _ in activations)
    print(
        f"\nmixed race: 110 held, {len(releases)} releases ({sum(releases)} took effect),"
        f" {len(activations)} activations {dict(statuses)}; {used} in use at the end"
    )

    assert entitlement.seats_used == used
    assert used <= entitlement.hard_limit
    assert latest_bucket(entitlement).closing_used == used
    assert sum(releases) == 45  # each seat released once, though five were asked twice
    assert event_count(entitlement, T.SEAT_RELEASED) == 45
    assert Seat.objects.filter(pk__in=[s.pk for s in to_release], released_at=None).count() == 0
    for fingerprint in duplicates:
        outcomes = [o for kind, o in results if kind == fingerprint]
        granted = {seat_id for status, seat_id in outcomes if status != "denied"}
        assert len(granted) <= 1, f"{fingerprint} got two seats"
        holding = Seat.objects.filter(
            entitlement=entitlement, fingerprint=fingerprint, released_at=None
        )
        assert set(holding.values_list("pk", flat=True)) == granted
    created = Seat.objects.filter(entitlement=entitlement).count() - 110
    assert used == 110 - 45 + created
    assert event_count(entitlement, T.SEAT_ACTIVATED) == 110 + created
    assert event_count(entitlement, T.SEAT_DENIED) == statuses["denied"]
    buckets = UsageBucket.objects.filter(entitlement=entitlement)
    assert sum(b.activations for b in buckets) == 110 + created
    assert sum(b.releases for b in buckets) == 45
    assert sum(b.denials for b in buckets) == statuses["denied"]
    assert max(b.peak_used for b in buckets) <= entitlement.hard_limit


def test_same_fingerprints_racing_to_reclaim_a_full_floating_pool_get_one_seat_each(
    make_entitlement,
):
    long_ago = timezone.now() - timedelta(minutes=10)
    pool = make_entitlement(seats=10, hard_limit=10, lease_seconds=60, starts_at=long_ago)
    for n in range(10):  # every seat held by a client that stopped heartbeating
        services.seat_activate(entitlement=pool, fingerprint=f"stale-{n}", now=long_ago)
    fingerprints = [f"fresh-{n}" for n in range(10)]

    def activate(fingerprint: str) -> Callable[[], tuple[str, str, Any]]:
        def call() -> tuple[str, str, Any]:
            result = services.seat_activate(entitlement=pool, fingerprint=fingerprint)
            return fingerprint, result.status, result.seat.pk if result.seat else None

        return call

    # Three threads per fingerprint, all at once: each finds the pool full and reclaims.
    results = run_together([[activate(fp)] for fp in fingerprints for _ in range(3)])

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    statuses = Counter(status for _, status, _ in results)
    print(f"\nreclaim race: 30 activations of 10 fingerprints, full 10-seat pool: {statuses}")
    assert statuses == {"ok": 30}
    for fingerprint in fingerprints:
        seat_ids = {seat_id for fp, _, seat_id in results if fp == fingerprint}
        assert len(seat_ids) == 1
        assert Seat.objects.get(fingerprint=fingerprint, released_at=None).pk in seat_ids
    pool.refresh_from_db()
    assert pool.seats_used == 10 == in_use(pool)
    assert event_count(pool, T.SEAT_EXPIRED) == 10
    assert event_count(pool, T.SEAT_ACTIVATED) == 20
    assert event_count(pool, T.SEAT_DENIED) == 0
    assert latest_bucket(pool).closing_used == 10
