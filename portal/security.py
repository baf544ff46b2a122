"""Audit helpers for objects outside the licensing domain: invitations, memberships and
webhook endpoints (licensing may import neither `portal` nor `webhooks`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from licensing import services
from licensing.models import AuditEntry, Membership
from portal.models import Invitation
from webhooks.models import WebhookEndpoint


def audit_invited(request: HttpRequest, invitation: Invitation) -> None:
    services.audit_record(
        action=AuditEntry.Action.MEMBER_INVITED,
        target=invitation,
        customer=invitation.customer,
        label=f"{invitation.email} ({invitation.role})",
        changes={"email": [None, invitation.email], "role": [None, invitation.role]},
        request=request,
    )


def audit_joined(request: HttpRequest, membership: Membership, invitation: Invitation) -> None:
    services.audit_record(
        action=AuditEntry.Action.MEMBER_JOINED,
        target=membership,
        actor=membership.user,
        customer=membership.customer,
        label=f"{membership.user.email} ({membership.role})",
        changes={"role": [None, membership.role], "invitation": [None, str(invitation.pk)]},
        request=request,
    )


def endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log shows of an endpoint; never its secret."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def audit_endpoint(
    request: Any, action: str, endpoint: WebhookEndpoint, before: dict[str, Any] | None
) -> None:
    """Record a change of an endpoint (page or vendor API), in the caller's transaction.

    `before`: {} for a new endpoint, None for one about to be deleted (record it first: a
    deleted row has no id). An update that changed nothing is not recorded.
    """
    after = endpoint_fields(endpoint)
    if before is None:
        changes = services.audit_diff(after, dict.fromkeys(after))
    else:
        changes = services.audit_diff(before, after)
        if before and not changes:
            return
    services.audit_record(action=action, target=endpoint, changes=changes, request=request)
