"""Which license key names an entitlement: its key, or the key it had before the last rotation
until that key's grace period ends (`previous_license_key`, `previous_key_valid_until`).

One rule in the two forms the code needs: the ORM (`q_named_by`) and SQL (`sql_named_by`, for
licensing.statements and the prepared lookup of licensing.selectors). Rotating a key is
licensing.services.license_key_rotate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.db.models import Q

# How long the key before a rotation keeps working unless the rotation says otherwise: long
# enough to roll the new key out to every client; at most MAX_GRACE.
DEFAULT_GRACE: Final = timedelta(hours=24)
MAX_GRACE: Final = timedelta(days=7)


def q_named_by(key: str, now: datetime) -> Q:
    """Entitlements that `key` names at `now`."""
    return Q(license_key=key) | Q(previous_license_key=key, previous_key_valid_until__gt=now)


def sql_named_by(key: str, now: str, alias: str = "") -> str:
    """SQL: the entitlement row (`alias`, e.g. "e.") is named by the SQL expression `key` at
    `now` (`q_named_by`)."""
    return (
        f"({alias}license_key = {key} OR ({alias}previous_license_key = {key}"
        f" AND {alias}previous_key_valid_until > {now}))"
    )


def previous_works(previous_key: str | None, valid_until: datetime | None, now: datetime) -> bool:
    """Whether the key before the last rotation still names its entitlement (`q_named_by`)."""
    return previous_key is not None and valid_until is not None and valid_until > now


def masked(key: str) -> str:
    """`7KQ2M-•••••-•••••-•••••-AB3CD`: enough to tell keys apart, not to use one."""
    groups = key.split("-")
    if len(groups) < 3:
        return "•" * len(key)
    return "-".join([groups[0], *["•••••"] * (len(groups) - 2), groups[-1]])


def hint(key: str) -> str:
    """The last group of a key (`…AB3CD`), for events and audit entries."""
    return "…" + key.rsplit("-", 1)[-1]
