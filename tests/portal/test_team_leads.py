"""Account team: expansion leads ranked by overdraft seat-hours and denials."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing import selectors, services
from licensing.models import Customer, Entitlement, Product, Statement, UsageBucket
from portal.models import User


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


def _hours(entitlement: Entitlement, peaks: list[int], denials: int = 0) -> None:
    """One bucket per hour, ending an hour ago; the last bucket carries the denials."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    UsageBucket.objects.bulk_create(
        UsageBucket(
            entitlement=entitlement,
            hour=now - timedelta(hours=len(peaks) - n),
            peak_used=peak,
            closing_used=peak,
            denials=denials if n == len(peaks) - 1 else 0,
        )
        for n, peak in enumerate(peaks)
    )


def test_leads_rank_by_overdraft_seat_hours_then_denials(
    make_entitlement: Callable[..., Entitlement], other_customer: Customer, product: Product
) -> None:
    small = make_entitlement(seats=10, hard_limit=20)
    _hours(small, [12, 12])  # 4 seat-hours
    big = services.entitlement_create(
        customer=other_customer, product=product, seats=100, hard_limit=120
    )
    _hours(big, [110, 120, 90], denials=5)  # 10 + 20 = 30 seat-hours
    denied_only = make_entitlement(seats=5, hard_limit=5)
    _hours(denied_only, [5], denials=9)  # no overdraft: at the limit, with denials
    quiet = make_entitlement(seats=50, hard_limit=60)
    _hours(quiet, [40, 50])

    leads = selectors.expansion_leads()

    assert [lead.entitlement_id for lead in leads] == [big.pk, small.pk, denied_only.pk]
    top = leads[0]
    assert (top.overdraft_seat_hours, top.overdraft_hours, top.denials, top.peak) == (30, 2, 5, 120)
    assert top.customer_slug == other_customer.slug


def test_old_buckets_are_ignored(make_entitlement: Callable[..., Entitlement]) -> None:
    entitlement = make_entitlement(seats=10, hard_limit=20)
    UsageBucket.objects.create(
        entitlement=entitlement,
        hour=timezone.now() - timedelta(days=31),
        peak_used=20,
        denials=3,
    )
    assert selectors.expansion_leads() == []


def test_recommendation_uses_95th_percentile_peak(
    make_entitlement: Callable[..., Entitlement],
) -> None:
    # At a fixed hour: how the 100 hours fall into UTC days (how many daily peaks the 95th
    # percentile sees) depends on the time of day.
    with time_machine.travel(datetime(2026, 3, 10, 2, 30, tzinfo=UTC), tick=False):
        entitlement = make_entitlement(seats=100, hard_limit=200)
        # 99 hours at 110 and one spike to 190: the spike must not drive the recommendation.
        _hours(entitlement, [110] * 99 + [190])

        (lead,) = selectors.expansion_leads()

    assert lead.peak == 190
    assert lead.p95_peak == 110
    assert lead.recommended == 120  # 110 + 5% = 115.5, rounded up to a step of 10


def test_denials_push_the_recommendation_past_the_hard_limit(
    make_entitlement: Callable[..., Entitlement],
) -> None:
    entitlement = make_entitlement(seats=100, hard_limit=120)
    _hours(entitlement, [100] * 30 + [118, 120], denials=37)
    (lead,) = selectors.expansion_leads()
    assert lead.recommended is not None and lead.recommended > 120


def test_leads_page_lists_leads_with_chart_links(
    staff_client: Client, customer: Customer, make_entitlement: Callable[..., Entitlement]
) -> None:
    entitlement = make_entitlement()
    _hours(entitlement, [118, 120], denials=4)

    response = staff_client.get("/team/leads/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f"/c/{customer.slug}/entitlements/{entitlement.pk}/" in html
    assert "Acme Corp" in html


def test_leads_say_when_the_customer_capped_the_entitlement(
    staff_client: Client, make_entitlement: Callable[..., Entitlement]
) -> None:
    capped = make_entitlement()
    _hours(capped, [105, 110], denials=3)
    services.entitlement_set_customer_cap(entitlement=capped, customer_cap=110)

    (lead,) = selectors.expansion_leads()
    html = staff_client.get("/team/leads/").content.decode()

    assert (lead.seats, lead.hard_limit, lead.customer_cap) == (100, 120, 110)
    assert "capped by customer at 110" in html


def test_leads_page_empty_state(staff_client: Client, entitlement: Entitlement) -> None:
    _hours(entitlement, [50, 60])
    response = staff_client.get("/team/leads/")
    assert response.status_code == 200
    assert "No expansion leads" in response.content.decode()


def test_leads_query_count_does_not_grow(
    staff_client: Client, django_assert_num_queries: Any, product: Product
) -> None:
    def add(count: int) -> None:
        for n in range(count):
            customer = services.customer_create(name=f"Lead {n} of {count}")
            entitlement = services.entitlement_create(
                customer=customer, product=product, seats=10, hard_limit=12
            )
            _hours(entitlement, [11, 12, 12], denials=2)

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get("/team/leads/").status_code == 200
    add(10)
    with django_assert_num_queries(len(few)):
        response = staff_client.get("/team/leads/")
    assert len(response.context["leads"]) == 12


def test_a_lead_shows_the_billable_overdraft_of_its_last_statement(
    client: Client, billed: Entitlement, account_manager: User, time_machine: Any
) -> None:
    time_machine.move_to("2026-03-01T01:00:00+00:00", tick=False)
    services.statements_issue_due()  # February's: 2 overdraft seat-hours, 5 free: none billable
    client.force_login(account_manager)  # 3 Feb's overdraft is in the last 30 days: a lead

    (lead,) = client.get("/team/leads/").context["leads"]
    assert lead.entitlement_id == billed.pk
    assert lead.last_statement_billable == 0  # February's, the latest, not January's 2

    Statement.objects.filter(period_start__month=2).delete()
    response = client.get("/team/leads/")
    (lead,) = response.context["leads"]
    assert lead.last_statement_billable == 2
    statements = f"/c/{billed.customer.slug}/entitlements/{billed.pk}/statements/"
    assert f'href="{statements}"' in response.content.decode()
    assert "2 billable in the last statement" in response.content.decode()
