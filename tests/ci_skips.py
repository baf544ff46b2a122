"""In CI (`CI=true`) a skipped test is a failure, unless it is on `CI_MAY_SKIP` with why.

Tests that need PostgreSQL, Redis, Chromium or a Celery worker skip when their service is
missing, which is right on a laptop and wrong in CI: a broken service install would quietly
shrink the suite and leave it green. Loaded by tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any, Final

import pytest

# Node ids (or their prefixes) that may skip in CI, each with the reason. Empty: every test
# runs there.
CI_MAY_SKIP: Final[dict[str, str]] = {}


def _may_skip(nodeid: str) -> bool:
    return any(nodeid.startswith(allowed) for allowed in CI_MAY_SKIP)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") != "true" or not report.skipped or _may_skip(item.nodeid):
        return
    if hasattr(report, "wasxfail"):
        return  # an expected failure is not a skip
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI ({reason}); CI runs every test: install the missing service, or add"
        " the test to tests/ci_skips.py's CI_MAY_SKIP with the reason"
    )
