"""The events table, partitioned by month on PostgreSQL (docs/operations.md, "Scaling").

`licensing_event` is range-partitioned on `occurred_at` (migration 0016): one partition per UTC
month (`licensing_event_p2026_11`), and a default partition that takes any moment no month
covers (an event dated years back or ahead, as tests write). So:

- **Writing** an event touches one month's table and its indexes, however large the log grows.
- **Months ahead** are created by `ensure`: on migrate and by a daily beat job, the current month
  and EVENT_PARTITIONS_AHEAD months after it. A month created late takes its rows out of the
  default partition first, in the same transaction.
- **Retention** drops whole months (`drop_months_before`): a DROP TABLE of a month, not millions
  of DELETEs. It waits for the table's lock at most DROP_LOCK_TIMEOUT, then gives up until the
  next run, so it never queues live writes behind it for long.
- **Reading** (the outbox sweep, the cursor feed, the event log) sees one table: PostgreSQL
  plans across the months.

Only `seq` and `occurred_at` together are unique in the database (a partitioned table's unique
keys include its partition key): `seq` comes from one sequence, and `public_id` is a random
UUID with a plain index. The tables that point at an event (webhook deliveries, email notices)
do so without a database constraint; Django's CASCADE still deletes them with their event,
and `drop_months_before` deletes them before it drops their month.

On SQLite the events table is one plain table and every function here does nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.utils import timezone

from licensing.models import Event

logger = logging.getLogger(__name__)

TABLE: Final = Event._meta.db_table
COLUMN: Final = str(Event._meta.get_field("occurred_at").column)
DEFAULT: Final = f"{TABLE}_default"
# How long a drop may wait for the table's lock before it gives up until the next run.
DROP_LOCK_TIMEOUT: Final = "2s"
# Dependent rows (webhook deliveries, email notices) deleted per transaction before a drop.
BATCH: Final = 5000


@dataclasses.dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: datetime | None  # None for the default partition
    end: datetime | None


def month_of(moment: datetime) -> datetime:
    """The start of the UTC month that holds `moment`."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return month_of(start + timedelta(days=32))


def name_of(month: datetime) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def partitioned(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the events table is partitioned here (PostgreSQL, after migration 0016)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partitions(using: str = DEFAULT_DB_ALIAS) -> list[Partition]:
    """The months of the events table, oldest first, then the default partition."""
    if not partitioned(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = to_regclass(%s)""",
            [TABLE],
        )
        rows = cursor.fetchall()
    months, default = [], []
    for name, bound in rows:
        if bound == "DEFAULT":
            default.append(Partition(name, None, None))
        else:
            start = datetime.strptime(name[len(TABLE) + 2 :], "%Y_%m").replace(tzinfo=UTC)
            months.append(Partition(name, start, next_month(start)))
    return sorted(months, key=lambda p: p.start or datetime.min.replace(tzinfo=UTC)) + default


def _literal(moment: datetime) -> str:
    return f"'{moment.astimezone(UTC).isoformat()}'"


def _lock(cursor: Any) -> None:
    """One partition change at a time (migrate, the beat job, retention), until the commit."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{TABLE}.partitions"])


def create_default(cursor: Any) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {DEFAULT} PARTITION OF {TABLE} DEFAULT")


def create_month(cursor: Any, month: datetime) -> str:
    """Create the partition of `month` (a month's start), moving its rows out of the default
    partition: the new table is filled, then attached, which locks the events table only
    against other schema changes (SHARE UPDATE EXCLUSIVE), not against writes."""
    name, start, end = name_of(month), _literal(month), _literal(next_month(month))
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"""WITH moved AS (DELETE FROM {DEFAULT} WHERE {COLUMN} >= {start} AND {COLUMN} < {end}
                           RETURNING *)
            INSERT INTO {name} SELECT * FROM moved"""
    )
    cursor.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})"
    )
    return name


def months_to_keep(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    ahead: int | None = None,
) -> list[datetime]:
    """The months (their starts) from that of `since` (default: the current month) to `ahead`
    months after the current one (default: settings.EVENT_PARTITIONS_AHEAD), or to that of
    `until` if later."""
    current = month_of(now or timezone.now())
    last = current
    for _ in range(settings.EVENT_PARTITIONS_AHEAD if ahead is None else ahead):
        last = next_month(last)
    last = max(last, month_of(until)) if until else last
    months = [min(month_of(since), current) if since else current]
    while months[-1] < last:
        months.append(next_month(months[-1]))
    return months


def ensure(
    *, now: datetime | None = None, ahead: int | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Create the missing partitions of `months_to_keep`. Returns their names; safe to run at
    once from several processes."""
    if not partitioned(using):
        return []
    created = []
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        _lock(cursor)
        create_default(cursor)
        existing = {p.start for p in partitions(using)}
        for month in months_to_keep(now=now, ahead=ahead):
            if month not in existing:
                created.append(create_month(cursor, month))
    if created:
        logger.info("Created event partitions: %s", ", ".join(created))
    return created


@dataclasses.dataclass(frozen=True, slots=True)
class Dropped:
    name: str
    events: int


def drop_months_before(cutoff: datetime, *, using: str = DEFAULT_DB_ALIAS) -> list[Dropped]:
    """Drop every month that ends at or before `cutoff` and whose events have all been
    dispatched (the outbox keeps the others whatever their age), after deleting what points at
    its events. A month whose lock is not granted within DROP_LOCK_TIMEOUT stays for the next
    run."""
    dropped = []
    for partition in partitions(using):
        if partition.start is None or partition.end is None or partition.end > cutoff:
            continue
        within = Event.objects.using(using).filter(
            occurred_at__gte=partition.start, occurred_at__lt=partition.end
        )
        if within.filter(dispatched_at__isnull=True).exists():
            logger.warning("Kept %s: some of its events are not dispatched yet", partition.name)
            continue
        _delete_dependents(partition, using)
        try:
            with transaction.atomic(using=using), connections[using].cursor() as cursor:
                _lock(cursor)
                cursor.execute(f"SELECT count(*) FROM {partition.name}")
                (events,) = cursor.fetchone()
                # A table with constraint checks still deferred in this transaction cannot go.
                connections[using].check_constraints()
                cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                cursor.execute(f"DROP TABLE {partition.name}")
        except OperationalError as error:
            logger.warning("Kept %s for the next run: %s", partition.name, error)
            continue
        dropped.append(Dropped(partition.name, events))
    return dropped


def _delete_dependents(partition: Partition, using: str) -> None:
    """Delete, a batch per transaction, the rows of other tables that point at the month's
    events (with their own cascades: a delivery's attempts)."""
    for relation in Event._meta.related_objects:
        model = relation.related_model
        pointing = model._base_manager.using(using).filter(
            **{
                f"{relation.field.name}__occurred_at__gte": partition.start,
                f"{relation.field.name}__occurred_at__lt": partition.end,
            }
        )
        while True:
            with transaction.atomic(using=using):
                pks = list(pointing.values_list("pk", flat=True)[:BATCH])
                if pks:
                    model._base_manager.using(using).filter(pk__in=pks).delete()
            if len(pks) < BATCH:
                break


def oldest_month(using: str = DEFAULT_DB_ALIAS) -> datetime | None:
    """The start of the oldest month partition, if the table is partitioned."""
    starts = [p.start for p in partitions(using) if p.start is not None]
    return starts[0] if starts else None
