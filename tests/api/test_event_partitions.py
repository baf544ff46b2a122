"""The events table partitioned by month (licensing.partitions, migration 0016): months are
created ahead and late, retention drops whole months, and the feed, the outbox sweep and the
event log read across a month's bound as across one table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from licensing import partitions, services
from licensing.models import Entitlement, Event
from portal.models import User
from webhooks import outbox
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Months far from the suite's own clock, so these tests choose which of them exist.
JAN, FEB, MAR = (datetime(2031, m, 1, tzinfo=UTC) for m in (1, 2, 3))


def _where(seq: int) -> str:
    """The partition that holds an event."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM licensing_event WHERE seq = %s", [seq])
        return cursor.fetchone()[0]


def _names() -> list[str]:
    return [p.name for p in partitions.partitions()]


def _activate_at(entitlement: Entitlement, moment: datetime, fingerprint: str) -> int:
    with time_machine.travel(moment, tick=False):
        services.seat_activate(entitlement=entitlement, fingerprint=fingerprint)
    return Event.objects.filter(data__fingerprint=fingerprint).get().seq


def test_migrate_leaves_the_current_month_and_those_ahead(settings: Any) -> None:
    current = partitions.month_of(timezone.now())
    names = _names()
    assert partitions.name_of(current) in names
    ahead = current
    for _ in range(settings.EVENT_PARTITIONS_AHEAD):
        ahead = partitions.next_month(ahead)
        assert partitions.name_of(ahead) in names
    assert names[-1] == "licensing_event_default"
    assert partitions.ensure() == []  # nothing left to create


def test_a_month_created_late_takes_its_events_out_of_the_default(
    entitlement: Entitlement,
) -> None:
    late = _activate_at(entitlement, JAN + timedelta(days=3), "late")
    assert _where(late) == "licensing_event_default"

    created = partitions.ensure(now=JAN, ahead=1)

    assert created == ["licensing_event_p2031_01", "licensing_event_p2031_02"]
    assert _where(late) == "licensing_event_p2031_01"
    assert Event.objects.filter(seq=late).exists()
    assert partitions.ensure(now=JAN, ahead=1) == []


def test_retention_drops_whole_months_and_what_points_at_them(
    make_entitlement: Callable[..., Entitlement],
) -> None:
    partitions.ensure(now=JAN, ahead=2)
    with time_machine.travel(JAN, tick=False):
        entitlement = make_entitlement()
    january = [_activate_at(entitlement, JAN + timedelta(days=d), f"jan-{d}") for d in (1, 30)]
    february = _activate_at(entitlement, FEB + timedelta(days=27, hours=23), "feb")
    march = _activate_at(entitlement, MAR + timedelta(hours=1), "mar")
    Event.objects.update(dispatched_at=timezone.now())
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    for seq in (january[0], march):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=seq, event_type="seat.activated", status="succeeded"
        )
        DeliveryAttempt.objects.create(delivery=delivery, succeeded=True)

    # 400 days before a moment in the middle of March 2032: January and February 2031 have
    # ended before it, March 2031 has not.
    now = MAR + timedelta(days=400 + 14)
    deleted = services.events_prune(older_than=timedelta(days=400), now=now)

    assert deleted == 4  # entitlement.created and the two activations of January, February's
    assert "licensing_event_p2031_01" not in _names()
    assert "licensing_event_p2031_02" not in _names()
    assert "licensing_event_p2031_03" in _names()
    assert not Event.objects.filter(seq__in=[*january, february]).exists()
    assert Event.objects.filter(seq=march).exists()
    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == [march]
    assert DeliveryAttempt.objects.count() == 1


def test_a_month_with_an_undispatched_event_stays(entitlement: Entitlement) -> None:
    partitions.ensure(now=JAN, ahead=0)
    kept = _activate_at(entitlement, JAN + timedelta(days=5), "owed")
    done = _activate_at(entitlement, JAN + timedelta(days=6), "done")
    # Below every month: the default partition holds it, and it goes one row at a time.
    ancient = Event.objects.create(
        type="seat.released",
        customer=entitlement.customer,
        occurred_at=datetime(2020, 6, 1, tzinfo=UTC),
    ).seq
    assert _where(ancient) == "licensing_event_default"
    Event.objects.filter(seq__in=[done, ancient]).update(dispatched_at=timezone.now())

    deleted = services.events_prune(older_than=timedelta(days=1), now=FEB + timedelta(days=2))

    assert deleted == 1
    assert "licensing_event_p2031_01" in _names()
    assert Event.objects.filter(seq__in=[kept, done]).count() == 2
    assert not Event.objects.filter(seq=ancient).exists()


def test_the_feed_the_sweep_and_the_log_cross_a_months_bound(
    entitlement: Entitlement, vendor: Any, client: Client, account_manager: User, settings: Any
) -> None:
    partitions.ensure(now=JAN, ahead=1)
    before = _activate_at(entitlement, FEB - timedelta(seconds=1), "last-of-january")
    after = _activate_at(entitlement, FEB, "first-of-february")
    assert (_where(before), _where(after)) == (
        "licensing_event_p2031_01",
        "licensing_event_p2031_02",
    )

    # The cursor feed, one event a page: it goes from January's partition to February's.
    settings.API_EVENTS_SETTLE_SECONDS = 0
    with time_machine.travel(FEB + timedelta(hours=1), tick=False):
        seen, cursor = [], None
        while True:
            page = vendor.get(
                "/api/v1/events", {"limit": 1, **({"after": cursor} if cursor else {})}
            ).json()
            seen += [event["data"].get("fingerprint") for event in page["results"]]
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        # The outbox sweep finds the undispatched events of both months.
        outbox.sweep(min_age=timedelta(0))
    assert seen[-2:] == ["last-of-january", "first-of-february"]
    assert not Event.objects.filter(seq__in=[before, after], dispatched_at__isnull=True).exists()

    # The event log, newest first.
    client.force_login(account_manager)
    page = client.get("/team/events/", {"entitlement": str(entitlement.pk)}).context["page"]
    assert [event.seq for event in page][:2] == [after, before]


def test_the_migration_converts_a_table_with_events_and_back(
    entitlement: Entitlement, make_entitlement: Callable[..., Entitlement]
) -> None:
    partitions.ensure(now=JAN, ahead=0)
    old = _activate_at(entitlement, JAN + timedelta(days=2), "before")
    rows = list(Event.objects.order_by("seq").values_list("seq", "public_id", "occurred_at"))
    executor = MigrationExecutor(connection)

    executor.migrate([("licensing", "0015_offline_grace")])
    assert not partitions.partitioned()
    assert (
        list(Event.objects.order_by("seq").values_list("seq", "public_id", "occurred_at")) == rows
    )

    executor.loader.build_graph()
    executor.migrate([("licensing", "0016_events_partitioned_by_month")])
    assert partitions.partitioned()
    assert (
        list(Event.objects.order_by("seq").values_list("seq", "public_id", "occurred_at")) == rows
    )
    # January 2031 had an event, so it has its month again; the sequence goes on after it.
    assert _where(old) == "licensing_event_p2031_01"
    new = make_entitlement()
    assert Event.objects.get(entitlement=new).seq > max(seq for seq, *_ in rows)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'licensing_event'::regclass"
            " ORDER BY conname"
        )
        constraints = [name for (name,) in cursor.fetchall()]
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'licensing_event' ORDER BY 1"
        )
        indexes = [name for (name,) in cursor.fetchall()]
    assert constraints[1:] == ["licensing_event_pkey"]
    assert constraints[0].startswith("licensing_event_entitlement_id_")
    assert {"licensing_event_ent_type", "licensing_event_customer"} <= set(indexes)
    assert "licensing_event_undispatched" in indexes
