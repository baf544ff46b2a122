"""Notification emails: zone changes, requests for more seats, the hourly denial digest, a
disabled endpoint.

Each email is rendered from three templates under templates/emails/: `<name>_subject.txt`,
`<name>.txt` and `<name>.html`, and sent to each recipient separately so no one sees the
others' addresses. Links are absolute, on SITE_URL (`licensing.links`).

The EmailNotice row is the email's outbox: it is written, with the rendered subject and bodies,
in the transaction that decides to send, and the messages leave only once that transaction has
committed, so a rollback sends nothing and no row stays locked while a mail server answers.
When the mail server fails then, the notice stays unsent with its error, and `resend_due` (a
beat task) sends the messages still owed later, backing off, until MAX_ATTEMPTS tries failed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Min
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from licensing import links
from licensing.models import (
    AlertSubscription,
    AlertThreshold,
    Customer,
    Entitlement,
    Event,
    ExpansionRequest,
    Membership,
)
from webhooks.models import EmailNotice, WebhookEndpoint

logger = logging.getLogger(__name__)

DIGEST_INTERVAL: Final = timedelta(hours=1)
# A first digest covers at most this far back, so old history never floods an inbox.
DIGEST_LOOKBACK: Final = timedelta(days=1)
DIGEST_FINGERPRINTS: Final = 10
# A new notice is its after-commit send's alone for this long: the resend sweep leaves it be.
RESEND_AFTER: Final = timedelta(minutes=1)
# Wait after the 1st, 2nd, ... failed attempt: about 22 hours in all, then the notice is given up.
RESEND_DELAYS: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=6),
    timedelta(hours=8),
)
MAX_ATTEMPTS: Final = len(RESEND_DELAYS) + 1
# Notices one sweep tries at most; the next sweep takes the rest.
RESEND_BATCH: Final = 500
# Seconds a mail server may take to answer when EMAIL_TIMEOUT is unset (Django then waits for
# ever): a hung server fails the attempt instead of holding a worker and the notice's lock.
SEND_TIMEOUT: Final = 20


def recipients(customer: Customer, *, preference: str) -> list[str]:
    """The customer's admins who want this kind of email, then its account manager."""
    found: list[str] = []
    admins = (
        Membership.objects.filter(
            customer=customer,
            role=Membership.Role.ADMIN,
            user__is_active=True,
            **{preference: True},
        )
        .select_related("user")
        .order_by("user__email")
    )
    found.extend(membership.user.email for membership in admins)
    manager = customer.account_manager
    if manager is not None and manager.is_active:
        found.append(manager.email)
    return list(dict.fromkeys(email for email in found if email))


def _record(
    kind: str, name: str, context: dict[str, Any], *, to: list[str], now: datetime, **fields: Any
) -> EmailNotice:
    """Render `emails/<name>*` into a notice to `to`, whose messages leave once the current
    transaction commits (at once outside one; never if it rolls back)."""
    context = {**context, "portal_url": links.absolute("/")}
    notice = EmailNotice.objects.create(
        kind=kind,
        recipients=to,
        subject=" ".join(render_to_string(f"emails/{name}_subject.txt", context).split()),
        text=render_to_string(f"emails/{name}.txt", context),
        html=render_to_string(f"emails/{name}.html", context),
        created_at=now,
        # With nobody to tell there is nothing to send: the notice only records the decision.
        sent_at=None if to else now,
        next_attempt_at=now + RESEND_AFTER if to else None,
        **fields,
    )
    if to:
        transaction.on_commit(lambda: _attempt(notice, timezone.now()), robust=True)
    return notice


def _message(notice: EmailNotice, address: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(notice.subject, notice.text, to=[address])
    message.attach_alternative(notice.html, "text/html")
    return message


def _attempt(notice: EmailNotice, now: datetime) -> bool:
    """Send the notice's messages still owed and record the outcome; True once it is sent.

    Both outcomes are written only `WHERE sent_at IS NULL`, so of two tries that overlap (an
    after-commit send that outlived RESEND_AFTER, and the sweep) only one can count.
    """
    sent_to = list(notice.sent_to)
    error = ""
    try:
        with get_connection(timeout=settings.EMAIL_TIMEOUT or SEND_TIMEOUT) as connection:
            for address in notice.owed_to():
                connection.send_messages([_message(notice, address)])
                sent_to.append(address)  # a retry sends only the messages still owed
    except Exception as exc:  # smtplib, socket and backend errors all mean "not sent"
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = notice.attempts + 1
    unsent = EmailNotice.objects.filter(pk=notice.pk, sent_at__isnull=True)
    if not error:
        return bool(
            unsent.update(sent_at=now, sent_to=sent_to, attempts=attempts, next_attempt_at=None)
        )
    gave_up = attempts >= MAX_ATTEMPTS
    unsent.update(
        sent_to=sent_to,
        attempts=attempts,
        last_error=error,
        next_attempt_at=None if gave_up else now + RESEND_DELAYS[attempts - 1],
    )
    if gave_up:
        logger.error(
            "email notice %s (%s, %r) given up after %d failed attempts; never reached %s: %s",
            notice.pk,
            notice.kind,
            notice.subject,
            attempts,
            ", ".join(address for address in notice.recipients if address not in sent_to),
            error,
        )
    else:
        logger.warning(
            "email notice %s not sent (attempt %d of %d), will retry: %s",
            notice.pk,
            attempts,
            MAX_ATTEMPTS,
            error,
        )
    return False


def resend_due(*, now: datetime | None = None) -> int:
    """Try again each unsent notice whose next attempt time has come; returns how many went.

    Each is claimed with FOR UPDATE SKIP LOCKED and kept locked while its messages go, so
    concurrent sweeps share the work and never send one notice twice. Safe to run any time:
    a notice just written is left to its after-commit send for RESEND_AFTER.
    """
    now = now or timezone.now()
    sent = 0
    for _ in range(RESEND_BATCH):
        with transaction.atomic():
            notice = (
                EmailNotice.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True, next_attempt_at__lte=now)
                .order_by("next_attempt_at")
                .first()
            )
            if notice is None:
                break
            # A failure moves next_attempt_at past `now`, so this run does not pick it again.
            sent += _attempt(notice, now)
    return sent


def _figures(event: Event) -> dict[str, Any]:
    seats = event.data.get("seats", {})
    entitled = seats.get("entitled")
    used = seats.get("used")
    return {
        "used": used,
        "entitled": entitled,
        "hard_limit": seats.get("hard_limit"),
        "available": seats.get("available"),
        "over_by": max((used or 0) - (entitled or 0), 0),
    }


# A busy entitlement can reach its hard limit, drop below it and reach it again many times a
# day: each time is an event (and a webhook), but its email goes at most once in this long.
LIMIT_EMAIL_EVERY: Final = timedelta(days=1)


def _limit_emailed_lately(event: Event) -> bool:
    """Whether `event` reaches a limit whose email this entitlement already got within
    LIMIT_EMAIL_EVERY before it."""
    if event.type != Event.Type.HARD_LIMIT_REACHED or event.entitlement_id is None:
        return False
    return EmailNotice.objects.filter(
        kind=EmailNotice.Kind.EVENT,
        entitlement_id=event.entitlement_id,
        event__type=event.type,
        event__occurred_at__gt=event.occurred_at - LIMIT_EMAIL_EVERY,
        event__occurred_at__lte=event.occurred_at,
    ).exists()


def send_event_email(event: Event) -> bool:
    """Email the customer's admins and account manager about a zone change, once per event.

    Call inside a transaction (fan-out's, which locks the event): the EmailNotice row is
    written in it, and the email leaves when it commits.
    """
    if event.entitlement_id is None:
        return False
    if EmailNotice.objects.filter(kind=EmailNotice.Kind.EVENT, event=event).exists():
        return False
    if _limit_emailed_lately(event):
        return False
    entitlement = Entitlement.objects.select_related(
        "customer", "customer__account_manager", "product"
    ).get(pk=event.entitlement_id)
    context = {
        "event": event,
        "entitlement": entitlement,
        "customer": entitlement.customer,
        "product": entitlement.product,
        "chart_url": links.chart_url(entitlement),
        **_figures(event),
    }
    _record(
        EmailNotice.Kind.EVENT,
        event.type.replace(".", "_"),
        context,
        to=recipients(entitlement.customer, preference="notify_overdraft"),
        now=timezone.now(),
        event=event,
        entitlement=entitlement,
    )
    return True


# Requests for more seats: who hears of each step. The account manager hears of a request (the
# customer's admins made it); the requester and the customer's admins hear the answer.
EXPANSION_EVENT_TYPES: Final = frozenset(
    {
        Event.Type.EXPANSION_REQUESTED.value,
        Event.Type.EXPANSION_GRANTED.value,
        Event.Type.EXPANSION_DECLINED.value,
    }
)


def _active_email(user: Any) -> str:
    return user.email if user is not None and user.is_active and user.email else ""


def expansion_recipients(request: ExpansionRequest, event_type: str) -> list[str]:
    """The account manager for a new request; the requester, then the customer's admins, for
    its answer. Inactive users hear nothing."""
    customer = request.entitlement.customer
    if event_type == Event.Type.EXPANSION_REQUESTED:
        found = [_active_email(customer.account_manager)]
    else:
        found = [_active_email(request.requested_by), *_admin_emails(customer)]
    return list(dict.fromkeys(email for email in found if email))


def _admin_emails(customer: Customer) -> list[str]:
    """The customer's active admins' addresses, in order."""
    admins = (
        Membership.objects.filter(
            customer=customer, role=Membership.Role.ADMIN, user__is_active=True
        )
        .select_related("user")
        .order_by("user__email")
    )
    return [membership.user.email for membership in admins]


def send_expansion_email(event: Event) -> bool:
    """Email about a request for more seats (`EXPANSION_EVENT_TYPES`), once per event.

    Call inside a transaction (fan-out's, which locks the event), as `send_event_email`.
    """
    if event.type not in EXPANSION_EVENT_TYPES:
        return False
    if EmailNotice.objects.filter(kind=EmailNotice.Kind.EVENT, event=event).exists():
        return False
    request = (
        ExpansionRequest.objects.select_related(
            "entitlement__customer__account_manager",
            "entitlement__product",
            "requested_by",
            "resolved_by",
        )
        .filter(pk=event.data.get("request_id"))
        .first()
    )
    if request is None:  # deleted with its entitlement since
        return False
    entitlement = request.entitlement
    context = {
        "event": event,
        "data": event.data,
        "request": request,
        "entitlement": entitlement,
        "customer": entitlement.customer,
        "product": entitlement.product,
        "chart_url": links.chart_url(entitlement),
        "team_url": links.absolute(
            reverse("team:entitlement_edit", kwargs={"entitlement_id": entitlement.pk})
        ),
    }
    _record(
        EmailNotice.Kind.EVENT,
        event.type.replace(".", "_"),
        context,
        to=expansion_recipients(request, event.type),
        now=timezone.now(),
        event=event,
        entitlement=entitlement,
    )
    return True


def _not_emailed_yet(event: Event, types: Collection[str]) -> Entitlement | None:
    """The entitlement of `event` (with its customer, account manager and product) when the
    event is one of `types` and has no email yet; else None."""
    if event.type not in types or event.entitlement_id is None:
        return None
    if EmailNotice.objects.filter(kind=EmailNotice.Kind.EVENT, event=event).exists():
        return None
    return Entitlement.objects.select_related(
        "customer", "customer__account_manager", "product"
    ).get(pk=event.entitlement_id)


# A temporary raise's start and end: the customer's admins (all of them: their terms change)
# and the account manager hear of each.
RAISE_EVENT_TYPES: Final = frozenset({Event.Type.RAISE_STARTED.value, Event.Type.RAISE_ENDED.value})


def send_raise_email(event: Event) -> bool:
    """Email about a temporary raise that started or ended (`RAISE_EVENT_TYPES`), once per
    event. Call inside a transaction (fan-out's, which locks the event)."""
    entitlement = _not_emailed_yet(event, RAISE_EVENT_TYPES)
    if entitlement is None:
        return False
    customer = entitlement.customer
    _record(
        EmailNotice.Kind.EVENT,
        event.type.replace(".", "_"),
        {
            "event": event,
            "data": event.data,
            "ends_at": _moment(event.data.get("ends_at")),
            "entitlement": entitlement,
            "customer": customer,
            "product": entitlement.product,
            "chart_url": links.chart_url(entitlement),
        },
        to=list(
            dict.fromkeys(
                email
                for email in (*_admin_emails(customer), _active_email(customer.account_manager))
                if email
            )
        ),
        now=timezone.now(),
        event=event,
        entitlement=entitlement,
    )
    return True


def send_statement_email(event: Event) -> bool:
    """Email that a period's statement was issued (`statement.issued`), once per event: to the
    customer's admins who want statements and the account manager. Call inside a transaction
    (fan-out's, which locks the event)."""
    entitlement = _not_emailed_yet(event, {Event.Type.STATEMENT_ISSUED.value})
    if entitlement is None:
        return False
    customer = entitlement.customer
    _record(
        EmailNotice.Kind.EVENT,
        "statement_issued",
        {
            "event": event,
            "period": event.data.get("period", {}),
            "figures": event.data.get("figures", {}),
            "entitlement": entitlement,
            "customer": customer,
            "product": entitlement.product,
            "statements_url": links.absolute(
                reverse(
                    "customer:statements",
                    kwargs={"slug": customer.slug, "entitlement_id": entitlement.pk},
                )
            ),
        },
        to=recipients(customer, preference="notify_statements"),
        now=timezone.now(),
        event=event,
        entitlement=entitlement,
    )
    return True


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def threshold_recipients(entitlement: Entitlement, audience: str) -> list[str]:
    """Who subscribed to the thresholds of `audience` on `entitlement` and may still see them:
    the customer's members (viewers too) for the customer's, staff for the account team's."""
    subscribers = AlertSubscription.objects.filter(
        entitlement=entitlement, audience=audience, user__is_active=True
    ).select_related("user")
    if audience == AlertThreshold.Audience.VENDOR:
        subscribers = subscribers.filter(user__is_staff=True)
    else:
        subscribers = subscribers.filter(user__memberships__customer_id=entitlement.customer_id)
    return sorted({s.user.email for s in subscribers if s.user.email})


def send_threshold_email(event: Event) -> bool:
    """Email the subscribers of a threshold that fired (`entitlement.threshold_crossed`), once
    per event. Call inside a transaction (fan-out's, which locks the event)."""
    entitlement = _not_emailed_yet(event, {Event.Type.THRESHOLD_CROSSED.value})
    if entitlement is None:
        return False
    threshold = event.data.get("threshold", {})
    _record(
        EmailNotice.Kind.EVENT,
        "entitlement_threshold_crossed",
        {
            "event": event,
            "threshold": threshold,
            "used": event.data.get("used"),
            "seats": event.data.get("seats", {}),
            "entitlement": entitlement,
            "customer": entitlement.customer,
            "product": entitlement.product,
            "chart_url": links.chart_url(entitlement),
        },
        to=threshold_recipients(entitlement, threshold.get("audience", "")),
        now=timezone.now(),
        event=event,
        entitlement=entitlement,
    )
    return True


def send_denial_digests(*, now: datetime | None = None) -> int:
    """One digest per entitlement with new denials, at most one per hour; returns how many."""
    now = now or timezone.now()
    denied = Event.objects.filter(
        type=Event.Type.SEAT_DENIED, occurred_at__gte=now - DIGEST_LOOKBACK
    )
    entitlement_ids = set(denied.values_list("entitlement_id", flat=True))
    sent = 0
    entitlements = Entitlement.objects.filter(pk__in=entitlement_ids).select_related(
        "customer", "customer__account_manager", "product"
    )
    for entitlement in entitlements:
        if _send_digest(entitlement, denied.filter(entitlement=entitlement), now):
            sent += 1
    return sent


def _send_digest(entitlement: Entitlement, denied: Any, now: datetime) -> bool:
    with transaction.atomic():
        last = (
            EmailNotice.objects.select_for_update()
            .filter(kind=EmailNotice.Kind.DENIAL_DIGEST, entitlement=entitlement)
            .order_by("-created_at")
            .first()
        )
        if last is not None:
            # Spaced by when a digest was decided on, sent yet or not: a retry is no new digest.
            if last.created_at > now - DIGEST_INTERVAL:
                return False
            denied = denied.filter(seq__gt=last.last_event_seq or 0)
        count = denied.count()
        if not count:
            return False
        recent = list(denied.order_by("-seq")[:DIGEST_FINGERPRINTS])
        context = {
            "entitlement": entitlement,
            "customer": entitlement.customer,
            "product": entitlement.product,
            "count": count,
            "since": denied.aggregate(first=Min("occurred_at"))["first"],
            "recent": [
                {
                    "fingerprint": event.data.get("fingerprint", ""),
                    "label": event.data.get("label", ""),
                    "occurred_at": event.occurred_at,
                }
                for event in recent
            ],
            "seats": recent[0].data.get("seats", {}),
            "chart_url": links.chart_url(entitlement),
        }
        _record(
            EmailNotice.Kind.DENIAL_DIGEST,
            "denial_digest",
            context,
            to=recipients(entitlement.customer, preference="notify_denials"),
            now=now,
            entitlement=entitlement,
            denial_count=count,
            last_event_seq=recent[0].seq,
        )
    return True


def send_endpoint_disabled(endpoint: WebhookEndpoint) -> bool:
    """Tell the endpoint's owner (its creator, else the customer's account manager)."""
    return _tell_endpoint_owner(endpoint, EmailNotice.Kind.ENDPOINT_DISABLED, "disabled")


def send_endpoint_paused(endpoint: WebhookEndpoint, *, probe_minutes: int) -> bool:
    """Tell the endpoint's owner that it is paused and how it resumes."""
    return _tell_endpoint_owner(
        endpoint, EmailNotice.Kind.ENDPOINT_PAUSED, "paused", probe_minutes=probe_minutes
    )


def _tell_endpoint_owner(endpoint: WebhookEndpoint, kind: str, what: str, **context: Any) -> bool:
    owner = endpoint.created_by
    if (owner is None or not owner.is_active) and endpoint.customer is not None:
        owner = endpoint.customer.account_manager
    if owner is None or not owner.is_active:
        logger.warning("webhook endpoint %s %s; nobody to tell", endpoint.pk, what)
        return False
    if endpoint.customer is not None:
        page = reverse(
            "customer_webhooks:detail",
            kwargs={"slug": endpoint.customer.slug, "endpoint_id": endpoint.pk},
        )
    else:
        page = reverse("team_webhooks:detail", kwargs={"endpoint_id": endpoint.pk})
    _record(
        kind,
        f"endpoint_{what}",
        {"endpoint": endpoint, "owner": owner, "endpoint_url": links.absolute(page), **context},
        to=[owner.email],
        now=timezone.now(),
        endpoint=endpoint,
    )
    return True
