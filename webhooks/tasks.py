"""Celery tasks: thin, take ids, safe to run twice (acks_late is on for all of them).

Registered at start-up (WebhooksConfig.ready) under the names `webhooks.outbox` queues them by,
so the outbox never imports this module.
"""

from __future__ import annotations

from celery import shared_task

from webhooks import delivery, emails, outbox


@shared_task(name=outbox.FAN_OUT)
def fan_out(event_seqs: list[int]) -> int:
    created = outbox.fan_out(event_seqs)
    if created:
        outbox.deliveries_ready()
    return created


@shared_task(name=outbox.DELIVER)
def deliver(delivery_id: str) -> str | None:
    done = delivery.attempt(delivery_id)
    return None if done is None else done.status


@shared_task(name="webhooks.sweep_outbox")
def sweep_outbox() -> int:
    return outbox.sweep()


@shared_task(name="webhooks.deliver_due")
def deliver_due() -> int:
    return outbox.deliver_due()


@shared_task(name="webhooks.send_denial_digests")
def send_denial_digests() -> int:
    return emails.send_denial_digests()


@shared_task(name="webhooks.resend_emails")
def resend_emails() -> int:
    return emails.resend_due()
