"""Changing members' roles and removing members: audited, and never the customer's last admin."""

import pytest
from django.core.exceptions import ValidationError

from licensing import services
from licensing.models import AuditEntry, Customer, Membership
from portal.models import User
from tests.conftest import PASSWORD

LAST_ADMIN = "Acme Corp needs at least one admin: make someone else an admin first."


@pytest.fixture
def second_admin(customer: Customer) -> User:
    user = User.objects.create_user("second@acme.test", PASSWORD)
    Membership.objects.create(user=user, customer=customer, role=Membership.Role.ADMIN)
    return user


def _membership(user: User) -> Membership:
    return Membership.objects.get(user=user)


def test_demoting_the_last_admin_is_refused(customer_admin: User, viewer: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.membership_set_role(
            membership=_membership(customer_admin),
            role="viewer",
            actor=services.Actor.of(customer_admin),
        )

    assert error.value.messages == [LAST_ADMIN]
    assert _membership(customer_admin).role == "admin"
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_ROLE_CHANGED).exists()


def test_removing_the_last_admin_is_refused(customer_admin: User, viewer: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.membership_remove(
            membership=_membership(customer_admin), actor=services.Actor.of(customer_admin)
        )

    assert error.value.messages == [LAST_ADMIN]
    assert _membership(customer_admin).role == "admin"
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_REMOVED).exists()


def test_an_admin_of_another_customer_does_not_count(customer_admin: User, outsider: User) -> None:
    with pytest.raises(ValidationError):
        services.membership_set_role(membership=_membership(customer_admin), role="viewer")


def test_promoting_a_viewer_is_audited_with_who_and_both_roles(
    customer: Customer, customer_admin: User, viewer: User
) -> None:
    membership = services.membership_set_role(
        membership=_membership(viewer),
        role="admin",
        actor=services.Actor.of(customer_admin, ip="203.0.113.9"),
    )

    assert membership.role == "admin"
    assert _membership(viewer).role == "admin"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_ROLE_CHANGED)
    assert entry.actor == customer_admin
    assert entry.actor_label == "admin@acme.test"
    assert entry.ip == "203.0.113.9"
    assert entry.customer == customer
    assert entry.target_type == "membership"
    assert entry.target_id == str(membership.pk)
    assert entry.target_label == "viewer@acme.test (admin)"
    assert entry.changes == {"role": ["viewer", "admin"]}


def test_one_of_two_admins_may_be_demoted(customer_admin: User, second_admin: User) -> None:
    services.membership_set_role(membership=_membership(second_admin), role="viewer")

    assert _membership(second_admin).role == "viewer"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_ROLE_CHANGED)
    assert entry.actor_label == "system"
    assert entry.changes == {"role": ["admin", "viewer"]}


def test_setting_the_role_a_member_has_writes_nothing(customer_admin: User, viewer: User) -> None:
    membership = services.membership_set_role(membership=_membership(viewer), role="viewer")
    services.membership_set_role(membership=_membership(customer_admin), role="admin")

    assert membership.role == "viewer"
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_ROLE_CHANGED).exists()


def test_an_unknown_role_is_refused(customer_admin: User, viewer: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.membership_set_role(membership=_membership(viewer), role="owner")

    assert error.value.message_dict == {"role": ["“owner” is not a role: choose admin or viewer."]}
    assert _membership(viewer).role == "viewer"


def test_removing_a_member_deletes_the_membership_and_audits_it(
    customer: Customer, customer_admin: User, viewer: User
) -> None:
    membership = _membership(viewer)

    removed = services.membership_remove(
        membership=membership, actor=services.Actor.of(customer_admin)
    )

    assert removed is True
    assert not Membership.objects.filter(user=viewer).exists()
    assert User.objects.filter(pk=viewer.pk).exists()  # the account stays
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_REMOVED)
    assert entry.actor == customer_admin
    assert entry.customer == customer
    assert entry.target_id == str(membership.pk)
    assert entry.target_label == "viewer@acme.test (viewer)"
    assert entry.changes == {"role": ["viewer", None]}


def test_one_of_two_admins_may_be_removed(customer_admin: User, second_admin: User) -> None:
    assert services.membership_remove(membership=_membership(second_admin)) is True

    assert list(Membership.objects.values_list("user__email", "role")) == [
        ("admin@acme.test", "admin")
    ]


def test_removing_a_member_who_left_already_writes_nothing(viewer: User) -> None:
    membership = _membership(viewer)
    services.membership_remove(membership=membership)

    assert services.membership_remove(membership=membership) is False
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_REMOVED).count() == 1
