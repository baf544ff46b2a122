"""Shared fixtures: personas, a 100/120 entitlement, and API clients."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Customer, Entitlement, Membership, Product
from portal.models import User

PASSWORD = "correct-horse-battery-staple"

# In CI a skipped test fails (tests/ci_skips.py).
pytest_plugins = ["tests.ci_skips"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` need DATABASE_URL to name a PostgreSQL server."""
    from django.db import connection

    on_postgres = connection.vendor == "postgresql"
    skip = pytest.mark.skip(reason="needs PostgreSQL: run scripts/test (sets DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
) -> Iterator[None]:
    """Under scripts/mutation each forked run takes its own test database (tests.mutation_slots)."""
    from tests import mutation_slots

    slots = mutation_slots.slots_from_environment()
    if not slots:
        yield
        return
    with mutation_slots.claimed(slots, Path("var") / "mutation-slots"):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """API throttle counters live in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _closed_breakers() -> None:
    """Circuit breakers are per process: one a test opened must not fail the next test."""
    from portal import cache
    from portal.postgres import base

    for breaker in [*cache._breakers.values(), *base._breakers.values()]:
        breaker.succeeded()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    """PBKDF2 costs most of a second per persona; tests need no real password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def product(db: Any) -> Product:
    return services.product_create(name="Design Studio")


@pytest.fixture
def account_manager(db: Any) -> User:
    return User.objects.create_user("am@vendor.test", PASSWORD, is_staff=True, name="Avery Manager")


@pytest.fixture
def customer(db: Any, account_manager: User) -> Customer:
    return services.customer_create(name="Acme Corp", account_manager=account_manager)


@pytest.fixture
def other_customer(db: Any) -> Customer:
    return services.customer_create(name="Globex")


@pytest.fixture
def customer_admin(customer: Customer) -> User:
    user = User.objects.create_user("admin@acme.test", PASSWORD, name="Ada Admin")
    Membership.objects.create(user=user, customer=customer, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def viewer(customer: Customer) -> User:
    user = User.objects.create_user("viewer@acme.test", PASSWORD, name="Vic Viewer")
    Membership.objects.create(user=user, customer=customer, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def outsider(other_customer: Customer) -> User:
    """An admin of another customer: must get 404 on everything of Acme's."""
    user = User.objects.create_user("admin@globex.test", PASSWORD, name="Otto Outsider")
    Membership.objects.create(user=user, customer=other_customer, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def make_entitlement(customer: Customer, product: Product) -> Callable[..., Entitlement]:
    def make(**kwargs: Any) -> Entitlement:
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("product", product)
        kwargs.setdefault("seats", 100)
        kwargs.setdefault("hard_limit", 120)
        return services.entitlement_create(**kwargs)

    return make


@pytest.fixture
def entitlement(make_entitlement: Callable[..., Entitlement]) -> Entitlement:
    """The 100/120 entitlement of the product story."""
    return make_entitlement()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def client_for(entitlement: Entitlement) -> APIClient:
    """An API client sending `entitlement`'s license key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    return client


@pytest.fixture
def license_client(entitlement: Entitlement) -> APIClient:
    return client_for(entitlement)


def record_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements `licensing.statements.run` executes from now on, in order: they go past
    Django's cursor, so `django_assert_num_queries` does not count them."""
    from licensing import statements

    ran: list[str] = []
    run = statements.run

    def recording_run(sql: str, params: dict[str, Any]) -> Any:
        ran.append(sql)
        return run(sql, params)

    monkeypatch.setattr(statements, "run", recording_run)
    return ran


def lapse(entitlement: Entitlement, frozen: Any) -> Entitlement:
    """Fill a floating entitlement of 3 seats with a 60 s lease (f-0, f-1, f-2), renew f-0
    30 s later, and move the clock until the other two leases ran out a second ago."""
    for n in range(3):
        services.seat_activate(entitlement=entitlement, fingerprint=f"f-{n}")
    frozen.shift(30)
    services.seat_activate(entitlement=entitlement, fingerprint="f-0")
    frozen.shift(31)
    return entitlement


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    """Time stands still at now until the test moves it."""
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


@pytest.fixture(autouse=True)
def _fresh_signing_caches() -> Iterator[None]:
    """Each test's database starts without keys: forget the key a process caches
    (licensing.signing)."""
    from licensing import signing

    signing._current = None
    yield
    signing._current = None


# --- statements of billing periods -------------------------------------------------------------

JAN_2026 = datetime(2026, 1, 1, tzinfo=UTC)
# When tests of the `billed` entitlement run: ten days into its second billing period.
BILLED_NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)


def _at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _seat_id(result: services.ActivationResult) -> Any:
    assert result.seat is not None, result.status
    return result.seat.pk


@pytest.fixture
def billed(make_entitlement: Callable[..., Entitlement]) -> Iterator[Entitlement]:
    """10 seats, hard limit 12, 5 free overdraft seat-hours a month, from 1 Jan 2026, with
    January's statement issued: 5 Jan 10:00-12:30 at 11 seats (3 overdraft seat-hours), 6 Jan
    09:00-10:10 at the limit of 12 (4 more, and one activation denied): 7 overdraft seat-hours,
    2 billable, peak 12. February so far: 3 Feb 09:00-10:30 at 11. The test runs with the clock
    standing at BILLED_NOW."""
    with time_machine.travel(JAN_2026, tick=False) as clock:
        entitlement = make_entitlement(
            seats=10, hard_limit=12, starts_at=JAN_2026, free_overdraft_seat_hours=5
        )
        clock.move_to(_at(5, 10))
        seats = [
            _seat_id(services.seat_activate(entitlement=entitlement, fingerprint=f"pc-{n}"))
            for n in range(11)
        ]
        clock.move_to(_at(5, 12, 30))
        services.seat_release(entitlement=entitlement, seat_id=seats.pop())
        clock.move_to(_at(6, 9))
        extra = [
            _seat_id(services.seat_activate(entitlement=entitlement, fingerprint=f"extra-{n}"))
            for n in range(2)
        ]
        clock.move_to(_at(6, 9, 5))
        denied = services.seat_activate(entitlement=entitlement, fingerprint="one-too-many")
        assert denied.status == "denied"
        clock.move_to(_at(6, 10, 10))
        for seat_id in extra:
            services.seat_release(entitlement=entitlement, seat_id=seat_id)
        clock.move_to(_at(1, 0, 20, month=2))
        assert services.statements_issue_due() == 1
        clock.move_to(_at(3, 9, month=2))
        late = _seat_id(services.seat_activate(entitlement=entitlement, fingerprint="late"))
        clock.move_to(_at(3, 10, 30, month=2))
        services.seat_release(entitlement=entitlement, seat_id=late)
        clock.move_to(BILLED_NOW)
        entitlement.refresh_from_db()
        yield entitlement
