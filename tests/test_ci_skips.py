"""The CI rule of tests/ci_skips.py, run on a small suite of its own (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_runs():
    assert True

def test_skips():
    pytest.skip("needs a service that is not here")

@pytest.mark.xfail(reason="known")
def test_expected_to_fail():
    assert False
"""


def test_a_skip_fails_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess("-p", "no:django", "-p", "tests.ci_skips")
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped in CI (needs a service that is not here)*"])


def test_a_skip_is_a_skip_outside_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_inprocess("-p", "no:django", "-p", "tests.ci_skips")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)


def test_an_allowed_skip_stays_a_skip_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests import ci_skips

    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(ci_skips.CI_MAY_SKIP, "test_suite.py::test_skips", "for this test")
    result = pytester.runpytest_inprocess("-p", "no:django", "-p", "tests.ci_skips")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
