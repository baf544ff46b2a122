"""The 100/120 story through the client library, against a real portal: ok up to the entitled
seats, overdraft above them, a denial at the customer's own cap while they have one, and at
the vendor's hard limit once they lift it."""

from __future__ import annotations

import pytest
from overdraft_client import Denied, Granted, State

from licensing import services
from licensing.models import Entitlement
from tests.sdk.conftest import Portal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ok_then_overdraft_then_denied_at_the_customers_cap_and_at_the_hard_limit(
    portal: Portal, entitlement: Entitlement
) -> None:
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)
    clients = [portal.client(entitlement.license_key, f"host-{n:03}") for n in range(121)]

    results = [client.activate() for client in clients[:111]]

    granted = [r for r in results if isinstance(r, Granted)]
    assert [r.status for r in granted] == ["ok"] * 100 + ["overdraft"] * 10
    assert [r.seats.used for r in granted] == list(range(1, 111))
    assert all(r.created and r.lease.seat_id == r.seat_id for r in granted)
    at_cap = results[110]
    assert isinstance(at_cap, Denied)
    assert (at_cap.code, at_cap.seats.customer_cap, at_cap.seats.available) == (
        "customer_cap_reached",
        110,
        0,
    )
    assert at_cap.retry_after is None  # named seats: none will run out
    assert clients[110].state is State.DENIED_CUSTOMER_CAP
    assert clients[110].message == at_cap.message

    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=None)
    results[110:] = [client.activate() for client in clients[110:]]

    granted = [r for r in results if isinstance(r, Granted)]
    assert [r.status for r in granted] == ["ok"] * 100 + ["overdraft"] * 20
    at_limit = results[120]
    assert isinstance(at_limit, Denied)
    assert at_limit.code == "hard_limit_reached"
    assert "120" in at_limit.message
    states = [client.state for client in clients]
    assert states == [State.OK] * 100 + [State.OVERDRAFT] * 20 + [State.DENIED_HARD_LIMIT]
    assert [client.licensed() for client in clients].count(True) == 120

    again = clients[0].activate()  # the seat this fingerprint holds, not another
    assert isinstance(again, Granted)
    assert (again.created, again.seat_id, again.seats.used) == (False, granted[0].seat_id, 120)

    clients[5].release()
    assert clients[5].state is State.INACTIVE
    retried = clients[120].activate()
    assert isinstance(retried, Granted)
    assert retried.status == "overdraft"
    assert clients[120].state is State.OVERDRAFT
