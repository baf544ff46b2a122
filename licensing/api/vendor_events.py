"""`GET /api/v1/events`: the event feed, for pollers that must see every event exactly once.

The cursor is an event id; events come in `seq` order after it. `seq` is handed out at insert
time, but transactions commit in their own order, so a poller reading right after event 11
committed could pass over event 10 whose transaction commits a moment later. On PostgreSQL
the feed therefore only hands out *settled* events: the longest run after the cursor whose
`occurred_at` is at least `API_EVENTS_SETTLE_SECONDS` old. That is safe as long as every
event-writing transaction commits within half the window of taking its timestamp (see
docs/api.md for the argument). SQLite runs one write transaction at a time, so there commit
order is `seq` order and no window is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Min
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from licensing import selectors
from licensing.api import inputs
from licensing.api import serializers as s
from licensing.api.schema import RETRY_AFTER, responses
from licensing.api.vendor import VendorAPIView
from licensing.models import Customer, Event


def settle_window() -> timedelta:
    if connection.vendor == "sqlite":
        return timedelta(0)
    return timedelta(seconds=float(settings.API_EVENTS_SETTLE_SECONDS))


def replay_delay(alias: str) -> timedelta:
    """How far behind the primary a read on `alias` may be: zero on the primary, or on a
    replica that has replayed all it received; else the age of its last replayed commit.

    On a replica (portal.db_router) the settle argument holds with "now" taken as the moment
    its snapshot reflects, so the window is moved back by this much: a lagging replica holds
    events back a little longer instead of passing over one it has not replayed yet.
    """
    if alias == DEFAULT_DB_ALIAS or connections[alias].vendor != "postgresql":
        return timedelta(0)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN pg_is_in_recovery()"
            " AND pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()"
            " THEN greatest(now() - pg_last_xact_replay_timestamp(), interval '0')"
            " END"
        )
        (delay,) = cursor.fetchone()
    return delay or timedelta(0)


def events_after(
    *,
    after_seq: int,
    limit: int,
    type: str = "",
    customer: Customer | None = None,
    entitlement_id: Any = None,
    start: Any = None,
    end: Any = None,
) -> tuple[list[Event], bool]:
    """Up to `limit` settled events after `after_seq`, oldest first, and whether more wait."""
    events = (
        selectors.events_log(
            type=type, customer=customer, entitlement_id=entitlement_id, start=start, end=end
        )
        .select_related(None)
        .filter(seq__gt=after_seq)
        .order_by("seq")
    )
    window = settle_window()
    if window:
        cutoff = timezone.now() - window - replay_delay(events.db)
        young = events.filter(occurred_at__gt=cutoff)
        first_young = young.aggregate(first=Min("seq"))["first"]
        if first_young is not None:
            events = events.filter(seq__lt=first_young)
    page = list(events[: limit + 1])
    return page[:limit], len(page) > limit


class EventListView(VendorAPIView):
    """The event feed, oldest first after a cursor."""

    pagination_class = None  # type: ignore[assignment]  # one cursor page, no offsets

    @extend_schema(
        operation_id="events_list",
        tags=["events"],
        summary="Poll events",
        description="Events oldest first after the cursor `after`. Store the answer's "
        "`cursor` and send it as `after` next time: no event is missed or repeated, even "
        "while new ones are written. Events appear once settled (a few seconds).",
        parameters=[s.EventFilterSerializer, RETRY_AFTER],
        responses=responses({200: s.EventPageSerializer}, 400),
    )
    def get(self, request: Request) -> Response:
        params = inputs.query(s.EventFilterSerializer, request)
        after_seq, cursor = 0, None
        if "after" in params:
            seq = Event.objects.filter(public_id=params["after"]).values_list("seq").first()
            if seq is None:
                raise serializers.ValidationError({"after": ["No event has this id."]})
            after_seq, cursor = seq[0], params["after"]
        customer = None
        if "customer" in params:
            customer = Customer.objects.filter(pk=params["customer"]).first()
            if customer is None:
                return Response({"results": [], "cursor": cursor, "has_more": False})
        events, has_more = events_after(
            after_seq=after_seq,
            limit=params["limit"],
            type=params.get("type", ""),
            customer=customer,
            entitlement_id=params.get("entitlement"),
            start=params.get("occurred_after"),
            end=params.get("occurred_before"),
        )
        if events:
            cursor = events[-1].public_id
        body = {"results": events, "cursor": cursor, "has_more": has_more}
        return Response(s.EventPageSerializer(body).data)
