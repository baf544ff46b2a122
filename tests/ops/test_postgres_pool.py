"""The pooled PostgreSQL backend (portal.postgres): a connection the server closed while it sat
in the pool is replaced before a request gets it; a healthy one is lent without a round trip."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from portal.postgres.base import DatabaseWrapper, check_idle_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pooled() -> Iterator[DatabaseWrapper]:
    settings_dict: dict[str, Any] = {
        **connection.settings_dict,
        "ENGINE": "portal.postgres",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {**connection.settings_dict["OPTIONS"], "pool": {"min_size": 2, "max_size": 2}},
    }
    wrapper = DatabaseWrapper(settings_dict, alias="pool_test")
    yield wrapper
    wrapper.close()
    wrapper.close_pool()


def _backend_pid(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        assert cursor.fetchone()[0] is True


def test_connections_the_server_closed_in_the_pool_are_replaced(pooled):
    pooled.ensure_connection()  # opens the pool
    pooled.close()
    pool = pooled.pool
    lent = [pool.getconn(), pool.getconn()]  # the pool's two connections
    dead = [conn.info.backend_pid for conn in lent]
    for conn in lent:
        pool.putconn(conn)
    for pid in dead:
        _terminate(pid)

    pid = _backend_pid(pooled)  # "terminating connection ..." without the check

    assert pid not in dead


def test_a_healthy_idle_connection_is_lent_without_a_round_trip(pooled, monkeypatch):
    _backend_pid(pooled)
    pooled.close()

    def no_round_trip(conn: psycopg.Connection) -> None:
        raise AssertionError("the pool checked with a round trip")

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(no_round_trip))
    assert _backend_pid(pooled) > 0


def test_a_connection_the_server_closed_gets_the_full_check_and_fails_it(pooled, monkeypatch):
    pooled.ensure_connection()  # opens the pool
    pooled.close()
    conn = pooled.pool.getconn()  # straight from the pool, which checks nothing itself
    pid = conn.info.backend_pid
    checked: list[int] = []
    full_check = ConnectionPool.check_connection

    def counting(conn: psycopg.Connection) -> None:
        checked.append(pid)
        full_check(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counting))
    try:
        _terminate(pid)
        with pytest.raises(psycopg.OperationalError):
            check_idle_connection(conn)
    finally:
        pooled.pool.putconn(conn)
    assert checked == [pid]


def test_a_check_that_keeps_failing_gives_every_connection_back(pooled, monkeypatch):
    pooled.ensure_connection()  # opens the pool
    pooled.close()

    def always_fails(conn: psycopg.Connection) -> None:
        raise psycopg.OperationalError("the server is down")

    monkeypatch.setattr("portal.postgres.base.check_idle_connection", always_fails)
    with pytest.raises(Exception, match="the server is down"):
        pooled.ensure_connection()
    monkeypatch.undo()
    assert pooled.breaker.is_open  # the outage was simulated: close it for what follows
    pooled.breaker.succeeded()

    lent = [pooled.pool.getconn(timeout=5), pooled.pool.getconn(timeout=5)]  # both free again
    for conn in lent:
        pooled.pool.putconn(conn)
