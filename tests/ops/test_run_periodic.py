"""`manage.py run_periodic`: beat's every-N-seconds tasks in-process, for the embedded demo."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import timedelta
from io import StringIO

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from licensing import services
from licensing.models import Entitlement, Event, Seat
from portal.management.commands import run_periodic

# The command closes connections between runs as a request would, which must not happen
# inside a test's transaction: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lapsed_seat(make_entitlement: Callable[..., Entitlement]) -> Seat:
    entitlement = make_entitlement(
        seats=1, hard_limit=1, lease_seconds=60, starts_at=timezone.now() - timedelta(hours=1)
    )
    result = services.seat_activate(
        entitlement=entitlement, fingerprint="gone", now=timezone.now() - timedelta(minutes=5)
    )
    assert result.seat is not None
    return result.seat


def test_once_runs_each_plain_seconds_task_once_and_releases_an_expired_seat(
    lapsed_seat: Seat,
) -> None:
    out = StringIO()

    call_command("run_periodic", "--once", stdout=out)

    lapsed_seat.refresh_from_db()
    assert lapsed_seat.release_reason == Seat.ReleaseReason.EXPIRED
    assert Event.objects.filter(type=Event.Type.SEAT_EXPIRED).count() == 1
    lines = out.getvalue().splitlines()
    assert "licensing-expire-stale-seats (licensing.expire_stale_seats): 1" in lines
    ran = {line.split(" ")[0] for line in lines}
    plain = {
        name
        for name, entry in django_settings.CELERY_BEAT_SCHEDULE.items()
        if not isinstance(entry["schedule"], crontab)
    }
    assert ran == plain
    assert "licensing-prune-events" not in ran  # a calendar schedule: left to Celery beat


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_loop_cleanly(monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    runs: list[str] = []
    run = run_periodic.Command.run

    def run_then_signal(self: run_periodic.Command, job: run_periodic.Job) -> None:
        run(self, job)
        runs.append(job.name)
        if len(runs) == 2:  # mid-round: the loop ends after this task
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(run_periodic.Command, "run", run_then_signal)
    before = signal.getsignal(signum)

    call_command("run_periodic", stdout=StringIO())

    jobs, _ = run_periodic.plain_jobs(django_settings.CELERY_BEAT_SCHEDULE)
    assert runs == [job.name for job in jobs[:2]]  # the task running finished; no other began
    assert signal.getsignal(signum) is before


def test_a_failing_task_is_logged_and_the_others_still_run(
    lapsed_seat: Seat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> int:
        raise RuntimeError("mail server on fire")

    from webhooks import emails

    monkeypatch.setattr(emails, "resend_due", broken)

    call_command("run_periodic", "--once", stdout=StringIO())

    assert "webhooks.resend_emails failed" in caplog.text
    assert "mail server on fire" in caplog.text
    lapsed_seat.refresh_from_db()
    assert lapsed_seat.release_reason == Seat.ReleaseReason.EXPIRED


def test_only_numbers_and_timedeltas_are_plain_schedules() -> None:
    jobs, others = run_periodic.plain_jobs(
        {
            "a": {"task": "x.a", "schedule": 30.0},
            "b": {"task": "x.b", "schedule": timedelta(minutes=5), "args": [1]},
            "c": {"task": "x.c", "schedule": crontab(minute=0)},
        }
    )

    assert [(job.name, job.every, job.args) for job in jobs] == [
        ("a", 30.0, ()),
        ("b", 300.0, (1,)),
    ]
    assert others == ["c"]
