"""Run the processes of a Procfile and keep them running, restarting whichever one dies, alone.

scripts/stack used honcho, which stops every process as soon as one exits: a crashed Celery
worker took the web server down with it, and nothing brought either back. Here a process that
exits is started again after a pause (1 s, doubling up to 30 s while it keeps failing, back to
1 s once it has stayed up for a minute) and the others carry on. SIGINT or SIGTERM stops them
all: SIGTERM to each, SIGKILL to whatever is left after the grace period.

Each command runs under `bash -c` in a process group of its own, so a signal reaches the whole
tree (gunicorn's workers, Celery's pool) and a Ctrl-C in the terminal reaches only the
supervisor, which then stops every process once, gracefully. Output is relayed line by line
behind the process's name, as honcho does: `web    | ...`.

    .venv/bin/python scripts/supervise.py -f Procfile [--grace 25]

On a real host systemd does this job (docs/operations.md). Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_AFTER = 60.0  # up this long, a process is well again: its next restart waits FIRST_DELAY
POLL_SECONDS = 0.2
SELF = "supervise"  # the name on the supervisor's own lines
_ENTRY = re.compile(r"([A-Za-z0-9_-]+):\s*(.+)")


@dataclass
class Process:
    name: str
    command: str
    popen: subprocess.Popen[bytes] | None = None
    relay: threading.Thread | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float = 0.0


def read_procfile(path: Path) -> list[Process]:
    processes: list[Process] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entry = _ENTRY.fullmatch(line.strip())
        if entry is None or entry[1] in {p.name for p in processes}:
            raise ValueError(f"{path}:{number}: expected `name: command` with a new name")
        processes.append(Process(name=entry[1], command=entry[2]))
    return processes


def describe(returncode: int) -> str:
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(pid, signum)


class Supervisor:
    def __init__(self, processes: list[Process], grace: float) -> None:
        self.processes = processes
        self.grace = grace
        self.width = max(len(name) for name in [SELF, *(p.name for p in processes)])
        self.stopping = False
        self.output = threading.Lock()

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.request_stop)
        for process in self.processes:
            self.start(process)
        while not self.stopping:
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            for process in self.processes:
                if process.popen is None:
                    if now >= process.restart_at:
                        self.start(process)
                elif (returncode := process.popen.poll()) is not None:
                    self.restart_later(process, returncode, now)
        self.stop()

    def request_stop(self, signum: int, frame: object) -> None:
        # Only a flag: the handler may interrupt the main thread while it holds a lock.
        self.stopping = True

    def start(self, process: Process) -> None:
        process.popen = popen = subprocess.Popen(
            ["bash", "-c", process.command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        process.started = time.monotonic()
        self.say(f"{process.name} started (pid {popen.pid})")
        assert popen.stdout is not None
        process.relay = threading.Thread(
            target=self.relay, args=(process.name, popen.stdout), daemon=True
        )
        process.relay.start()

    def restart_later(self, process: Process, returncode: int, now: float) -> None:
        pid = self.clear(process)
        uptime = now - process.started
        if uptime >= STABLE_AFTER:
            process.delay = FIRST_DELAY
        self.say(
            f"{process.name} exited (pid {pid}, {describe(returncode)}) after {uptime:.0f} s;"
            f" restarting in {process.delay:g} s"
        )
        process.restart_at = now + process.delay
        process.delay = min(process.delay * 2, MAX_DELAY)

    def stop(self) -> None:
        running = [(process, process.popen) for process in self.processes if process.popen]
        self.say("stopping " + ", ".join(process.name for process, _ in running))
        for _, popen in running:
            signal_group(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for process, popen in running:
            try:
                returncode = popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{process.name} did not stop within {self.grace:g} s: killing it")
                signal_group(popen.pid, signal.SIGKILL)
                returncode = popen.wait()
            self.clear(process)
            self.say(f"{process.name} stopped (pid {popen.pid}, {describe(returncode)})")

    def clear(self, process: Process) -> int:
        """Forget an exited process, returning its pid. What it left in its group goes too: a
        gunicorn master killed with SIGKILL leaves workers that hold the port its successor
        needs, a Celery worker leaves its pool."""
        assert process.popen is not None and process.relay is not None
        pid = process.popen.pid
        signal_group(pid, signal.SIGKILL)
        process.relay.join(timeout=2)  # its last lines come before the news of its exit
        process.popen = process.relay = None
        return pid

    def relay(self, name: str, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                self.print(name, line.decode(errors="replace").rstrip("\r\n"))

    def say(self, text: str) -> None:
        self.print(SELF, text)

    def print(self, name: str, text: str) -> None:
        with self.output:
            sys.stdout.write(f"{name:<{self.width}} | {text}\n")
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a Procfile, restarting what dies.")
    parser.add_argument("-f", "--procfile", type=Path, default=Path("Procfile"))
    parser.add_argument(
        "--grace",
        type=float,
        default=25.0,
        help="seconds a process has to stop after SIGTERM before SIGKILL (default 25: gunicorn"
        " gives its workers 20)",
    )
    args = parser.parse_args()
    try:
        processes = read_procfile(args.procfile)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if not processes:
        parser.error(f"{args.procfile} names no process")
    Supervisor(processes, args.grace).run()


if __name__ == "__main__":
    main()
