"""Demo data: customers, users and months of plausible seat-usage history.

The story is Acme Corp's 100/120 entitlement: demand follows the working day and the working
week, grows over six months from about 60 seats at the daily peak into overdraft, and in the
last weeks hits the hard limit of 120, where activations are denied. Three smaller customers
give the account team's views something to compare: Globex comfortably within, Initech living
in unlimited overdraft, Umbrella's floating seats at their cap. Acme's admin has asked for 130
seats (an open request for the account team to grant or decline); Globex capped itself at 55;
the account team gave Initech a temporary raise of 60 seats for its year-end crunch, running
since six days before the last hour.

Customers, products and entitlements are created through `licensing.services`. The history
(UsageBucket rows, the seat.denied and zone-transition Event rows, the seats in use and the
entitlement's counter) is bulk-inserted directly: replaying thousands of activations through
`seat_activate` would take minutes, and the services always write "now". This module is the one
sanctioned exception to "only services write domain rows"; what it writes is what the services
would have written had the history happened.

History is generated with a fixed seed and ends at the hour the demo is loaded. The customers'
time zone is picked so that this hour is the afternoon of a working day where the calendar
allows, and the dashboards open on a busy day; from Saturday morning to Sunday night (UTC) they
open on a quiet weekend. Weekdays are the calendar's: weekend dips fall on weekends.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from licensing import billing, services
from licensing.models import (
    AuditEntry,
    Customer,
    Entitlement,
    EntitlementTerms,
    Event,
    Membership,
    Product,
    Seat,
    Statement,
    TemporaryRaise,
    UsageBucket,
)
from licensing.services import billing as services_billing
from licensing.zones import SeatCounts, in_overdraft, transitions

DEMO_PASSWORD: Final = "demo-password-2026"
SEED: Final = 2026
ACCOUNT_MANAGER_EMAIL: Final = "am@vendor.example"

# Share of a weekday's peak demand by hour of the customer's local day (0 = midnight), above
# the always-on floor (build machines, people who never close the application).
_WORKDAY: Final = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.10, 0.38, 0.72, 0.93, 1.0, 0.98,
    0.86, 0.93, 1.0, 0.96, 0.87, 0.66, 0.40, 0.24, 0.14, 0.08, 0.04, 0.02,
)  # fmt: skip
# Monday .. Sunday.
_WEEKDAY: Final = (1.0, 1.0, 1.0, 0.98, 0.90, 0.14, 0.10)
# The history's last hour is, if possible, this hour of the customers' local working day.
_LAST_LOCAL_HOUR: Final = 13
_FIRST_NAMES: Final = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Lars", "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Viktor",
    "Wen", "Yusuf", "Zoe",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Demand:
    """How many seats a customer's people want, by hour, over the history."""

    days: int
    peak_start: float  # a weekday's peak demand when the history starts
    peak_end: float  # ... and when it ends
    floor: float  # share of the peak still wanted at night and on weekends
    growth: float = 1.0  # exponent of the growth curve: < 1 grows early, > 1 late
    day_noise: float = 0.05  # relative spread of one day's peak around the trend


@dataclasses.dataclass(frozen=True)
class DemoRaise:
    """A running temporary raise: started `days_ago` (whole days before the last hour), ends
    `ends_in` days after the demo's now."""

    days_ago: int
    ends_in: int
    extra_seats: int
    extra_hard_limit: int
    reason: str

    def lines(self, seats: int, hard_limit: int | None) -> tuple[int, int | None]:
        return seats + self.extra_seats, (
            None if hard_limit is None else hard_limit + self.extra_hard_limit
        )


@dataclasses.dataclass(frozen=True)
class CustomerSpec:
    name: str
    slug: str
    product_code: str
    seats: int
    hard_limit: int | None
    lease_seconds: int | None
    demand: Demand
    users: tuple[tuple[str, str, str], ...]  # (email, name, role)
    host_prefix: str
    customer_cap: int | None = None  # set by the customer's first user at the end (now)
    # (seats, message): a request for more seats its first user makes at the end (now).
    expansion_request: tuple[int, str] | None = None
    # A temporary raise the account team granted, running now.
    temporary_raise: DemoRaise | None = None
    # Overdraft seat-hours a month not billed (its statements' free allowance).
    free_overdraft_seat_hours: int = 0


@dataclasses.dataclass(frozen=True)
class Login:
    email: str
    description: str


@dataclasses.dataclass
class Summary:
    created_customers: list[str] = dataclasses.field(default_factory=list)
    kept_customers: list[str] = dataclasses.field(default_factory=list)
    buckets: int = 0
    denials: int = 0
    logins: list[Login] = dataclasses.field(default_factory=list)
    license_keys: dict[str, str] = dataclasses.field(default_factory=dict)
    statements: int = 0


PRODUCTS: Final = (("Design Studio", "design-studio"), ("Render Engine", "render-engine"))

CUSTOMERS: Final = (
    CustomerSpec(
        name="Acme Corp",
        slug="acme-corp",
        product_code="design-studio",
        seats=100,
        hard_limit=120,
        lease_seconds=None,
        demand=Demand(days=200, peak_start=60, peak_end=128, floor=0.12, growth=0.9),
        users=(
            ("admin@acme.example", "Ada Admin", Membership.Role.ADMIN),
            ("viewer@acme.example", "Vic Viewer", Membership.Role.VIEWER),
        ),
        host_prefix="acme-ws",
        free_overdraft_seat_hours=200,
        expansion_request=(
            130,
            "We keep hitting the limit at the end of each month. Could we move to 130 seats?",
        ),
    ),
    CustomerSpec(
        name="Globex",
        slug="globex",
        product_code="design-studio",
        seats=50,
        hard_limit=60,
        lease_seconds=None,
        demand=Demand(days=200, peak_start=30, peak_end=40, floor=0.10),
        users=(("admin@globex.example", "Gita Globex", Membership.Role.ADMIN),),
        host_prefix="globex-pc",
        customer_cap=55,  # "we allow at most 55": half of the vendor's 10 seats of overdraft
    ),
    CustomerSpec(
        name="Initech",
        slug="initech",
        product_code="render-engine",
        seats=200,
        hard_limit=None,
        lease_seconds=None,
        demand=Demand(days=200, peak_start=218, peak_end=262, floor=0.70, day_noise=0.04),
        users=(),
        host_prefix="initech-node",
        # The account team carries them through the year-end crunch: their peaks sit inside
        # the raised 260 seats instead of in overdraft.
        temporary_raise=DemoRaise(
            days_ago=6, ends_in=24, extra_seats=60, extra_hard_limit=0, reason="year-end crunch"
        ),
    ),
    CustomerSpec(
        name="Umbrella",
        slug="umbrella",
        product_code="design-studio",
        seats=20,
        hard_limit=25,
        lease_seconds=900,
        demand=Demand(days=200, peak_start=17, peak_end=28, floor=0.05, growth=0.8),
        users=(),
        host_prefix="umbrella-lab",
    ),
)


# --- the history generator ------------------------------------------------------------------


@dataclasses.dataclass
class History:
    buckets: list[UsageBucket]
    events: list[Event]
    level: int  # seats in use at the end
    seats: list[Seat]  # the seats in use at the end, not saved


def _local_offset(last_hour: datetime) -> timedelta:
    """The customers' time zone: one (UTC-12 to UTC+14) where the history's last hour is the
    early afternoon of a working day if there is one, so the demo opens on a busy day."""

    def busyness(hours: int) -> tuple[float, int]:
        local = last_hour + timedelta(hours=hours)
        return (
            _WORKDAY[local.hour] * _WEEKDAY[local.weekday()],
            -abs(local.hour - _LAST_LOCAL_HOUR),
        )

    return timedelta(hours=max(range(-12, 15), key=busyness))


def _demand_series(
    demand: Demand, hours: Sequence[datetime], offset: timedelta, rng: random.Random
) -> list[int]:
    """Seats wanted at the busiest moment of each hour (may exceed any limit)."""
    day_factor: dict[date, float] = {}
    series = []
    total = max(len(hours) - 1, 1)
    for i, hour in enumerate(hours):
        local = hour + offset
        day = local.date()
        if day not in day_factor:
            day_factor[day] = max(0.5, rng.gauss(1.0, demand.day_noise))
        trend = (i / total) ** demand.growth
        peak = demand.peak_start + (demand.peak_end - demand.peak_start) * trend
        share = demand.floor + (1 - demand.floor) * _WORKDAY[local.hour] * _WEEKDAY[local.weekday()]
        wanted = peak * day_factor[day] * share + rng.gauss(0, 0.8 + 0.012 * peak)
        series.append(max(0, round(wanted)))
    return series


def _moment(hour: datetime, start_minute: float, end_minute: float, rng: random.Random) -> datetime:
    return hour + timedelta(seconds=rng.uniform(start_minute * 60, end_minute * 60 - 1))


def _event(
    entitlement: Entitlement,
    event_type: Event.Type,
    moment: datetime,
    used: int,
    extra: dict[str, Any] | None = None,
) -> Event:
    """An Event row shaped as `services._rows.write_events` writes it; already fanned out."""
    counts = SeatCounts(used, entitlement.seats, entitlement.hard_limit, entitlement.customer_cap)
    return Event(
        type=event_type,
        entitlement_id=entitlement.pk,
        customer_id=entitlement.customer_id,
        occurred_at=moment,
        # Old news: the outbox must not turn months of history into webhooks and emails.
        dispatched_at=moment,
        data={
            "entitlement_id": str(entitlement.pk),
            "customer_id": str(entitlement.customer_id),
            "product_id": str(entitlement.product_id),
            "seats": counts.as_dict(),
            **(extra or {}),
        },
    )


def _host(prefix: str, n: int) -> tuple[str, str]:
    """A client's fingerprint and label: `acme-ws-0042`, `ACME-WS-0042 (Maya)`."""
    name = _FIRST_NAMES[(n * 7) % len(_FIRST_NAMES)]
    return f"{prefix}-{n:04d}", f"{prefix.upper()}-{n:04d} ({name})"


def simulate(
    entitlement: Entitlement,
    spec: CustomerSpec,
    *,
    end: datetime,
    now: datetime,
    rng: random.Random,
) -> History:
    """Hour by hour from zero seats: early releases, activations up to the hour's demand
    (denied past the hard limit), then releases down to where the next hour begins.

    Each hour with a seat change gets a bucket; transitions are detected on the same counter
    values the services would have seen. `end` is the start of the first hour not simulated.
    """
    demand = spec.demand
    base = (entitlement.seats, entitlement.hard_limit)
    raised_from = (
        None
        if spec.temporary_raise is None
        else end - timedelta(days=spec.temporary_raise.days_ago)
    )
    seats, hard_limit = base

    def counts(used: int) -> SeatCounts:
        return SeatCounts(used, seats, hard_limit)

    hours = [end - timedelta(hours=h) for h in range(demand.days * 24, 0, -1)]
    offset = _local_offset(hours[-1])
    wanted = _demand_series(demand, [*hours, end], offset, rng)
    pool_size = round(max(demand.peak_end * 1.5, seats * 1.3))

    buckets: list[UsageBucket] = []
    events: list[Event] = []
    closings: list[int] = []
    level = 0
    for i, hour in enumerate(hours):
        if hour == raised_from and spec.temporary_raise is not None:
            # The raise starts on the hour: the zone changes it causes, as entitlement_update
            # writes them (licensing.services.raises).
            before = counts(level)
            seats, hard_limit = spec.temporary_raise.lines(*base)
            for crossed_event in transitions(before, counts(level)):
                events.append(_event(entitlement, Event.Type(crossed_event), hour, level))
        cap = hard_limit if hard_limit is not None else math.inf
        busy = _WORKDAY[(hour + offset).hour]
        start = level
        # Phase 1, minutes 0-10: some people close the application. Kept inside the zone the
        # hour began in, so a level hovering just above the line does not flap every hour; and
        # nobody lets go of a seat while the entitlement is full and others are queueing.
        churn = max(0, round(rng.gauss(0, 1) + start * (0.01 + 0.05 * busy)))
        if in_overdraft(start, seats):
            churn = min(churn, start - seats - 1)
        if counts(start).at_hard_limit and wanted[i] >= cap:
            churn = 0
        low = start - churn
        # Phase 2, minutes 10-35: activations up to this hour's demand, at most the hard limit.
        returning = round(churn * rng.uniform(0.3, 1.0))
        high = int(min(cap, max(wanted[i], low + returning)))
        activations = high - low
        crossed = transitions(counts(low), counts(high))
        if Event.Type.OVERDRAFT_STARTED in crossed:
            step = seats + 1 - low
            moment = _moment(
                hour, 10 + 25 * (step - 1) / activations, 10 + 25 * step / activations, rng
            )
            events.append(_event(entitlement, Event.Type.OVERDRAFT_STARTED, moment, seats + 1))
        if Event.Type.HARD_LIMIT_REACHED in crossed:
            events.append(
                _event(entitlement, Event.Type.HARD_LIMIT_REACHED, _moment(hour, 34, 35, rng), high)
            )
        # Minutes 35-50: at the hard limit, everyone else is denied, and some retry.
        excess = wanted[i] - high if counts(high).at_hard_limit else 0
        denials = excess + rng.randint(0, excess) if excess > 0 else 0
        for moment in sorted(_moment(hour, 35, 50, rng) for _ in range(denials)):
            fingerprint, label = _host(spec.host_prefix, rng.randrange(pool_size))
            events.append(
                _event(
                    entitlement,
                    Event.Type.SEAT_DENIED,
                    moment,
                    high,
                    {"fingerprint": fingerprint, "label": label},
                )
            )
        # Phase 3, minutes 50-60: releases down to the level the next hour starts from.
        closing = min(high, round((wanted[i] + wanted[i + 1]) / 2))
        if Event.Type.OVERDRAFT_ENDED in transitions(counts(high), counts(closing)):
            events.append(
                _event(entitlement, Event.Type.OVERDRAFT_ENDED, _moment(hour, 50, 60, rng), seats)
            )
        releases = churn + high - closing
        level = closing
        closings.append(closing)
        if activations or releases or denials:
            buckets.append(
                UsageBucket(
                    entitlement_id=entitlement.pk,
                    hour=hour,
                    peak_used=max(start, high),
                    closing_used=closing,
                    activations=activations,
                    overdraft_activations=max(0, high - max(low, seats)),
                    denials=denials,
                    releases=releases,
                )
            )
    in_use = _seats_in_use(entitlement, spec, hours, closings, end, now, pool_size, rng)
    if raised_from is not None:  # a seat is judged by the lines of its activation
        for n, seat in enumerate(in_use):
            seats_then = seats if seat.activated_at >= raised_from else base[0]
            seat.overdraft = in_overdraft(n + 1, seats_then)
    # A client that holds a seat is never denied (it gets its seat back): denials after a seat's
    # activation go to clients that never got one.
    held_since = {seat.fingerprint: seat.activated_at for seat in in_use}
    for event in events:
        fingerprint = event.data.get("fingerprint")
        if fingerprint in held_since and held_since[fingerprint] <= event.occurred_at:
            number = pool_size + rng.randrange(pool_size // 10 + 1)
            event.data["fingerprint"], event.data["label"] = _host(spec.host_prefix, number)
    return History(buckets=buckets, events=events, level=level, seats=in_use)


def _seats_in_use(
    entitlement: Entitlement,
    spec: CustomerSpec,
    hours: list[datetime],
    closings: list[int],
    end: datetime,
    now: datetime,
    pool_size: int,
    rng: random.Random,
) -> list[Seat]:
    """The seats held at the end: the day's quietest level held since before it, the rest
    activated since; those beyond the entitled seats, in order of activation, are overdraft."""
    level = closings[-1]
    recent = closings[-24:]
    quiet = min(recent)
    quiet_hour = hours[len(hours) - len(recent) + recent.index(quiet)]
    times = sorted(
        [quiet_hour - timedelta(seconds=rng.uniform(0, 14 * 86400)) for _ in range(quiet)]
        + [
            _moment(
                quiet_hour + timedelta(hours=1),
                0,
                (end - quiet_hour).total_seconds() / 60 - 60,
                rng,
            )
            for _ in range(level - quiet)
        ]
    )
    seats = []
    for n, (number, activated_at) in enumerate(
        zip(rng.sample(range(pool_size), level), times, strict=True)
    ):
        fingerprint, label = _host(spec.host_prefix, number)
        heartbeat = activated_at
        lease_expires_at = None
        if entitlement.lease_seconds is not None:
            heartbeat = now - timedelta(seconds=rng.uniform(0, entitlement.lease_seconds / 2))
            lease_expires_at = heartbeat + timedelta(seconds=entitlement.lease_seconds)
        seats.append(
            Seat(
                entitlement_id=entitlement.pk,
                fingerprint=fingerprint,
                label=label,
                activated_at=activated_at,
                last_heartbeat_at=heartbeat,
                lease_expires_at=lease_expires_at,
                overdraft=in_overdraft(n + 1, entitlement.seats),
            )
        )
    return seats


# --- loading ----------------------------------------------------------------------------------


def _demo_user(email: str, name: str, password_hash: str, *, staff: bool = False) -> Any:
    # An existing user keeps their password and flags: the demo adds, never overwrites.
    user, _ = get_user_model().objects.get_or_create(
        email=email,
        defaults={
            "name": name,
            "is_staff": staff,
            "is_superuser": staff,
            "password": password_hash,
        },
    )
    if apps.is_installed("allauth.account"):
        from allauth.account.models import EmailAddress

        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
    return user


def _load_customer(
    spec: CustomerSpec,
    *,
    account_manager: Any,
    products: dict[str, Product],
    password_hash: str,
    now: datetime,
    summary: Summary,
) -> None:
    rng = random.Random(f"{SEED}-{spec.slug}")
    end = now.replace(minute=0, second=0, microsecond=0)
    begins = end - timedelta(days=spec.demand.days)
    with transaction.atomic():
        customer = services.customer_create(name=spec.name, account_manager=account_manager)
        for email, name, role in spec.users:
            user = _demo_user(email, name, password_hash)
            Membership.objects.get_or_create(user=user, customer=customer, defaults={"role": role})
        entitlement = services.entitlement_create(
            customer=customer,
            product=products[spec.product_code],
            seats=spec.seats,
            hard_limit=spec.hard_limit,
            lease_seconds=spec.lease_seconds,
            starts_at=begins,
            ends_at=begins + timedelta(days=365),
            free_overdraft_seat_hours=spec.free_overdraft_seat_hours,
        )
        history = simulate(entitlement, spec, end=end, now=now, rng=rng)
        # The sanctioned exception (see the module docstring): history written directly.
        UsageBucket.objects.bulk_create(history.buckets, batch_size=1000)
        Event.objects.bulk_create(history.events, batch_size=1000)
        Seat.objects.bulk_create(history.seats, batch_size=1000)
        Event.objects.filter(entitlement=entitlement, type=Event.Type.ENTITLEMENT_CREATED).update(
            occurred_at=begins
        )
        EntitlementTerms.objects.filter(entitlement=entitlement).update(effective_from=begins)
        Customer.objects.filter(pk=customer.pk).update(created_at=begins)
        if spec.temporary_raise is not None:
            # Before the counter is set: the zone changes of the start are in the history.
            _start_raise(entitlement, spec.temporary_raise, history, end=end, now=now)
        Entitlement.objects.filter(pk=entitlement.pk).update(
            seats_used=history.level, created_at=begins, updated_at=begins
        )
        first = Membership.objects.filter(customer=customer).order_by("pk").first()
        actor = services.Actor.of(first.user) if first else services.SYSTEM
        if spec.customer_cap is not None:
            services.entitlement_set_customer_cap(
                entitlement=entitlement, customer_cap=spec.customer_cap, actor=actor
            )
        if spec.expansion_request is not None:
            entitlement.refresh_from_db()
            seats, message = spec.expansion_request
            services.expansion_request(
                entitlement=entitlement, seats=seats, message=message, actor=actor
            )
        summary.statements += _issue_statements(entitlement, now=now)
    summary.created_customers.append(spec.name)
    summary.buckets += len(history.buckets)
    summary.denials += sum(bucket.denials for bucket in history.buckets)
    summary.license_keys[spec.name] = entitlement.license_key


def _issue_statements(entitlement: Entitlement, *, now: datetime) -> int:
    """Every closed month's statement, issued through the service and dated as the hourly job
    would have issued it (within the hour after the period closed). They were announced then:
    their `statement.issued` events are marked dispatched, so loading the demo sends no
    emails or webhooks about them."""
    anchor = billing.anchor_of(entitlement.starts_at)
    periods = billing.closed_periods(
        anchor, entitlement.billing_period, until=now - services_billing.SETTLE
    )
    for period in periods:
        statement = services.statement_issue(entitlement=entitlement, period=period)
        issued = period.end + services_billing.SETTLE
        Statement.objects.filter(pk=statement.pk).update(issued_at=issued)
        Event.objects.filter(
            type=Event.Type.STATEMENT_ISSUED, data__statement_id=str(statement.pk)
        ).update(occurred_at=issued, dispatched_at=now)
    return len(periods)


def _start_raise(
    entitlement: Entitlement, demo: DemoRaise, history: History, *, end: datetime, now: datetime
) -> None:
    """Grant the raise through the service (its rows, events and audit entries, started at
    once), then date its start back to the hour the history raised the lines at, with the
    seats in use then."""
    started = end - timedelta(days=demo.days_ago)
    used = next((b.closing_used for b in reversed(history.buckets) if b.hour < started), 0)
    granted = services.raise_grant(
        entitlement=Entitlement.objects.get(pk=entitlement.pk),
        extra_seats=demo.extra_seats,
        extra_hard_limit=demo.extra_hard_limit,
        # From the later of the demo's "now" and the clock's, so a demo built for a past
        # moment (the tests) still grants a raise that ends in the future.
        ends_at=max(now, timezone.now()) + timedelta(days=demo.ends_in),
        reason=demo.reason,
    )
    TemporaryRaise.objects.filter(pk=granted.pk).update(
        starts_at=started, started_at=started, created_at=started - timedelta(days=1)
    )
    EntitlementTerms.objects.filter(entitlement=entitlement, effective_from__gte=now).update(
        effective_from=started
    )
    for event in Event.objects.filter(
        entitlement=entitlement,
        type__in=[Event.Type.ENTITLEMENT_UPDATED, Event.Type.RAISE_STARTED],
        occurred_at__gte=now,
    ):
        terms = event.data["seats"]
        event.data["seats"] = SeatCounts(
            used, terms["entitled"], terms["hard_limit"], terms["customer_cap"]
        ).as_dict()
        if event.type == Event.Type.RAISE_STARTED:
            event.data["starts_at"] = started.isoformat()
        event.occurred_at = started
        event.save(update_fields=["data", "occurred_at"])
    AuditEntry.objects.filter(
        target_id__in=[str(granted.pk), str(entitlement.pk)],
        action__in=[AuditEntry.Action.RAISE_GRANTED, AuditEntry.Action.RAISE_STARTED],
    ).update(occurred_at=started)


def _remove_customer(customer: Customer) -> None:
    with transaction.atomic():
        # Entitlements protect their customer; their seats, events and buckets go with them.
        Entitlement.objects.filter(customer=customer).delete()
        customer.delete()


def load(*, now: datetime | None = None, reset: bool = False) -> Summary:
    """Create the demo data; customers that already exist are kept (or rebuilt with `reset`)."""
    now = now or timezone.now()
    summary = Summary()
    password_hash = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
    account_manager = _demo_user(ACCOUNT_MANAGER_EMAIL, "Avery Manager", password_hash, staff=True)
    products = {}
    for name, code in PRODUCTS:
        product = Product.objects.filter(code=code).first()
        products[code] = product or services.product_create(name=name, code=code)
    for spec in CUSTOMERS:
        existing = Customer.objects.filter(slug=spec.slug).first()
        if existing is not None and reset:
            _remove_customer(existing)
            existing = None
        if existing is None:
            _load_customer(
                spec,
                account_manager=account_manager,
                products=products,
                password_hash=password_hash,
                now=now,
                summary=summary,
            )
        else:
            summary.kept_customers.append(spec.name)
            entitlement = existing.entitlements.order_by("created_at").first()
            if entitlement is not None:
                summary.license_keys[spec.name] = entitlement.license_key
    # The days of history just written, rolled up as the hourly job would have (UsageDay).
    services.usage_rollups_refresh(now=now)
    summary.logins.append(
        Login(ACCOUNT_MANAGER_EMAIL, "vendor account manager (staff; superuser for /admin/)")
    )
    for spec in CUSTOMERS:
        for email, _name, role in spec.users:
            summary.logins.append(Login(email, f"{spec.name} {role}"))
    return summary
