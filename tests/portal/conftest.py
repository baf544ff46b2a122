"""Fixtures for the customer pages: usage history and seats in use."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from licensing import services
from licensing.models import Entitlement, Event, Seat, UsageBucket
from portal.models import User


def this_hour() -> datetime:
    return timezone.now().replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    def log_in(user: User) -> Client:
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def make_history() -> Callable[..., list[UsageBucket]]:
    """Hourly buckets ending at the current hour: a daily cycle rising into overdraft.

    `denials_every` puts 3 denials into every n-th hour whose peak reaches the hard limit.
    """

    def make(
        entitlement: Entitlement, *, hours: int = 24 * 30, every: int = 1, denials: bool = True
    ) -> list[UsageBucket]:
        end = this_hour()
        limit = entitlement.hard_limit or entitlement.seats * 2
        rows = []
        for i in range(0, hours, every):
            hour = end - timedelta(hours=hours - 1 - i)
            # Busy from 09:00 to 17:00 UTC; the daytime level rises over the period.
            busy = 9 <= hour.hour < 17
            level = int(entitlement.seats * (0.6 + 0.8 * i / hours)) if busy else 10
            peak = min(level, limit)
            rows.append(
                UsageBucket(
                    entitlement=entitlement,
                    hour=hour,
                    peak_used=peak,
                    closing_used=max(peak - 5, 0),
                    activations=5 if busy else 0,
                    overdraft_activations=int(peak > entitlement.seats),
                    denials=3 if denials and level > limit else 0,
                    releases=5 if busy else 0,
                )
            )
        # The current hour may already hold the bucket of seats activated by the test.
        return UsageBucket.objects.bulk_create(rows, ignore_conflicts=True)

    return make


@pytest.fixture
def make_seats() -> Callable[..., list[Seat]]:
    def make(entitlement: Entitlement, count: int, *, prefix: str = "host") -> list[Seat]:
        seats = []
        for n in range(count):
            result = services.seat_activate(
                entitlement=entitlement, fingerprint=f"{prefix}-{n:04d}", label=f"Machine {n}"
            )
            assert result.seat is not None
            seats.append(result.seat)
        entitlement.refresh_from_db()
        return seats

    return make


@pytest.fixture
def make_denials() -> Callable[..., list[Event]]:
    """seat.denied events as the activation service writes them."""

    def make(entitlement: Entitlement, count: int, **data: Any) -> list[Event]:
        return Event.objects.bulk_create(
            Event(
                type=Event.Type.SEAT_DENIED,
                entitlement=entitlement,
                customer_id=entitlement.customer_id,
                data={"fingerprint": f"denied-{n}", "label": f"Denied {n}", **data},
            )
            for n in range(count)
        )

    return make
