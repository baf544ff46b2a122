"""Django's PostgreSQL backend with a circuit breaker and, with a pool (DATABASE_POOL), a
cheaper check of pooled connections.

The breaker (portal.breaker): a connection that cannot be made (refused, timed out after
DATABASE_CONNECT_TIMEOUT, no pooled connection within DATABASE_POOL_TIMEOUT) opens it, and for
DATABASE_RETRY_SECONDS the requests of this process fail at once instead of each waiting as
long; then one request tries again. Those failures are OperationalErrors, which
portal.unavailable answers with a 503 and Retry-After.

The check: Django's pool (CONN_HEALTH_CHECKS on) has psycopg_pool check every connection it
lends with a round trip to the server: on the client API that was a tenth of a millisecond of
web CPU and a database wake-up per call (docs/performance.md). A connection the server closed
while it sat in the pool (a restart, an idle timeout, `pg_terminate_backend`) has a readable
socket: the server's goodbye or the end of the stream is waiting. So this backend looks first,
without waiting, and makes the round trip only when there is something to read; a connection
that fails is dropped from the pool and the next one is tried. Without a pool, settings.py keeps
Django's CONN_HEALTH_CHECKS for persistent connections.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import pq
from psycopg_pool import ConnectionPool

from portal.breaker import CircuitBreaker

_breakers: dict[str, CircuitBreaker] = {}  # one per database server and process


def check_idle_connection(conn: psycopg.Connection[Any]) -> None:
    """Raise if `conn`, just taken from the pool, cannot be used."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    idle = conn.info.transaction_status == pq.TransactionStatus.IDLE
    if not idle or select.select([conn.fileno()], [], [], 0)[0]:
        ConnectionPool.check_connection(conn)  # a goodbye, the end, or a notice: find out


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def breaker(self) -> CircuitBreaker:
        server = "{HOST}:{PORT}/{NAME}".format(**self.settings_dict)
        breaker = _breakers.get(server)
        if breaker is None:
            breaker = _breakers.setdefault(
                server,
                CircuitBreaker(f"database {server}", retry_seconds=settings.DATABASE_RETRY_SECONDS),
            )
        return breaker

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker = self.breaker
        if not breaker.allow():
            raise psycopg.OperationalError(
                f"the database was unavailable moments ago; trying again within "
                f"{breaker.retry_seconds} s"
            )
        with breaker.attempt(psycopg.OperationalError):  # PoolTimeout is one
            return self._checked_connection(conn_params)

    def _checked_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return connection
        retries = pool.max_size  # each pooled connection may have died with the server
        while True:
            try:
                check_idle_connection(connection)
                return connection
            except psycopg.Error:
                connection.close()
                pool.putconn(connection)  # a closed connection is discarded and replaced
                if not retries:
                    raise  # a new connection failed too: the server is down
                retries -= 1
            connection = super().get_new_connection(conn_params)
