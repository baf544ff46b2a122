"""What the portal answers, typed: a granted or denied activation, and the entitlement's status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from overdraft_client.leases import Lease

DenialCode = Literal["hard_limit_reached", "customer_cap_reached"]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _datetime_or_none(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Seats:
    """The entitlement's seats after the request: `available` counts to the customer's cap if
    there is one, else to the hard limit; None where there is no limit."""

    used: int
    entitled: int
    hard_limit: int | None
    customer_cap: int | None
    available: int | None

    @classmethod
    def from_body(cls, body: Any) -> Seats:
        body = body if isinstance(body, dict) else {}
        return cls(
            used=_int_or_none(body.get("used")) or 0,
            entitled=_int_or_none(body.get("entitled")) or 0,
            hard_limit=_int_or_none(body.get("hard_limit")),
            customer_cap=_int_or_none(body.get("customer_cap")),
            available=_int_or_none(body.get("available")),
        )


@dataclass(frozen=True)
class Granted:
    """A seat is held: `status` "ok" within the entitled seats, "overdraft" above them (granted
    and flagged). `lease` is the verified token; the client is licensed until `valid_until`
    even if the portal cannot be reached meanwhile."""

    status: Literal["ok", "overdraft"]
    seat_id: str
    lease: Lease
    valid_until: datetime
    lease_expires_at: datetime | None  # heartbeat before this; None for a named seat
    seats: Seats
    message: str
    created: bool  # a new seat (201), not the one this fingerprint already held (200)


@dataclass(frozen=True)
class Denied:
    """No seat: the entitlement is at the vendor's hard limit or the customer's own cap.
    `retry_after` (seconds) is when the earliest floating lease runs out, if any may."""

    code: DenialCode
    message: str
    retry_after: int | None
    seats: Seats

    @classmethod
    def from_body(cls, body: Any) -> Denied:
        body = body if isinstance(body, dict) else {}
        code = body.get("code")
        return cls(
            code="customer_cap_reached" if code == "customer_cap_reached" else "hard_limit_reached",
            message=str(body.get("message") or "Activation denied: no seat is available."),
            retry_after=_int_or_none(body.get("retry_after")),
            seats=Seats.from_body(body.get("seats")),
        )


@dataclass(frozen=True)
class EntitlementStatus:
    """`GET /api/v1/entitlement`: the license key's entitlement, its usage and zone."""

    id: str
    status: str  # active | suspended | ...
    zone: str  # within | overdraft | at_hard_limit
    product: str
    customer: str
    seats: Seats
    lease_seconds: int | None  # None: named seats
    starts_at: datetime | None
    ends_at: datetime | None
    raw: dict[str, Any]  # the whole answer, for fields added later

    @classmethod
    def from_body(cls, body: Any) -> EntitlementStatus:
        body = body if isinstance(body, dict) else {}
        product = body.get("product") if isinstance(body.get("product"), dict) else {}
        customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
        return cls(
            id=str(body.get("id", "")),
            status=str(body.get("status", "")),
            zone=str(body.get("zone", "")),
            product=str(product.get("name", "")),
            customer=str(customer.get("name", "")),
            seats=Seats.from_body(body.get("seats")),
            lease_seconds=_int_or_none(body.get("lease_seconds")),
            starts_at=_datetime_or_none(body.get("starts_at")),
            ends_at=_datetime_or_none(body.get("ends_at")),
            raw=body,
        )


def granted_from(body: dict[str, Any], lease: Lease, *, created: bool) -> Granted:
    return Granted(
        status=lease.zone,
        seat_id=lease.seat_id,
        lease=lease,
        valid_until=lease.valid_until_datetime,
        lease_expires_at=_datetime_or_none(body.get("lease_expires_at")),
        seats=Seats.from_body(body.get("seats")),
        message=str(body.get("message", "")),
        created=created,
    )
