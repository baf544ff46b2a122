"""A real portal for the client library: gunicorn with the production config (tests/servers.py)
on the test suite's PostgreSQL database, which the tests fill through the domain's services
and commit (`transaction=True`). Each test has its own gunicorn, so a process's caches (the
signing key, an entitlement's terms) never outlive the database rows they came from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from overdraft_client import Backoff, Client

from tests.servers import ROOT, Gunicorn, suite_database_url

# The SDK imports from its own folder in the subprocesses too, whether or not it is installed.
SDK = ROOT / "sdk" / "python"
APP = Path(__file__).with_name("licensed_app.py")
# Fast retries for tests: the library's defaults wait up to 30 s.
QUICK = Backoff(attempts=3, base=0.05, cap=0.5)


class Portal:
    """The running portal, and the clients a test made (closed, without releasing, at the
    end: the database is emptied after the test anyway)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("DATABASE", "REDIS", "CELERY"))  # no broker: tasks run
            },  # in-process after commit
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_ENV": "development",
            "DEBUG": "0",
            "DATABASE_URL": suite_database_url(),
            "API_THROTTLE_LICENSE": "1000000/min",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
            "LOG_LEVEL": "WARNING",
        }
        self.web = Gunicorn(env, workdir / "gunicorn.log")
        self.clients: list[Client] = []
        self.processes: list[subprocess.Popen[str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}"

    def client(self, key: str, fingerprint: str, **options: Any) -> Client:
        options.setdefault("cache_dir", self.workdir / "cache")
        options.setdefault("backoff", QUICK)
        options.setdefault("timeout", 5.0)
        client = Client(self.url, key, fingerprint=fingerprint, **options)
        self.clients.append(client)
        return client

    def app(self, key: str, fingerprint: str, mode: str) -> subprocess.Popen[str]:
        """tests/sdk/licensed_app.py, a program using the library, in a process of its own."""
        process = subprocess.Popen(
            [sys.executable, str(APP), self.url, key, fingerprint, mode],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(SDK)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        for client in self.clients:
            client.close(release=False)
        self.web.stop()


@pytest.fixture
def portal(transactional_db: None, tmp_path: Path) -> Iterator[Portal]:
    portal = Portal(tmp_path)
    try:
        portal.web.start()
        yield portal
    finally:
        portal.close()


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """When (time.time()) `condition` first held, polling every `step` s; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")
