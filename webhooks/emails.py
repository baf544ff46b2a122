"""Notification emails: zone changes, the hourly denial digest, a disabled endpoint.

Each email is rendered from three templates under templates/emails/: `<name>_subject.txt`,
`<name>.txt` and `<name>.html`, and sent to each recipient separately so no one sees the
others' addresses. An EmailNotice row records what was sent; it is written in the transaction
that decides to send, and the messages leave only once that transaction has committed, so a
rollback sends nothing and no row stays locked while a mail server answers. Links are absolute,
on SITE_URL (`licensing.links`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Final

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Min
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from licensing import links
from licensing.models import Customer, Entitlement, Event, Membership
from webhooks.models import EmailNotice, WebhookEndpoint

logger = logging.getLogger(__name__)

DIGEST_INTERVAL: Final = timedelta(hours=1)
# A first digest covers at most this far back, so old history never floods an inbox.
DIGEST_LOOKBACK: Final = timedelta(days=1)
DIGEST_FINGERPRINTS: Final = 10


def chart_url(entitlement: Entitlement) -> str:
    return links.absolute(
        reverse(
            "customer:entitlement",
            kwargs={"slug": entitlement.customer.slug, "entitlement_id": entitlement.pk},
        )
    )


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


def send(name: str, context: dict[str, Any], to: list[str]) -> str:
    """Render `emails/<name>*` into one message per recipient and send them once the current
    transaction commits (at once outside one; never if it rolls back); returns the subject.

    A mail server that fails then is logged and not retried: the committed EmailNotice, which
    keeps each email to one per event, already says it was sent.
    """
    context = {**context, "portal_url": links.absolute("/")}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    text = render_to_string(f"emails/{name}.txt", context)
    html = render_to_string(f"emails/{name}.html", context)
    messages = []
    for address in to:
        message = EmailMultiAlternatives(subject, text, to=[address])
        message.attach_alternative(html, "text/html")
        messages.append(message)
    if messages:
        transaction.on_commit(lambda: get_connection().send_messages(messages), robust=True)
    return subject


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


def send_event_email(event: Event) -> bool:
    """Email the customer's admins and account manager about a zone change, once per event.

    Call inside a transaction (fan-out's, which locks the event): the EmailNotice row is
    inserted first, so a concurrent run waits on it and then finds it; the email leaves when
    that transaction commits.
    """
    if event.entitlement_id is None:
        return False
    if EmailNotice.objects.filter(kind=EmailNotice.Kind.EVENT, event=event).exists():
        return False
    entitlement = Entitlement.objects.select_related(
        "customer", "customer__account_manager", "product"
    ).get(pk=event.entitlement_id)
    to = recipients(entitlement.customer, preference="notify_overdraft")
    notice = EmailNotice.objects.create(
        kind=EmailNotice.Kind.EVENT, event=event, entitlement=entitlement, recipients=to
    )
    name = event.type.replace(".", "_")
    context = {
        "event": event,
        "entitlement": entitlement,
        "customer": entitlement.customer,
        "product": entitlement.product,
        "chart_url": chart_url(entitlement),
        **_figures(event),
    }
    notice.subject = send(name, context, to)
    notice.save(update_fields=["subject"])
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
            .order_by("-sent_at")
            .first()
        )
        if last is not None:
            if last.sent_at > now - DIGEST_INTERVAL:
                return False
            denied = denied.filter(seq__gt=last.last_event_seq or 0)
        count = denied.count()
        if not count:
            return False
        recent = list(denied.order_by("-seq")[:DIGEST_FINGERPRINTS])
        to = recipients(entitlement.customer, preference="notify_denials")
        notice = EmailNotice.objects.create(
            kind=EmailNotice.Kind.DENIAL_DIGEST,
            entitlement=entitlement,
            recipients=to,
            denial_count=count,
            last_event_seq=recent[0].seq,
            sent_at=now,
        )
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
            "chart_url": chart_url(entitlement),
        }
        notice.subject = send("denial_digest", context, to)
        notice.save(update_fields=["subject"])
    return True


def send_endpoint_disabled(endpoint: WebhookEndpoint) -> bool:
    """Tell the endpoint's owner (its creator, else the customer's account manager)."""
    owner = endpoint.created_by
    if (owner is None or not owner.is_active) and endpoint.customer is not None:
        owner = endpoint.customer.account_manager
    if owner is None or not owner.is_active:
        logger.warning("webhook endpoint %s disabled; nobody to tell", endpoint.pk)
        return False
    if endpoint.customer is not None:
        page = reverse(
            "customer_webhooks:detail",
            kwargs={"slug": endpoint.customer.slug, "endpoint_id": endpoint.pk},
        )
    else:
        page = reverse("team_webhooks:detail", kwargs={"endpoint_id": endpoint.pk})
    with transaction.atomic():
        subject = send(
            "endpoint_disabled",
            {"endpoint": endpoint, "owner": owner, "endpoint_url": links.absolute(page)},
            [owner.email],
        )
        EmailNotice.objects.create(
            kind=EmailNotice.Kind.ENDPOINT_DISABLED,
            endpoint=endpoint,
            recipients=[owner.email],
            subject=subject,
        )
    return True
