"""The entitlement page's usage table, rendered in one pass, and the chart's figures in words.

A year of daily points is 365 rows of six cells; as a template loop (a `date` filter and six
variable lookups per row) it took most of the page's time. Same markup, one tag.
"""

from collections.abc import Iterable, Sequence

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from licensing.capacity import Capacity
from licensing.selectors import UsagePoint

register = template.Library()


@register.simple_tag
def usage_rows(points: Iterable[UsagePoint], bucket: str) -> SafeString:
    """`<tr>` per point: start, peak, closing, the lines it was judged by, activations,
    denials, overdraft hours; the bucket that holds the current hour says "so far".

    The start reads as the `date` filter's "D j M Y" (days) or "D j M H:i" (hours) would,
    with the day and month names translated once per table instead of once per row.
    """
    days = {n: escape(WEEKDAYS_ABBR[n]) for n in range(7)}
    months = {n: escape(str(MONTHS_3[n]).title()) for n in range(1, 13)}
    overdraft = ' class="row-overdraft"'
    rows = []
    for p in points:
        start = timezone.localtime(p.start)
        label = f"{days[start.weekday()]} {start.day} {months[start.month]} " + (
            f"{start.year:04d}" if bucket == "day" else f"{start.hour:02d}:{start.minute:02d}"
        )
        if p.partial:
            label += ' <small class="muted">(so far)</small>'
        limit = "∞" if p.hard_limit is None else int(p.hard_limit)
        rows.append(
            f"<tr{overdraft if p.overdraft_hours else ''}><td>{label}</td>"
            f"<td>{int(p.peak)}</td><td>{int(p.closing)}</td>"
            f"<td>{int(p.entitled)} / {limit}</td><td>{int(p.activations)}</td>"
            f"<td>{int(p.denials)}</td><td>{int(p.overdraft_hours)}</td></tr>\n"
        )
    # Every value is an int or escaped above.
    return mark_safe("".join(rows))


@register.simple_tag
def usage_summary(
    points: Sequence[UsagePoint], capacity: Capacity, period: str, bucket: str
) -> dict[str, str]:
    """The charts' figures in a sentence each, for the canvases' descriptions (screen readers
    hear them with the chart): `seats` (the peak, the lines the range was judged by, hours in
    overdraft, denials) and `denials` (how many, on how many buckets, the most in one).

    The figures are the capacity note's (`capacity`); the lines are the points', in the order
    they were in force ("entitled seats 100, then 130"; "none": no hard limit, no cap).
    """
    lines = [
        f"entitled seats {_lines(p.entitled for p in points)}",
        f"hard limit {_lines(p.hard_limit for p in points)}",
    ]
    if any(p.customer_cap is not None for p in points):
        lines.append(f"customer's cap {_lines(p.customer_cap for p in points)}")
    seats = (
        f"Peak {capacity.peak} seats in use in the {period}. Lines: {'; '.join(lines)}."
        f" {_count(capacity.overdraft_hours, 'hour').capitalize()} in overdraft;"
        f" {_count(capacity.denials, 'activation')} denied."
    )
    denied = [p.denials for p in points if p.denials]
    denials = f"{_count(capacity.denials, 'activation').capitalize()} denied in the {period}"
    if denied:
        denials += (
            f", in {_count(len(denied), bucket)} of {len(points)};"
            f" at most {max(denied)} in one {bucket}"
        )
    return {"seats": seats, "denials": f"{denials}."}


def _lines(values: Iterable[int | None]) -> str:
    """ "100", or "100, then 130" when the line changed in the range (None: "none")."""
    steps: list[int | None] = []
    for value in values:
        if not steps or steps[-1] != value:
            steps.append(value)
    return ", then ".join("none" if value is None else str(value) for value in steps)


def _count(n: int, noun: str) -> str:
    """ "no hour", "1 hour", "1,234 hours"."""
    if n == 0:
        return f"no {noun}"
    return f"1 {noun}" if n == 1 else f"{n:,} {noun}s"
