"""Django's PostgreSQL backend, with a cheaper check of pooled connections (DATABASE_POOL).

Django's pool (CONN_HEALTH_CHECKS on) has psycopg_pool check every connection it lends with a
round trip to the server: on the client API that was a tenth of a millisecond of web CPU and a
database wake-up per call (docs/performance.md). A connection the server closed while it sat in
the pool (a restart, an idle timeout, `pg_terminate_backend`) has a readable socket: the
server's goodbye or the end of the stream is waiting. So this backend looks first, without
waiting, and makes the round trip only when there is something to read; a connection that
fails is dropped from the pool and the next one is tried. Without a pool it is Django's backend
unchanged (settings.py keeps CONN_HEALTH_CHECKS for persistent connections).
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq
from psycopg_pool import ConnectionPool


def check_idle_connection(conn: psycopg.Connection[Any]) -> None:
    """Raise if `conn`, just taken from the pool, cannot be used."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    idle = conn.info.transaction_status == pq.TransactionStatus.IDLE
    if not idle or select.select([conn.fileno()], [], [], 0)[0]:
        ConnectionPool.check_connection(conn)  # a goodbye, the end, or a notice: find out


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
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
