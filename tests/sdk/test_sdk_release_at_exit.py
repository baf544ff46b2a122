"""A program using the library gives its seat back when it ends: at the end of the `with`
block (also when the block raises) and at the interpreter's exit (atexit)."""

from __future__ import annotations

import pytest

from licensing.models import Entitlement, Seat
from tests.sdk.conftest import Portal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_program_that_ends_releases_its_seat(portal: Portal, entitlement: Entitlement) -> None:
    # tests/sdk/licensed_app.py: each way a program ends, with its exit status.
    endings = {"with": 0, "atexit": 0, "crash": 1}
    apps = {mode: portal.app(entitlement.license_key, f"app-{mode}", mode) for mode in endings}

    for mode, app in apps.items():
        out, err = app.communicate(timeout=30)
        assert app.returncode == endings[mode], err
        seat = Seat.objects.get(pk=out.strip())
        assert seat.release_reason == Seat.ReleaseReason.RELEASED, mode
    entitlement.refresh_from_db()
    assert entitlement.seats_used == 0
