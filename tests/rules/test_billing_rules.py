"""licensing.billing's periods and canonical JSON (licensing.signing) on their own."""

from datetime import UTC, datetime, timedelta

import pytest

from licensing import billing, signing


def d(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (d(2026, 1, 31, 10), 1, d(2026, 2, 28, 10)),
        (d(2028, 1, 31), 1, d(2028, 2, 29)),  # a leap year
        (d(2026, 1, 31), 2, d(2026, 3, 31)),
        (d(2026, 11, 15), 3, d(2027, 2, 15)),
        (d(2026, 12, 1), 12, d(2027, 12, 1)),
        (d(2026, 3, 31), -1, d(2026, 2, 28)),
    ],
)
def test_months_are_added_with_the_day_clamped(moment, months, expected):
    assert billing.add_months(moment, months) == expected


def test_monthly_periods_from_the_31st_come_back_to_it():
    anchor = d(2026, 1, 31, 10)
    starts = [billing.period_at(anchor, "monthly", k).start for k in range(4)]
    assert starts == [
        d(2026, 1, 31, 10),
        d(2026, 2, 28, 10),
        d(2026, 3, 31, 10),
        d(2026, 4, 30, 10),
    ]


@pytest.mark.parametrize(
    ("period", "moment", "index", "label"),
    [
        ("monthly", d(2026, 3, 10, 9), 0, "Feb 2026"),
        ("monthly", d(2026, 3, 10, 10), 1, "Mar 2026"),  # a new period at the anchor's hour
        ("monthly", d(2026, 2, 1), 0, "Feb 2026"),  # before the anchor: the first
        ("monthly", d(2027, 1, 5), 10, "Dec 2026"),
        ("quarterly", d(2026, 6, 9), 1, "May to Jul 2026"),
        ("yearly", d(2027, 3, 10, 10), 1, "Feb 2027 to Jan 2028"),
    ],
)
def test_the_period_containing_a_moment(period, moment, index, label):
    anchor = d(2026, 2, 10, 10)
    found = billing.period_containing(anchor, period, moment)
    assert found.index == index
    assert found.start <= max(moment, anchor) < found.end
    assert found.label == label


def test_labels_name_the_months_a_period_starts_in():
    anchor = d(2026, 10, 1)
    assert billing.period_at(anchor, "monthly", 1).label == "Nov 2026"
    assert billing.period_at(anchor, "quarterly", 0).label == "Oct to Dec 2026"
    assert billing.period_at(anchor, "yearly", 0).label == "Oct 2026 to Sep 2027"


def test_closed_periods_end_by_until_and_after_since():
    anchor = d(2026, 1, 1)
    closed = billing.closed_periods(anchor, "monthly", until=d(2026, 4, 1))
    assert [p.start.month for p in closed] == [1, 2, 3]
    later = billing.closed_periods(anchor, "monthly", until=d(2026, 6, 15), since=d(2026, 3, 1))
    assert [p.start.month for p in later] == [3, 4, 5]
    assert billing.closed_periods(anchor, "monthly", until=d(2026, 1, 31)) == []


def test_canonical_json_sorts_keys_without_spaces_and_refuses_floats():
    assert (
        signing.canonical({"b": 1, "a": ["é", None, True]})
        == '{"a":["é",null,true],"b":1}'.encode()
    )
    with pytest.raises(TypeError, match="floats"):
        signing.canonical({"share": 0.5})
    with pytest.raises(TypeError, match="keys are strings"):
        signing.canonical({1: "x"})


@pytest.mark.parametrize("period", ["monthly", "quarterly", "yearly"])
@pytest.mark.parametrize("anchor", [d(2026, 1, 31, 10), d(2026, 2, 10, 10), d(2028, 2, 29)])
def test_every_moment_falls_in_exactly_the_period_that_holds_it(period, anchor):
    """Hour by hour... sampled every 29 hours over four years: the period found holds the
    moment, is the period of its index, and the next one starts where it ends."""
    moment = anchor - timedelta(days=40)
    while moment < anchor + timedelta(days=4 * 366):
        found = billing.period_containing(anchor, period, moment)
        assert found == billing.period_at(anchor, period, found.index)
        if moment >= anchor:
            assert found.start <= moment < found.end
            assert billing.period_at(anchor, period, found.index + 1).start == found.end
        else:
            assert found.index == 0
        moment += timedelta(hours=29)
