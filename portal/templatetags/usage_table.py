"""The entitlement page's usage table, rendered in one pass.

A year of daily points is 365 rows of six cells; as a template loop (a `date` filter and six
variable lookups per row) it took most of the page's time. Same markup, one tag.
"""

from collections.abc import Iterable

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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
