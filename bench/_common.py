"""What the benchmarks share: their own PostgreSQL, Django set up against it, the web server.

Everything lives under var/bench/ (data folder, logs, pid files), on its own port, so a
benchmark never touches the test server or a developer's database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PGDATA = VAR / "pgdata"
PGLOG = VAR / "postgres.log"
# Below the ephemeral range (32768+), so an outgoing connection never takes one first.
PGPORT = int(os.environ.get("BENCH_PGPORT", "25500"))
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "25580"))
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "25579"))
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
VENV_BIN = ROOT / ".venv" / "bin"
SECRET_KEY = "bench-secret-key-not-for-production-use-0123456789abcdef"
# The client API load of bench/activations (and bench/calls' ceiling): percentages of
# activations, heartbeats and releases.
MIX = (70, 20, 10)

# Tuned for a 2-core, 24 GB machine. fsync stays on (a real deployment keeps it); commits do
# not wait for the WAL flush (synchronous_commit=off): a crash may lose the last ~0.6 s of
# activations, never corrupt them. The pgbench floor runs with the same settings.
PG_CONF = f"""
listen_addresses = '127.0.0.1'
unix_socket_directories = '{VAR}'
max_connections = 400
shared_buffers = 512MB
effective_cache_size = 4GB
work_mem = 16MB
maintenance_work_mem = 256MB
synchronous_commit = off
wal_buffers = 16MB
max_wal_size = 4GB
checkpoint_timeout = 15min
log_min_messages = warning
"""


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _pg_bin() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise SystemExit("PostgreSQL server binaries (initdb) not found; install postgresql")


PG_BIN = _pg_bin()


def _as_pg(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def use_own_cluster(name: str, port: int) -> None:
    """Run this benchmark's PostgreSQL apart from the others' (var/bench/<name>-pgdata, its log
    beside it, on `port`): call before `pg_start`. For a benchmark whose data is too big to
    share a cluster with, or that must not be stopped by another benchmark's `pg_stop`."""
    global PGDATA, PGLOG, PGPORT
    PGDATA, PGLOG, PGPORT = VAR / f"{name}-pgdata", VAR / f"{name}-postgres.log", port


def pg_start() -> None:
    """Start the benchmark cluster (created on first use); idempotent."""
    VAR.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        if subprocess.run(["id", "postgres"], capture_output=True, check=False).returncode:
            subprocess.run(
                ["useradd", "--system", "--home-dir", str(VAR), "--shell", "/bin/bash", "postgres"],
                check=True,
            )
        # every parent folder must be traversable by the postgres user
        path = VAR
        while path != path.parent:
            with contextlib.suppress(OSError):
                path.chmod(path.stat().st_mode | 0o001)
            path = path.parent
        shutil.chown(VAR, "postgres")
    if not (PGDATA / "PG_VERSION").exists():
        log(f"bench: initdb {PGDATA}")
        _as_pg(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(PGDATA),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            capture_output=True,
        )
        with open(PGDATA / "postgresql.conf", "a") as conf:
            conf.write(PG_CONF)
    status = subprocess.run(
        (["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else [])
        + [str(PG_BIN / "pg_ctl"), "-D", str(PGDATA), "status"],
        capture_output=True,
        check=False,
    )
    if status.returncode != 0:
        log(f"bench: starting PostgreSQL on port {PGPORT}")
        _as_pg(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(PGDATA),
                "-l",
                str(PGLOG),
                "-o",
                f"-p {PGPORT}",
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
        )


def pg_stop() -> None:
    if (PGDATA / "PG_VERSION").exists():
        subprocess.run(
            (["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else [])
            + [str(PG_BIN / "pg_ctl"), "-D", str(PGDATA), "-m", "fast", "stop"],
            capture_output=True,
            check=False,
        )


def redis_start() -> None:
    """A throwaway Redis as the Celery broker and cache, as production has."""
    ping = ["redis-cli", "-p", str(REDIS_PORT), "ping"]
    if subprocess.run(ping, capture_output=True, check=False).returncode == 0:
        return
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server not found: apt-get install redis-server")
    VAR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(VAR),
            "--logfile",
            str(VAR / "redis.log"),
            "--pidfile",
            str(VAR / "redis.pid"),
        ],
        check=True,
    )
    for _ in range(50):
        if subprocess.run(ping, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def redis_stop() -> None:
    subprocess.run(
        ["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"], capture_output=True, check=False
    )


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(PGPORT),
            "-U",
            "postgres",
            "-X",
            "-qtA",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
            db,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def database_exists(name: str) -> bool:
    return psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


def fresh_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')


def database_url(name: str) -> str:
    return f"postgres://postgres@127.0.0.1:{PGPORT}/{name}"


def django_env(db: str, **extra: str) -> dict[str, str]:
    """The environment of a production deployment pointed at the benchmark database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG"}
    }
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SITE_URL=f"http://127.0.0.1:{WEB_PORT}",
        DATABASE_URL=database_url(db),
        # A broker, as in production: the fan-out task is queued, not run inside the request.
        # No Celery worker runs during the benchmark, so the web tier has both cores.
        CELERY_BROKER_URL=REDIS_URL,
        REDIS_URL=REDIS_URL.replace("/0", "/1"),
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="portal.settings",
        # Plain HTTP on loopback: in production a TLS-terminating proxy sits in front, so the
        # HTTPS redirect would only send the load generator to a port that speaks no TLS.
        SECURE_SSL_REDIRECT="0",
    )
    env.update(extra)
    return env


def setup_django(db: str, **extra: str) -> None:
    """django.setup() in this process against the benchmark database."""
    os.environ.update(django_env(db, **extra))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _migrations_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha1()
    for path in sorted(root.glob("*/migrations/*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


TEMPLATE_DB = "bench_template"


def fresh_migrated_database(name: str) -> None:
    """Create `name` from a migrated template, migrating the template only when needed."""
    digest = _migrations_digest()
    have = psql(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
        f" WHERE datname = '{TEMPLATE_DB}'"
    )
    if have != digest:
        log("bench: migrating the template database")
        fresh_database(TEMPLATE_DB)
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "migrate", "-v", "0"],
            cwd=ROOT,
            env=django_env(TEMPLATE_DB, CELERY_BROKER_URL="", REDIS_URL=""),
            check=True,
        )
        psql(f"COMMENT ON DATABASE {TEMPLATE_DB} IS '{digest}'")
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')


# --- the web server -----------------------------------------------------------------------


class WebServer:
    """gunicorn with portal/gunicorn.conf.py, as production runs it; or the command in
    BENCH_WEB_CMD (`{port}` and `{bin}`, the virtualenv's bin folder, filled in), whose worker
    processes must be children of the process it starts."""

    def __init__(self, db: str, *, root: Path = ROOT, **env: str) -> None:
        self.db = db
        self.root = root  # another checkout (a git worktree) serves another revision's code
        # PYTHONPATH first: the virtualenv's editable install puts this checkout on sys.path.
        self.env = django_env(
            db, GUNICORN_BIND=f"127.0.0.1:{WEB_PORT}", PYTHONPATH=str(root), **env
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{WEB_PORT}"

    def start(self) -> None:
        VAR.mkdir(parents=True, exist_ok=True)
        self.log = open(VAR / "gunicorn.log", "ab")  # noqa: SIM115
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "-c",
            "portal/gunicorn.conf.py",
            "portal.wsgi:application",
        ]
        if os.environ.get("BENCH_WEB_CMD"):  # another server, to compare (docs/performance.md)
            cmd = os.environ["BENCH_WEB_CMD"].format(port=WEB_PORT, bin=VENV_BIN).split()
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {VAR / 'gunicorn.log'}")
            try:
                urllib.request.urlopen(self.url + "/api/v1/entitlement", timeout=2)
            except urllib.error.HTTPError:
                break  # 401: up and answering
            except OSError:
                time.sleep(0.2)
                continue
            break
        else:
            raise SystemExit("gunicorn did not come up within 60 s")
        # the workers load the app lazily on their first request: warm each one up
        time.sleep(0.5)

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the workers too
                self.proc.wait()
        self.proc = None


def cpu_times(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return times


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two samples by the processes alive at the second one."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def postgres_pids(kind: str = "all") -> list[int]:
    """The benchmark cluster's processes (not those of another cluster on the machine, such as
    the test suite's): "all", "client" (backends serving a connection) or "background"
    (autovacuum, checkpointer, WAL writer, ...)."""
    pids = bench_postgres_pids()
    if kind == "all":
        return pids
    chosen = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                title = handle.read().decode(errors="replace")
        except OSError:
            continue
        # a backend's title: "postgres: <user> <database> <host>(<port>) <state>"
        if ("(" in title and ")" in title) == (kind == "client"):
            chosen.append(pid)
    return chosen


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """Samples the web workers' resident memory every half second; keeps the maximum."""

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.max_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.server.worker_pids():
                self.max_mb = max(self.max_mb, rss_mb(pid))
            self._stop.wait(0.5)

    @contextlib.contextmanager
    def running(self) -> Iterator[RssSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def emit(figures: dict[str, object]) -> None:
    """The benchmark's result: JSON on the last line of standard output."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=False), flush=True)


# --- another checkout's database and processes ----------------------------------------------


def fresh_migrated_database_at(name: str, root: Path) -> None:
    """`fresh_migrated_database` for the code of another checkout (a git worktree of another
    revision): a template per set of migrations, migrated by that checkout's manage.py, so
    revisions with different migrations can be measured in one run."""
    digest = _migrations_digest(root)
    template = f"{TEMPLATE_DB}_{digest}"
    have = psql(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
        f" WHERE datname = '{template}'"
    )
    if have != "migrated":  # absent, or a migration that failed half-way
        log(f"bench: migrating a template database for {root.name}")
        fresh_database(template)
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "migrate", "-v", "0"],
            cwd=root,
            env=django_env(template, CELERY_BROKER_URL="", REDIS_URL="", PYTHONPATH=str(root)),
            check=True,
        )
        psql(f"COMMENT ON DATABASE {template} IS 'migrated'")
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def bench_postgres_pids() -> list[int]:
    """The benchmark cluster's processes only (the postmaster and its children), not those of
    other clusters running as the same user (the test suite's)."""
    try:
        postmaster = int((PGDATA / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    out = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    )
    return [postmaster, *(int(pid) for pid in out.stdout.split())]


def group_pids(pgid: int) -> list[int]:
    """Every process in process group `pgid` (a Procfile process and what it forked)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # state, ppid, pgrp
            pids.append(int(entry.name))
    return pids


def read_procfile(path: Path) -> dict[str, str]:
    """A Procfile's `name: command` lines, by the rule scripts/supervise.py reads them."""
    commands: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.strip().partition(":")
        if not sep or not name.replace("-", "").replace("_", "").isalnum() or name in commands:
            raise SystemExit(f"{path}: cannot read the line {line!r}")
        commands[name] = command.strip()
    return commands


class Procfile:
    """The processes of a checkout's Procfile, each line started as scripts/supervise.py starts
    it (`bash -c` in a process group of its own, in the checkout's folder), a few or all at a
    time. Unlike the supervisor, nothing is restarted: a benchmark reports a process that died.
    Output goes to var/bench/procfile/<checkout folder>/<name>.log, emptied first."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.commands = read_procfile(root / "Procfile")
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = VAR / "procfile" / root.name
        shutil.rmtree(self.logs, ignore_errors=True)

    def start(self, names: list[str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in names:
            with open(self.logs / f"{name}.log", "ab") as out:
                out.write(f"--- {time.strftime('%F %T')} {self.root.name}: {name}\n".encode())
                out.flush()
                self.running[name] = subprocess.Popen(
                    ["bash", "-c", self.commands[name]],
                    cwd=self.root,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            log(f"bench: started {name} (pid {self.running[name].pid})")

    def exited(self) -> dict[str, int]:
        """The processes that have exited since they were started, with their exit codes."""
        return {
            name: code for name, popen in self.running.items() if (code := popen.poll()) is not None
        }

    def pids(self, name: str) -> list[int]:
        popen = self.running.get(name)
        return group_pids(popen.pid) if popen is not None else []

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM to every process group (a warm shutdown: running work finishes), SIGKILL to
        what is left after `grace` seconds, and to whatever a process left in its group."""
        for popen in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, popen in self.running.items():
            try:
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"bench: {name} did not stop within {grace:g} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
        self.running.clear()
