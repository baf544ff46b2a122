"""Statements of billing periods: issue them when a period closes, signed, once each.

A statement's figures come from the usage history of its period (each hour judged by the terms
in force then, licensing.history) through licensing.billing, and are signed with the portal's
key (licensing.signing). Issuing stores the signed document (Statement) and writes
`statement.issued` (a webhook, and an email to the account manager and the customer's admins
who want statements) in one transaction. Issuing a period again returns the stored statement;
building it again from the same history gives the same bytes.

`statements_issue_due` is the periodic job (daily; safe to run twice at once: the unique
period per entitlement lets one issue win). A provisional statement of the period so far is
built on demand and never stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from licensing import billing, selectors, signing
from licensing.billing import Period
from licensing.models import Entitlement, EntitlementTerms, Event, Statement
from licensing.services._rows import write_events
from licensing.zones import SeatCounts

# A period is issued once it has been closed this long (its last hour's bucket is final).
SETTLE: Final = timedelta(minutes=15)


def _free_allowance(entitlement: Entitlement, at: datetime) -> int:
    """The free overdraft seat-hours of the terms in force at `at` (the first terms for a
    moment before them)."""
    records = EntitlementTerms.objects.filter(entitlement_id=entitlement.pk)
    record = (
        records.filter(effective_from__lte=at).order_by("-effective_from", "-id").first()
        or records.order_by("effective_from", "id").first()
    )
    return (
        entitlement.free_overdraft_seat_hours
        if record is None
        else (record.free_overdraft_seat_hours)
    )


def statement_payload(
    entitlement: Entitlement, period: Period, *, now: datetime, provisional: bool = False
) -> dict[str, Any]:
    """What a statement of `period` says, from the history as of `now`."""
    usage = selectors.usage_history(
        entitlement, start=period.start, end=period.end, bucket="hour", now=now
    )
    figures = billing.figures_of(
        usage.points, free_overdraft_seat_hours=_free_allowance(entitlement, period.start)
    )
    return billing.payload(
        entitlement=entitlement,
        period=period,
        billing_period=entitlement.billing_period,
        terms=usage.terms_in_range(),
        figures=figures,
        provisional_as_of=now if provisional else None,
    )


def statement_provisional(entitlement: Entitlement, *, now: datetime | None = None) -> bytes:
    """The signed statement of the period so far (`"provisional": true`), not stored."""
    now = now or timezone.now()
    period = billing.period_of(entitlement, now)
    return signing.sign(statement_payload(entitlement, period, now=now, provisional=True))


def statement_issue(*, entitlement: Entitlement, period: Period) -> Statement:
    """The statement of a closed period: the stored one, or issued now (signed, stored, with
    its `statement.issued` event). Refused (ValueError) for a period not closed yet."""
    existing = Statement.objects.filter(
        entitlement_id=entitlement.pk, period_start=period.start
    ).first()
    if existing is not None:
        return existing
    entitlement = Entitlement.objects.select_related("customer", "product").get(pk=entitlement.pk)
    return _issue(entitlement, period, key=signing.current_key())


def _issue(entitlement: Entitlement, period: Period, *, key: Any) -> Statement:
    """Issue the statement of `period` (ValueError if it has not closed), signed with `key`:
    `entitlement` comes with its customer and product. Issued at the same moment by another
    run: that one."""
    now = timezone.now()
    if period.end > now:
        raise ValueError(f"the period {period.label} has not closed yet")
    content = statement_payload(entitlement, period, now=now)
    document = signing.sign(content, key)
    figures = content["figures"]
    try:
        with transaction.atomic():
            statement = Statement.objects.create(
                entitlement=entitlement,
                period_start=period.start,
                period_end=period.end,
                issued_at=now,
                kid=key.kid,
                document=document.decode(),
                overdraft_seat_hours=figures["overdraft_seat_hours"],
                billable_overdraft_seat_hours=figures["billable_overdraft_seat_hours"],
            )
            write_events(
                entitlement,
                now,
                [
                    (
                        Event.Type.STATEMENT_ISSUED,
                        {
                            "statement_id": str(statement.pk),
                            "period": content["period"],
                            "figures": figures,
                            "kid": key.kid,
                        },
                    )
                ],
                SeatCounts.of(entitlement),
            )
    except IntegrityError:  # issued at the same moment by another run
        return Statement.objects.get(entitlement_id=entitlement.pk, period_start=period.start)
    return statement


def statements_issue_due(*, now: datetime | None = None) -> int:
    """Issue every closed period's statement not issued yet (the periodic job); how many."""
    now = now or timezone.now()
    latest = dict(
        Statement.objects.values("entitlement_id")
        .annotate(last=Max("period_end"))
        .values_list("entitlement_id", "last")
    )
    issued = 0
    key = signing.current_key()
    for entitlement in Entitlement.objects.select_related("customer", "product").order_by("pk"):
        anchor = billing.anchor_of(entitlement.starts_at)
        until = now - SETTLE
        if entitlement.ends_at is not None:
            # The period that holds the end is the last one.
            last = billing.period_containing(
                anchor, entitlement.billing_period, entitlement.ends_at
            )
            until = min(until, last.end)
        for period in billing.closed_periods(
            anchor, entitlement.billing_period, until=until, since=latest.get(entitlement.pk)
        ):
            # Not issued yet (after the latest), so no lookup first: `_issue` meets one issued
            # meanwhile by another run.
            _issue(entitlement, period, key=key)
            issued += 1
    return issued
