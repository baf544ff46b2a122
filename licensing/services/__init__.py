"""Every write to the licensing domain, split by subject.

Each service owns its transaction, writes the domain rows with their Event rows (and the
hour's UsageBucket), and, where the change is audited, its AuditEntry for the `Actor` the
caller passes. Side effects (webhooks, emails) happen after commit through `licensing.hooks`.
Nothing else writes domain rows: not views, serializers, forms, `save()` overrides or signals.

- `seats`: activate, heartbeat, release, revoke, expire (periodically, and before a read);
- `entitlements`: create, change terms, suspend, resume;
- `expansions`: requests for more seats, granted or declined by the account team;
- `raises`: temporary raises of the lines, which start and end by themselves;
- `billing`: signed statements of billing periods, issued when a period closes;
- `accounts`: customers, products, memberships;
- `tokens`: vendor API tokens;
- `audit`: the `Actor` and the audit log;
- `events`: retention of the raw event log;
- `rollups`: daily rollups of the hourly usage buckets;
- `validation`: checks of client input shared by the APIs and the portal.

The names below are the package's public interface: `from licensing import services`.
"""

from licensing.services.accounts import (
    check_customer_name,
    customer_create,
    membership_join,
    membership_remove,
    membership_set_notifications,
    membership_set_role,
    product_create,
)
from licensing.services.alerts import (
    alert_subscribe,
    threshold_add,
    threshold_remove,
    thresholds_check,
)
from licensing.services.audit import SYSTEM, Actor, audit_diff, audit_record
from licensing.services.billing import (
    statement_issue,
    statement_payload,
    statement_provisional,
    statements_issue_due,
)
from licensing.services.entitlements import (
    UNSET,
    check_entitlement_limits,
    entitlement_create,
    entitlement_resume,
    entitlement_set_customer_cap,
    entitlement_snapshot,
    entitlement_suspend,
    entitlement_update,
)
from licensing.services.events import events_prune
from licensing.services.expansions import (
    default_hard_limit,
    default_seats,
    expansion_decline,
    expansion_grant,
    expansion_request,
)
from licensing.services.keys import license_key_rotate
from licensing.services.raises import raise_end, raise_grant, raises_apply
from licensing.services.rollups import usage_rollups_refresh
from licensing.services.seats import (
    ActivationResult,
    Heartbeat,
    seat_activate,
    seat_get,
    seat_heartbeat,
    seat_release,
    seat_revoke,
    seats_expire_due,
    seats_expire_stale,
)
from licensing.services.tokens import api_token_create, api_token_revoke
from licensing.services.validation import (
    FINGERPRINT_MAX_LENGTH,
    LABEL_MAX_LENGTH,
    check_characters,
    clean_fingerprint,
    clean_label,
)

__all__ = [
    "FINGERPRINT_MAX_LENGTH",
    "LABEL_MAX_LENGTH",
    "SYSTEM",
    "UNSET",
    "ActivationResult",
    "Actor",
    "Heartbeat",
    "alert_subscribe",
    "api_token_create",
    "api_token_revoke",
    "audit_diff",
    "audit_record",
    "check_characters",
    "check_customer_name",
    "check_entitlement_limits",
    "clean_fingerprint",
    "clean_label",
    "customer_create",
    "default_hard_limit",
    "default_seats",
    "entitlement_create",
    "entitlement_resume",
    "entitlement_set_customer_cap",
    "entitlement_snapshot",
    "entitlement_suspend",
    "entitlement_update",
    "events_prune",
    "expansion_decline",
    "expansion_grant",
    "expansion_request",
    "license_key_rotate",
    "membership_join",
    "membership_remove",
    "membership_set_notifications",
    "membership_set_role",
    "product_create",
    "raise_end",
    "raise_grant",
    "raises_apply",
    "seat_activate",
    "seat_get",
    "seat_heartbeat",
    "seat_release",
    "seat_revoke",
    "seats_expire_due",
    "seats_expire_stale",
    "statement_issue",
    "statement_payload",
    "statement_provisional",
    "statements_issue_due",
    "threshold_add",
    "threshold_remove",
    "thresholds_check",
    "usage_rollups_refresh",
]
