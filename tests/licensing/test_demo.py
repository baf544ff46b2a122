"""`manage.py demo`: idempotent, and its history is what the services would have written."""

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Model, Sum

from licensing import demo, selectors, services, signing
from licensing.models import (
    AuditEntry,
    Customer,
    Entitlement,
    Event,
    ExpansionRequest,
    Membership,
    Product,
    Seat,
    UsageBucket,
)
from portal.models import User

# A Wednesday afternoon, so the deterministic history ends on a busy working day.
WEDNESDAY = datetime(2026, 3, 11, 14, 20, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Demo and test users need hashes, not slow ones."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def table_counts() -> dict[str, int]:
    models: list[type[Model]] = [
        User,
        Customer,
        Membership,
        Product,
        Entitlement,
        Seat,
        Event,
        UsageBucket,
    ]
    return {model.__name__: model._default_manager.count() for model in models}


def acme() -> Entitlement:
    return Entitlement.objects.get(customer__slug="acme-corp")


def test_running_demo_twice_changes_nothing_the_second_time():
    run_demo()
    first = table_counts()
    output = run_demo()
    assert table_counts() == first
    assert first["Customer"] == len(demo.CUSTOMERS)
    assert first["Entitlement"] == len(demo.CUSTOMERS)
    assert "Kept existing demo customers" in output


def test_demo_prints_the_logins_password_and_license_key():
    output = run_demo()
    for email in ["am@vendor.example", "admin@acme.example", "viewer@acme.example"]:
        assert email in output
    assert demo.DEMO_PASSWORD in output
    assert acme().license_key in output
    assert "http://127.0.0.1:8000/" in output


def test_demo_users_can_log_in_with_the_demo_password(client):
    run_demo()
    response = client.post(
        "/accounts/login/", {"login": "admin@acme.example", "password": demo.DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").wsgi_request.user.email == "admin@acme.example"
    account_manager = User.objects.get(email="am@vendor.example")
    assert account_manager.is_staff
    assert set(Customer.objects.values_list("account_manager", flat=True)) == {account_manager.pk}
    roles = dict(
        Membership.objects.filter(customer__slug="acme-corp").values_list("user__email", "role")
    )
    assert roles == {"admin@acme.example": "admin", "viewer@acme.example": "viewer"}


def test_acme_history_covers_six_months_growing_into_overdraft_and_denials():
    demo.load(now=WEDNESDAY)
    entitlement = acme()
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)
    buckets = list(entitlement.usage_buckets.order_by("hour"))
    assert buckets[-1].hour - buckets[0].hour >= timedelta(days=179)
    assert buckets[-1].hour == WEDNESDAY.replace(minute=0) - timedelta(hours=1)

    first_month = [b.peak_used for b in buckets if b.hour < buckets[0].hour + timedelta(days=30)]
    assert 50 <= max(first_month) <= 80
    peak_by_day: dict[date, int] = {}
    for bucket in buckets:
        day = bucket.hour.date()
        peak_by_day[day] = max(peak_by_day.get(day, 0), bucket.peak_used)
    last_two_months = [
        peak for day, peak in peak_by_day.items() if day > (WEDNESDAY - timedelta(days=60)).date()
    ]
    assert sum(peak > 100 for peak in last_two_months) >= len(last_two_months) / 2
    capped = [b for b in buckets if b.peak_used == 120 and b.denials]
    assert len({b.hour.date() for b in capped}) >= 5
    assert all(b.peak_used == 120 for b in buckets if b.denials)
    assert max(b.peak_used for b in buckets) == 120


def test_buckets_chain_and_agree_with_the_events():
    demo.load(now=WEDNESDAY)
    for entitlement in Entitlement.objects.all():
        buckets = list(entitlement.usage_buckets.order_by("hour"))
        level = 0
        for bucket in buckets:
            assert bucket.closing_used == level + bucket.activations - bucket.releases, bucket
            assert bucket.peak_used >= max(level, bucket.closing_used)
            assert bucket.overdraft_activations <= bucket.activations
            if entitlement.hard_limit is not None:
                assert bucket.peak_used <= entitlement.hard_limit
            level = bucket.closing_used

        denials = Counter(
            moment.replace(minute=0, second=0, microsecond=0)
            for moment in entitlement.events.filter(type=Event.Type.SEAT_DENIED).values_list(
                "occurred_at", flat=True
            )
        )
        assert denials == Counter({b.hour: b.denials for b in buckets if b.denials})

        started = entitlement.events.filter(type=Event.Type.OVERDRAFT_STARTED).count()
        ended = entitlement.events.filter(type=Event.Type.OVERDRAFT_ENDED).count()
        in_overdraft_now = entitlement.seats_used > entitlement.seats
        assert started - ended == int(in_overdraft_now)


def test_seat_denied_events_look_like_the_ones_services_write():
    demo.load(now=WEDNESDAY)
    entitlement = acme()
    total = entitlement.usage_buckets.aggregate(total=Sum("denials"))["total"]
    denied = entitlement.events.filter(type=Event.Type.SEAT_DENIED)
    assert total > 0
    assert denied.count() == total
    event = denied.first()
    assert event is not None
    assert event.customer_id == entitlement.customer_id
    assert event.dispatched_at is not None  # history is not fanned out again as webhooks
    assert event.data["fingerprint"].startswith("acme-ws-")
    assert event.data["seats"] == {
        "used": 120,
        "entitled": 100,
        "hard_limit": 120,
        "customer_cap": None,
        "available": 0,
    }
    assert entitlement.events.filter(type=Event.Type.HARD_LIMIT_REACHED).exists()


def test_current_seats_match_the_last_bucket():
    demo.load(now=WEDNESDAY)
    for entitlement in Entitlement.objects.all():
        last = entitlement.usage_buckets.order_by("hour").last()
        assert last is not None
        in_use = entitlement.seat_records.filter(released_at__isnull=True)
        assert entitlement.seats_used == in_use.count() == last.closing_used
        overdraft = max(0, entitlement.seats_used - entitlement.seats)
        assert in_use.filter(overdraft=True).count() == overdraft
        assert not in_use.filter(activated_at__gte=last.hour + timedelta(hours=1)).exists()
    entitlement = acme()
    assert 100 < entitlement.seats_used <= 120  # a Wednesday afternoon: in overdraft


def test_floating_demo_seats_hold_live_leases():
    demo.load(now=WEDNESDAY)
    umbrella = Entitlement.objects.get(customer__slug="umbrella")
    assert umbrella.lease_seconds == 900
    seats = umbrella.seat_records.filter(released_at__isnull=True)
    assert seats.exists()
    assert all(seat.lease_expires_at and seat.lease_expires_at > WEDNESDAY for seat in seats)


def test_globex_has_capped_its_entitlement_at_55():
    demo.load(now=WEDNESDAY)

    globex = Entitlement.objects.get(customer__slug="globex")

    assert (globex.seats, globex.hard_limit, globex.customer_cap) == (50, 60, 55)
    audit = AuditEntry.objects.get(action=AuditEntry.Action.CUSTOMER_CAP_CHANGED)
    assert audit.actor is not None
    assert (audit.actor.email, audit.changes) == (
        "admin@globex.example",
        {"customer_cap": [None, 55]},
    )
    assert Entitlement.objects.exclude(pk=globex.pk).filter(customer_cap__isnull=False).count() == 0


def test_reset_rebuilds_the_demo_customers():
    demo.load(now=WEDNESDAY)
    old_key = acme().license_key
    run_demo("--reset")
    assert acme().license_key != old_key
    assert Customer.objects.count() == len(demo.CUSTOMERS)
    assert Entitlement.objects.count() == len(demo.CUSTOMERS)


def test_no_client_is_denied_while_it_holds_a_seat():
    demo.load(now=WEDNESDAY)
    for entitlement in Entitlement.objects.all():
        held_since = dict(
            entitlement.seat_records.filter(released_at__isnull=True).values_list(
                "fingerprint", "activated_at"
            )
        )
        for occurred_at, data in entitlement.events.filter(type=Event.Type.SEAT_DENIED).values_list(
            "occurred_at", "data"
        ):
            since = held_since.get(data["fingerprint"])
            assert since is None or since > occurred_at


def _thirty_days(client, entitlement: Entitlement):
    page = client.get(f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/?range=30d")
    assert page.status_code == 200
    return page.context["figures"], page.context["note"]


def test_chart_note_and_leads_agree_on_every_demo_customer(client):
    with time_machine.travel(WEDNESDAY, tick=False):
        demo.load(now=WEDNESDAY)
        client.force_login(User.objects.get(email="am@vendor.example"))
        leads = {lead.entitlement_id: lead for lead in selectors.expansion_leads()}
        listed = client.get("/team/leads/").content.decode()
        for entitlement in Entitlement.objects.select_related("customer"):
            figures, note = _thirty_days(client, entitlement)
            if figures.overdraft_seat_hours or figures.denials:
                lead = leads[entitlement.pk]
                assert lead.capacity == figures, entitlement.customer.name
                if figures.recommended:
                    assert f"consider {figures.recommended} seats" in note
                    assert f"+{figures.recommended - entitlement.seats}" in listed
            else:
                assert entitlement.pk not in leads
    # Acme (denials), Initech (overdraft, no hard limit) and Umbrella (at its limit) are leads.
    assert len(leads) == 3


def test_an_expansion_does_not_rewrite_acmes_history(client):
    """Raising Acme to 130/150 leaves every past hour judged by 100/120; the recommendation
    is made against the new seats."""
    with time_machine.travel(WEDNESDAY, tick=False):
        demo.load(now=WEDNESDAY)
        client.force_login(User.objects.get(email="am@vendor.example"))
        before, _ = _thirty_days(client, acme())
        assert before.overdraft_hours > 0 and before.denials > 0
        now = selectors.usage_series(acme(), start=WEDNESDAY, end=WEDNESDAY + timedelta(hours=1))
        services.entitlement_update(entitlement=acme(), seats=130, hard_limit=150)
        after, note = _thirty_days(client, acme())
        (lead,) = [lead for lead in selectors.expansion_leads() if lead.entitlement_id == acme().pk]
    figures = ("peak", "p95_daily_peak", "denials")
    assert [getattr(after, name) for name in figures] == [getattr(before, name) for name in figures]
    # Every past hour keeps its verdict; only the current hour, the hour of the change, is
    # judged by the more generous of its two terms (130) and leaves overdraft.
    (current,) = now
    assert current.partial and current.overdraft_hours == 1
    assert after.overdraft_hours == before.overdraft_hours - 1
    assert after.overdraft_seat_hours == before.overdraft_seat_hours - current.overdraft_seat_hours
    assert lead.capacity == after
    assert after.recommended is None or after.recommended > 130
    assert f"{before.denials} denials" in note


def test_acme_has_asked_for_130_seats():
    demo.load(now=WEDNESDAY)

    request = ExpansionRequest.objects.get()

    assert request.entitlement == acme()
    assert (request.seats, request.hard_limit, request.status) == (130, 150, "open")
    assert request.requested_by is not None
    assert request.requested_by.email == "admin@acme.example"
    assert request.message == (
        "We keep hitting the limit at the end of each month. Could we move to 130 seats?"
    )
    assert (acme().seats, acme().hard_limit) == (100, 120)
    event = Event.objects.get(type=Event.Type.EXPANSION_REQUESTED)
    assert (event.data["requested_seats"], event.data["requested_by"]) == (
        130,
        "admin@acme.example",
    )
    (lead,) = [lead for lead in selectors.expansion_leads() if lead.entitlement_id == acme().pk]
    assert lead.requested_seats == 130


def test_initech_has_a_temporary_raise_running_since_six_days(client):
    with time_machine.travel(WEDNESDAY, tick=False):
        demo.load(now=WEDNESDAY)
        client.force_login(User.objects.get(email="am@vendor.example"))
        leads = client.get("/team/leads/").content.decode()

    initech = Entitlement.objects.get(customer__slug="initech")
    (raise_,) = initech.raises.all()
    started = WEDNESDAY.replace(minute=0) - timedelta(days=6)
    assert (raise_.status, raise_.extra_seats, raise_.reason) == ("running", 60, "year-end crunch")
    assert raise_.starts_at == raise_.started_at == started
    assert raise_.ends_at == WEDNESDAY + timedelta(days=24)
    assert f"incl. a raise of +60 until {raise_.ends_at.day} Apr" in leads
    assert (initech.seats, initech.hard_limit) == (260, None)
    assert [(t.effective_from, t.seats) for t in initech.terms_history.all()][1:] == [
        (started, 260)
    ]
    event = Event.objects.get(entitlement=initech, type=Event.Type.RAISE_STARTED)
    assert event.occurred_at == started
    assert event.data["starts_at"] == started.isoformat()
    # Hours since the start are judged by 260 seats; the hour before by 200.
    points = selectors.usage_series(
        initech, start=started - timedelta(hours=1), end=started + timedelta(hours=1)
    )
    assert [p.entitled for p in points] == [200, 260]


def test_every_customer_has_six_months_of_signed_statements():
    demo.load(now=WEDNESDAY)

    keyset = signing.jwks()
    for entitlement in Entitlement.objects.select_related("customer"):
        statements = list(entitlement.statements.order_by("period_start"))
        assert len(statements) >= 6, entitlement.customer.name
        for statement in statements:
            assert statement.period_end <= WEDNESDAY
            assert statement.issued_at > statement.period_end
            payload = signing.verify(statement.document, keyset)
            assert payload["customer"]["name"] == entitlement.customer.name
        # Consecutive months, from the start of the entitlement.
        assert statements[0].period_start == entitlement.starts_at.replace(minute=0)
        assert all(a.period_end == b.period_start for a, b in itertools.pairwise(statements))
    assert not Event.objects.filter(type=Event.Type.STATEMENT_ISSUED, dispatched_at=None)
    acme_last = acme().statements.order_by("-period_start").first()
    assert acme_last is not None and acme_last.billable_overdraft_seat_hours > 0
    # Acme's 200 free overdraft seat-hours a month come off each statement's bill.
    assert acme_last.billable_overdraft_seat_hours == acme_last.overdraft_seat_hours - 200
