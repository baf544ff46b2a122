"""`python -m overdraft_client activate|status|release`: JSON out, documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from licensing.models import Entitlement, Seat
from tests.sdk.conftest import SDK, Portal
from tests.servers import ROOT, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _cli(*args: str, key: str = "", cache: Path | None = None) -> tuple[int, Any]:
    env = {**os.environ, "PYTHONPATH": str(SDK), "OVERDRAFT_LICENSE_KEY": key}
    if cache is not None:
        env["OVERDRAFT_CACHE_DIR"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-m", "overdraft_client", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else done.stderr


def test_activate_status_release_and_the_exit_codes(
    portal: Portal, make_entitlement: Callable[..., Entitlement], tmp_path: Path
) -> None:
    entitlement = make_entitlement(seats=1, hard_limit=1)
    key, url, cache = entitlement.license_key, portal.url, tmp_path / "cli"
    host = ["--url", url, "--fingerprint", "build-agent-7"]

    code, out = _cli("activate", *host, "--label", "CI agent", key=key, cache=cache)
    assert code == 0, out
    assert (out["result"], out["status"], out["created"]) == ("granted", "ok", True)
    seat_id = out["seat_id"]
    assert Seat.objects.get(pk=seat_id).label == "CI agent"

    code, out = _cli("status", *host, key=key, cache=cache)
    assert code == 0, out
    assert out["entitlement"]["seats"]["used"] == 1
    assert out["lease"]["seat_id"] == seat_id

    code, out = _cli("activate", "--url", url, "--fingerprint", "other", key=key)
    assert code == 1, out
    assert (out["result"], out["code"]) == ("denied", "hard_limit_reached")

    code, out = _cli("release", *host, key=key, cache=cache)  # the seat of the cached lease
    assert code == 0, out
    assert out == {"result": "released", "seat_id": seat_id}
    assert Seat.objects.get(pk=seat_id).release_reason == Seat.ReleaseReason.RELEASED

    # What went wrong, by exit code: 3 refused, 4 unreachable, 2 usage (1 denied, above).
    code, out = _cli("activate", "--url", portal.url, key="NOT-A-KEY")
    assert (code, out["code"]) == (3, "invalid_license_key")

    closed = f"http://127.0.0.1:{free_port()}"
    code, out = _cli("activate", "--url", closed, "--retries", "0", key="ANY")
    assert (code, out["code"]) == (4, "unavailable")

    code, out = _cli("release", "--url", portal.url, key="ANY")
    assert (code, out["code"]) == (2, "no_seat")

    code, err = _cli("activate", "--url", portal.url)  # no key
    assert code == 2
    assert "OVERDRAFT_LICENSE_KEY" in err
