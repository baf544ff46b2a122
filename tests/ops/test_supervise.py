"""scripts/supervise.py, the process supervisor of scripts/stack, with real processes: one that
dies is restarted alone while the others keep running, and SIGTERM stops them all."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPERVISE = ROOT / "scripts" / "supervise.py"
WAIT_SECONDS = 15.0
T = TypeVar("T")

# A long-running process: writes its pid to <name>.pid, says hello, and waits. It leaves on its
# own once its parent (the supervisor) is gone, so a test that fails midway leaves nothing behind.
CHILD = """\
import os, sys, time
name, parent = sys.argv[1], os.getppid()
with open(f"{name}.tmp", "w") as out:
    out.write(str(os.getpid()))
os.replace(f"{name}.tmp", f"{name}.pid")
print(name, "is up", flush=True)
while os.getppid() == parent:
    time.sleep(0.1)
"""
PROCFILE = """\
# Two processes; the supervisor skips this comment and the blank line.

alpha: {child} alpha
beta: {child} beta
"""


@dataclass
class Supervised:
    folder: Path
    process: subprocess.Popen[bytes]

    def pid(self, name: str) -> int | None:
        path = self.folder / f"{name}.pid"
        return int(path.read_text()) if path.exists() else None

    def output(self) -> str:
        return (self.folder / "output.log").read_text()


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    """`supervise(procfile, grace=...)` runs the supervisor on that Procfile in tmp_path, where
    `{child}` stands for the command running CHILD."""
    started: list[subprocess.Popen[bytes]] = []

    def start(procfile: str, *, grace: float = 5) -> Supervised:
        (tmp_path / "child.py").write_text(CHILD)
        child = f"exec {shlex.quote(sys.executable)} child.py"
        (tmp_path / "Procfile").write_text(procfile.format(child=child))
        with open(tmp_path / "output.log", "wb") as output:
            process = subprocess.Popen(
                [sys.executable, str(SUPERVISE), "-f", "Procfile", "--grace", str(grace)],
                cwd=tmp_path,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return Supervised(tmp_path, process)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_SECONDS)


def wait_for(what: str, check: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := check()):
        assert time.monotonic() < deadline, f"no {what} within {WAIT_SECONDS:g} s"
        time.sleep(0.05)
    return value


def alive(pid: int) -> bool:
    """Whether the process runs; a zombie (dead, not yet reaped) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_process_is_restarted_alone(supervise: Callable[..., Supervised]) -> None:
    run = supervise(PROCFILE)
    alpha = wait_for("alpha", lambda: run.pid("alpha"))
    beta = wait_for("beta", lambda: run.pid("beta"))

    os.kill(alpha, signal.SIGKILL)

    def new_alpha() -> int | None:
        pid = run.pid("alpha")
        return pid if pid not in (None, alpha) and alive(pid) else None

    restarted = wait_for("new alpha", new_alpha)
    assert run.pid("beta") == beta and alive(beta)
    assert run.process.poll() is None
    assert f"alpha exited (pid {alpha}, killed by SIGKILL)" in run.output()
    assert "beta exited" not in run.output()
    wait_for("restart line", lambda: f"alpha started (pid {restarted})" in run.output())
    # Every line of a process carries its name, padded like honcho's.
    wait_for("prefixed output", lambda: "beta      | beta is up" in run.output())


def test_sigterm_stops_every_process_and_exits_0(supervise: Callable[..., Supervised]) -> None:
    run = supervise(PROCFILE)
    pids = {name: wait_for(name, partial(run.pid, name)) for name in ("alpha", "beta")}

    run.process.send_signal(signal.SIGTERM)

    assert run.process.wait(timeout=WAIT_SECONDS) == 0
    assert [name for name, pid in pids.items() if alive(pid)] == []
    output = run.output()
    for name, pid in pids.items():
        assert f"{name} stopped (pid {pid}, killed by SIGTERM)" in output


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(
    supervise: Callable[..., Supervised],
) -> None:
    run = supervise("stubborn: trap '' TERM; {child} stubborn\n", grace=1)
    pid = wait_for("stubborn", lambda: run.pid("stubborn"))

    run.process.send_signal(signal.SIGTERM)

    assert run.process.wait(timeout=WAIT_SECONDS) == 0
    assert not alive(pid)
    output = run.output()
    assert "stubborn did not stop within 1 s: killing it" in output
    assert f"stubborn stopped (pid {pid}, killed by SIGKILL)" in output
