"""The states a client can be in (docs/clients.md says what its user should see in each)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    INACTIVE = "inactive"  # not activated, or released
    OK = "ok"  # a seat within the entitled seats
    OVERDRAFT = "overdraft"  # a seat above them: granted, flagged for the customer and vendor
    DENIED_CUSTOMER_CAP = "denied_customer_cap"  # no seat: the customer's own cap is reached
    DENIED_HARD_LIMIT = "denied_hard_limit"  # no seat: the vendor's hard limit is reached
    OFFLINE_WITHIN_GRACE = "offline_within_grace"  # portal unreachable; the lease still holds
    OFFLINE_PAST_GRACE = "offline_past_grace"  # no lease that holds now: unlicensed
    REFUSED = "refused"  # the portal refused the key or the entitlement (401, 403, 400)

    @property
    def licensed(self) -> bool:
        """Whether the software may run in this state."""
        return self in (State.OK, State.OVERDRAFT, State.OFFLINE_WITHIN_GRACE)
