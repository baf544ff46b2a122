"""Backups: pg_dump a database with months of demo usage, pg_restore it into a new database,
and the usage-series selector (what every chart and the usage API read) answers the same
numbers on both. The commands are the ones docs/operations.md gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from licensing import demo

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh process against DATABASE_URL: every entitlement's daily series over the
# demo's six months, plus the dashboard's 30-day denial counts.
READ_USAGE = """
import json, os
from datetime import datetime, timedelta
from licensing import selectors
from licensing.models import Customer, Entitlement
end = datetime.fromisoformat(os.environ["USAGE_END"])
usage = {}
for entitlement in Entitlement.objects.select_related("customer").order_by("customer__name"):
    points = selectors.usage_series(
        entitlement, start=end - timedelta(days=200), end=end, bucket="day"
    )
    usage[entitlement.customer.name] = [point.as_dict() for point in points]
denials = {
    e.customer.name: e.denials_30d
    for c in Customer.objects.all()
    for e in selectors.customer_entitlements(c, now=end)
}
print(json.dumps({"usage": usage, "denials_30d": denials}, sort_keys=True))
"""


def _pg_bin(name: str) -> str:
    for folder in (os.environ.get("TEST_PGBIN", ""), "/usr/lib/postgresql/15/bin"):
        if folder and (Path(folder) / name).exists():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found")
    return found


def _url(name: str) -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _read_usage(database_url: str, end: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "USAGE_END": end}
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", READ_USAGE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_restored_dump_answers_the_same_usage(tmp_path: Path) -> None:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    summary = demo.load(now=now)
    assert summary.buckets > 1000 and summary.denials > 0

    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored_{os.getpid()}"
    dump = tmp_path / "portal.dump"
    # The documented backup: custom format (compressed, restorable table by table).
    subprocess.run(
        [_pg_bin("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", _url(source)],
        check=True, timeout=120,
    )  # fmt: skip
    assert dump.stat().st_size > 0
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        cursor.execute(f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run(
            [_pg_bin("pg_restore"), "--no-owner", "--exit-on-error",
             f"--dbname={_url(restored)}", str(dump)],
            check=True, timeout=120,
        )  # fmt: skip
        end = (now + timedelta(hours=1)).isoformat()
        original = _read_usage(_url(source), end)
        copy = _read_usage(_url(restored), end)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')

    assert copy == original
    acme = original["usage"]["Acme Corp"]
    assert len(acme) >= 180
    assert max(point["peak"] for point in acme) == 120  # the 100/120 story reached its limit
    assert sum(point["denials"] for point in acme) > 0
    assert original["denials_30d"]["Acme Corp"] > 0
