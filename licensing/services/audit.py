"""The audit log: who changed what, from where.

Every audited change is made by a service that writes its AuditEntry in the same transaction,
with the `Actor` its caller built once per request (`Actor.from_request`) or `SYSTEM` for
commands, jobs and the demo.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any, Final

from licensing.models import ApiToken, AuditEntry, Customer


def _address(raw: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(str(raw or "")))
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who makes a change: a user (through the portal or one of their API tokens) or the
    system, and the client address it came from."""

    user: Any = None
    label: str = "system"
    ip: str | None = None

    @classmethod
    def of(cls, who: Any = None, *, ip: Any = None) -> Actor:
        """`who`: a logged-in user, an ApiToken, or None for the system."""
        if isinstance(who, ApiToken):
            return cls(who.user, f"token {who.prefix} ({who.user.email})", _address(ip))
        if who is not None and getattr(who, "is_authenticated", False):
            return cls(who, who.email, _address(ip))
        return cls(None, "system", _address(ip))

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        """The request's API token, else its logged-in user, and its client address
        (REMOTE_ADDR, which portal.proxy resolves through trusted proxies)."""
        token = getattr(request, "auth", None)
        who = token if isinstance(token, ApiToken) else getattr(request, "user", None)
        return cls.of(who, ip=request.META.get("REMOTE_ADDR"))


SYSTEM: Final = Actor()


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value changed."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def audit_record(
    *,
    action: str,
    target: Any,
    actor: Actor,
    customer: Customer | None = None,
    changes: dict[str, Any] | None = None,
    label: str = "",
) -> AuditEntry:
    """Record that `actor` did `action` to `target`, in the caller's transaction.

    `customer` defaults to the target's own; `label` to `str(target)`.
    """
    if customer is None:
        customer = target if isinstance(target, Customer) else getattr(target, "customer", None)
    entry = AuditEntry(
        actor=actor.user,
        actor_label=actor.label[:255],
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        target_label=(label or str(target))[:255],
        customer=customer,
        changes=changes or {},
        ip=actor.ip,
    )
    entry.save(force_insert=True)
    return entry
