"""Real servers of the tests' own, on free ports: Redis, a PostgreSQL cluster, gunicorn.

Each belongs to the test that started it, so stopping, pausing or killing it never touches the
suite's shared PostgreSQL and Redis (scripts/services.sh).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
WSGI_APPLICATION = "portal.wsgi:application"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on port {port}")


class RedisServer:
    """Our own redis-server: stop and start it again on the same port, or pause it (SIGSTOP:
    connections are accepted by the kernel and never answered, as with a hung server)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, "redis-server")

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on TERM
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def pg_bin() -> Path | None:
    """PostgreSQL's server binaries (scripts/services.sh exports TEST_PGBIN)."""
    if os.environ.get("TEST_PGBIN"):
        return Path(os.environ["TEST_PGBIN"])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster with one database, `portal`. As root the cluster runs as
    the `postgres` user (initdb refuses root), so it lives under the project's var/ folder, whose
    parents scripts/services.sh made traversable."""

    def __init__(self, name: str) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL server binaries (initdb) not found")
        self.bin = binaries
        self.port = free_port()
        self.home = ROOT / "var" / "test-clusters" / f"{name}-{os.getpid()}-{self.port}"
        self.data = self.home / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/portal"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        self.home.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "portal")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} -c fsync=off"
        log = str(self.home / "postgres.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-o", options, "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def suite_database_url() -> str:
    """A DATABASE_URL naming the database this test runs on (pytest-django's test database),
    for servers that share it with the test: what the test commits, they see."""
    from django.db import connection

    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class PostgresReplica:
    """A streaming replica of `primary` (pg_basebackup -R) in a folder of the primary's, on a
    free port of its own."""

    def __init__(self, primary: PostgresCluster) -> None:
        self.primary = primary
        self.port = free_port()
        self.home = primary.home
        self.data = primary.home / "replica"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/portal"

    def create(self) -> None:
        primary = ("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres")
        self.primary._run(
            "pg_basebackup", *primary, "-D", str(self.data), "-R", "-X", "stream", "-c", "fast"
        )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} -c fsync=off"
        log = str(self.home / "replica.log")
        self.primary._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-o", options, "start"
        )
        deadline = time.monotonic() + 30
        while self.query("SELECT status FROM pg_stat_wal_receiver") != "streaming":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica is not streaming:\n{Path(log).read_text()}")
            time.sleep(0.1)

    def query(self, sql: str) -> str:
        """One value, as text (psql), from the replica's `portal` database."""
        command = [str(self.primary.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port)]
        done = subprocess.run(
            [*command, "-U", "postgres", "-qtAc", sql, "portal"],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return done.stdout.strip()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.primary._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def manage(env: dict[str, str], *args: str) -> str:
    """`manage.py ARGS` in a process of its own with `env`; returns what it printed."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def stop_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in its own process group (SIGTERM, then SIGKILL after 30 s)."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


class Gunicorn:
    """The production web server (portal/gunicorn.conf.py) on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.conf.py", WSGI_APPLICATION],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if Client(self.port).call("GET", "/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, seconds: float) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client:
    """A keep-alive HTTP/1.1 client to one local server, as a license client would hold."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        sent = {**({} if body is None else {"Content-Type": "application/json"}), **(headers or {})}
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, self.timeout)
            started = time.perf_counter()
            try:
                self._conn.request(method, path, data, sent)
                response = self._conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - started
            return Answer(response.status, dict(response.getheaders()), raw, seconds)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class OidcProvider:
    """The tests' OpenID Connect provider (tests/oidc_provider: django-oauth-toolkit, its own
    SQLite database and RS256 key in `workdir`) served by gunicorn on a free port. Its issuer
    is `<url>/o`; `setup` registers client applications and users."""

    SETTINGS = "tests.oidc_provider.settings"

    def __init__(self, workdir: Path) -> None:
        import secrets

        self.port = free_port()
        self.workdir = workdir
        self.token = secrets.token_urlsafe(16)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "oidc-provider.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def _env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "DJANGO"))}
        return {
            **keep,
            "DJANGO_SETTINGS_MODULE": self.SETTINGS,
            "OIDC_PROVIDER_URL": self.url,
            "OIDC_PROVIDER_DB": str(self.workdir / "oidc-provider.sqlite3"),
            "OIDC_PROVIDER_SETUP_TOKEN": self.token,
        }

    def start(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--run-syncdb", "--verbosity", "0"],
            cwd=ROOT, env=self._env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"the OIDC provider's migrate failed:\n{done.stderr[-3000:]}")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "tests.oidc_provider.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "8",
                "--access-logfile", "-",
            ],
            cwd=ROOT, env=self._env(), stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                answer = Client(self.port).call("GET", "/o/.well-known/openid-configuration")
                if answer.status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the OIDC provider did not start:\n{self.log.read_text()[-3000:]}")

    def setup(
        self,
        *,
        applications: Sequence[dict[str, Any]] = (),
        users: Sequence[dict[str, Any]] = (),
    ) -> None:
        answer = Client(self.port).call(
            "POST",
            "/setup/",
            {"applications": list(applications), "users": list(users)},
            {"Authorization": f"Bearer {self.token}"},
        )
        if answer.status != 200:
            raise RuntimeError(f"the OIDC provider's setup failed: {answer.status} {answer.body!r}")

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None
