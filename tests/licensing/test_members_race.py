"""Two admins demoted or removed at once, on PostgreSQL with real threads: one admin stays."""

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from licensing import services
from licensing.models import AuditEntry, Customer, Membership
from portal.models import User
from tests.licensing.test_activation_race import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LAST_ADMIN = "Acme Corp needs at least one admin: make someone else an admin first."


@pytest.fixture
def two_admins(customer: Customer) -> list[Membership]:
    return [
        Membership.objects.create(
            user=User.objects.create_user(f"admin{n}@acme.test"),
            customer=customer,
            role=Membership.Role.ADMIN,
        )
        for n in (1, 2)
    ]


def _race(jobs: list[Callable[[], Any]]) -> list[Any]:
    results = run_together([[job] for job in jobs])
    refused = [r for r in results if isinstance(r, ValidationError)]
    others = [r for r in results if isinstance(r, Exception) and not isinstance(r, ValidationError)]
    assert others == []
    assert [error.messages for error in refused] == [[LAST_ADMIN]]
    return results


@pytest.mark.parametrize("attempt", range(5))
def test_two_admins_demoted_at_once_leave_one_admin(
    attempt: int, customer: Customer, two_admins: list[Membership]
) -> None:
    _race(
        [
            partial(services.membership_set_role, membership=membership, role="viewer")
            for membership in two_admins
        ]
    )

    roles = sorted(Membership.objects.filter(customer=customer).values_list("role", flat=True))
    assert roles == ["admin", "viewer"]
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_ROLE_CHANGED).count() == 1


@pytest.mark.parametrize("attempt", range(5))
def test_two_admins_removed_at_once_leave_one_admin(
    attempt: int, customer: Customer, two_admins: list[Membership]
) -> None:
    _race([partial(services.membership_remove, membership=membership) for membership in two_admins])

    roles = list(Membership.objects.filter(customer=customer).values_list("role", flat=True))
    assert roles == ["admin"]
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_REMOVED).count() == 1


@pytest.mark.parametrize("attempt", range(5))
def test_one_admin_demoted_while_the_other_is_removed_leaves_one_admin(
    attempt: int, customer: Customer, two_admins: list[Membership]
) -> None:
    first, second = two_admins
    _race(
        [
            partial(services.membership_set_role, membership=first, role="viewer"),
            partial(services.membership_remove, membership=second),
        ]
    )

    admins = Membership.objects.filter(customer=customer, role=Membership.Role.ADMIN).count()
    assert admins == 1
