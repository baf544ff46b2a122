"""`manage.py run_periodic [--once]`: the periodic tasks of settings.CELERY_BEAT_SCHEDULE in
this process, for the embedded default, which has no Celery beat (scripts/demo starts it beside
the web server).

Each task whose schedule is a number of seconds (or a timedelta) runs at start and then every
that many seconds, until SIGTERM or SIGINT (Ctrl-C) ends the loop after the task running.
Calendar schedules (crontab: the nightly pruning of old events) are left to Celery beat.
Production runs `celery beat` instead; the tasks are safe to run twice, so an overlap does no
harm. `--once` runs each task once and exits.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from portal.celery import app

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    """One entry of the beat schedule, run every `every` seconds."""

    name: str
    task: str
    every: float
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    due: float = 0.0  # time.monotonic() of its next run


def plain_jobs(schedule: dict[str, dict[str, Any]]) -> tuple[list[Job], list[str]]:
    """The entries of a beat schedule that repeat every so many seconds, and the names of the
    others (calendar schedules)."""
    jobs, others = [], []
    for name, entry in schedule.items():
        every = entry["schedule"]
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if isinstance(every, int | float) and not isinstance(every, bool) and every > 0:
            jobs.append(
                Job(
                    name=name,
                    task=entry["task"],
                    every=float(every),
                    args=tuple(entry.get("args", ())),
                    kwargs=dict(entry.get("kwargs", {})),
                )
            )
        else:
            others.append(name)
    return jobs, others


class Command(BaseCommand):
    help = (
        "Run the periodic tasks of CELERY_BEAT_SCHEDULE that repeat every N seconds in this "
        "process, each on its interval, until stopped: Celery beat for the embedded default."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run each task once and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        once = options["once"]
        self.verbose = once or options["verbosity"] > 1
        jobs, others = plain_jobs(settings.CELERY_BEAT_SCHEDULE)
        app.autodiscover_tasks(force=True)  # imports each app's tasks module: registers them
        unknown = [job.task for job in jobs if job.task not in app.tasks]
        if unknown:
            raise CommandError(f"No such task: {', '.join(unknown)}.")
        if not once:
            left = f"; left to Celery beat: {', '.join(others)}" if others else ""
            every = ", ".join(f"{job.name} every {job.every:g} s" for job in jobs)
            self.stdout.write(f"Periodic tasks in this process: {every}{left}.")
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.loop(jobs, stop, once=once)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def loop(self, jobs: list[Job], stop: threading.Event, *, once: bool) -> None:
        start = time.monotonic()
        for job in jobs:
            job.due = start
        while not stop.is_set():
            for job in jobs:
                if stop.is_set():
                    return
                if job.due <= time.monotonic():
                    job.due = time.monotonic() + job.every
                    self.run(job)
            if once:
                return
            stop.wait(max(0.0, min(job.due for job in jobs) - time.monotonic()))

    def run(self, job: Job) -> None:
        """Run one task here and now (called as a function, as a worker would run it, without
        a log line per run); a failure is logged and the loop goes on."""
        close_old_connections()  # as a request would: a connection the server dropped is replaced
        try:
            result = app.tasks[job.task](*job.args, **job.kwargs)
        except Exception:
            logger.exception("periodic task %s failed", job.task)
        else:
            if self.verbose:
                self.stdout.write(f"{job.name} ({job.task}): {result}")
        finally:
            close_old_connections()
