"""`manage.py backtest_forecast`: runs on an empty database, prints its table, leaves nothing."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from licensing.forecast import Crossing
from licensing.management.commands.backtest_forecast import Row, first_reached, synthetic
from licensing.models import Customer, Entitlement, UsageBucket

pytestmark = pytest.mark.django_db


def test_the_backtest_prints_each_line_and_changes_nothing() -> None:
    out = StringIO()
    call_command("backtest_forecast", stdout=out)
    printed = out.getvalue()

    lines = printed.splitlines()
    header = next(line for line in lines if line.startswith("history"))
    assert header.split() == [
        "history",
        "line",
        "predicted",
        "range",
        "actual",
        "error",
        "in",
        "range",
    ]
    for history in [
        "demo: Acme Corp",
        "demo: Umbrella",
        "synthetic: steady growth",
        "synthetic: flat",
    ]:
        assert any(line.startswith(history) for line in lines), history
    assert "inside the forecast's range; mean absolute error" in printed
    # The demo was loaded in a transaction that was rolled back.
    assert (
        Customer.objects.count() == Entitlement.objects.count() == UsageBucket.objects.count() == 0
    )


def test_a_row_is_inside_the_range_when_the_actual_day_is() -> None:
    end = date(2026, 4, 30)
    ahead = Crossing(
        "hard limit",
        120,
        expected=date(2026, 4, 10),
        earliest=date(2026, 4, 5),
        latest=date(2026, 4, 20),
    )
    assert Row("h", ahead, date(2026, 4, 1), end, date(2026, 4, 12)).error == -2
    assert Row("h", ahead, date(2026, 4, 1), end, date(2026, 4, 20)).inside
    assert not Row("h", ahead, date(2026, 4, 1), end, date(2026, 4, 4)).inside
    assert not Row("h", ahead, date(2026, 4, 1), end, None).inside  # it should have by the 20th
    later = Crossing("hard limit", 120, earliest=date(2026, 5, 5))
    assert Row("h", later, date(2026, 4, 1), end, None).inside
    assert Row("h", later, date(2026, 4, 1), end, None).error is None
    assert Row(
        "h", Crossing("hard limit", 120, reached=True), date(2026, 4, 1), end, date(2026, 4, 1)
    ).inside


def test_the_synthetic_history_and_the_first_day_reached() -> None:
    peaks = synthetic(days=14, start=10, growth=1, weekend=0.5, noise=0, seed=1)
    assert [peaks[t] for t in range(8)] == [10, 11, 12, 13, 14, 8, 8, 17]
    days = {date(2026, 1, 1): 5, date(2026, 1, 3): 9}
    assert first_reached(days, 9, start=date(2026, 1, 1), end=date(2026, 1, 5)) == date(2026, 1, 3)
    assert first_reached(days, 10, start=date(2026, 1, 1), end=date(2026, 1, 5)) is None
