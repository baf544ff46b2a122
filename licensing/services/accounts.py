"""Customers, products and memberships."""

from __future__ import annotations

from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils.text import slugify

from licensing.models import AuditEntry, Customer, Membership, Product
from licensing.services.audit import SYSTEM, Actor, audit_record

# Creates of one name that race each find the same free slug; each loser takes the next one.
# Every loss is another create's win, so this many concurrent creates of one name all succeed.
SLUG_ATTEMPTS: Final = 20

# The first key of the advisory locks that serialise creates of one customer name.
_CUSTOMER_NAME_LOCKS: Final = 0x6375  # "cu"


def _unique_slug(model: type[Customer] | type[Product], field: str, name: str) -> str:
    base = slugify(name)[:90] or "item"
    slug, n = base, 2
    while model.objects.filter(**{field: slug}).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _insert_with_slug(obj: Customer | Product, field: str, name: str, given: str = "") -> None:
    """Insert `obj` with the slug `given`, or else the first free slug of `name`, in `field`.

    Between looking for a free slug and inserting, a concurrent create may take it: the unique
    constraint refuses the insert (in a savepoint, so a caller's transaction carries on) and a
    generated slug is looked for again. A given slug that is taken is the ValidationError
    `full_clean` gives when it is taken beforehand.
    """
    model = type(obj)
    setattr(obj, field, given)
    # The database judges a generated slug's uniqueness: checking here would only race again.
    obj.full_clean(exclude=None if given else [field])
    for _ in range(SLUG_ATTEMPTS):
        slug = given or _unique_slug(model, field, name)
        setattr(obj, field, slug)
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            # Read committed: the row that won is visible now. Anything else is not ours.
            if not model.objects.filter(**{field: slug}).exists():
                raise
            if given:
                raise ValidationError({field: obj.unique_error_message(model, (field,))}) from None
        else:
            return
    raise ValidationError(
        f"Too many {model._meta.verbose_name_plural} named “{name.strip()}” are being created"
        " at once; try again.",
        code="busy",
    )


def customer_create(*, name: str, account_manager: Any = None, actor: Actor = SYSTEM) -> Customer:
    """Create a customer; refused when another has the same name, ignoring case and spaces
    around it (names that only slugify alike are different customers with their own slugs)."""
    customer = Customer(name=name.strip(), account_manager=account_manager)
    with transaction.atomic():
        _lock_customer_name(customer.name)
        check_customer_name(customer.name)
        _insert_with_slug(customer, "slug", name)
        audit_record(action=AuditEntry.Action.CUSTOMER_CREATED, target=customer, actor=actor)
    return customer


def check_customer_name(name: str, *, exclude: Any = None) -> None:
    """Refuse a name another customer (not `exclude`) has, ignoring case and spaces around it."""
    others = Customer.objects.filter(name__iexact=name.strip())
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    taken = others.first()
    if taken is not None:
        raise ValidationError(
            {"name": [f"A customer named “{taken.name}” exists already."]}, code="unique"
        )


def _lock_customer_name(name: str) -> None:
    """Serialise creates of one name until commit, so that the check after it sees a
    concurrent create's committed row (read committed) instead of racing it.

    Rows made before the rule may repeat a name, so no unique index holds it (yet). The lock
    is PostgreSQL's transaction-level advisory lock, keyed by the name as `iexact` compares
    it (UPPER); SQLite (the demo) takes none.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(UPPER(%s)))", [_CUSTOMER_NAME_LOCKS, name]
        )


def product_create(*, name: str, code: str = "") -> Product:
    product = Product(name=name.strip())
    _insert_with_slug(product, "code", name, given=code)
    return product


def membership_join(*, user: Any, customer: Customer, role: str) -> Membership:
    """Make `user` a member of `customer` with `role`, or keep their membership; an admin
    role is never lowered (a viewer invited as admin becomes admin). In the caller's
    transaction (accepting an invitation)."""
    membership, created = Membership.objects.get_or_create(
        user=user, customer=customer, defaults={"role": role}
    )
    if not created and role == Membership.Role.ADMIN and membership.role != role:
        membership.role = Membership.Role.ADMIN
        membership.save(update_fields=["role"])
    return membership


def membership_set_role(*, membership: Membership, role: str, actor: Actor = SYSTEM) -> Membership:
    """Make a member an admin or a viewer; refused when it would leave the customer without
    an admin. Setting the role a member has already changes (and records) nothing."""
    if role not in Membership.Role.values:
        raise ValidationError(
            {"role": [f"“{role}” is not a role: choose admin or viewer."]}, code="invalid_choice"
        )
    with transaction.atomic():
        locked, admins = _lock_for_admin_change(membership)
        before = locked.role
        if before == role:
            return locked
        if before == Membership.Role.ADMIN:
            _refuse_last_admin(locked.customer, admins)
        locked.role = role
        locked.save(update_fields=["role"])
        audit_record(
            action=AuditEntry.Action.MEMBER_ROLE_CHANGED,
            target=locked,
            actor=actor,
            label=f"{locked.user.email} ({role})",
            changes={"role": [before, role]},
        )
    return locked


def membership_remove(*, membership: Membership, actor: Actor = SYSTEM) -> bool:
    """Take a member out of the customer; refused for its last admin. False (and nothing
    written) when they had left already."""
    with transaction.atomic():
        try:
            locked, admins = _lock_for_admin_change(membership)
        except Membership.DoesNotExist:
            return False
        if locked.role == Membership.Role.ADMIN:
            _refuse_last_admin(locked.customer, admins)
        audit_record(
            action=AuditEntry.Action.MEMBER_REMOVED,
            target=locked,
            actor=actor,
            label=f"{locked.user.email} ({locked.role})",
            changes={"role": [locked.role, None]},
        )
        Membership.objects.filter(pk=locked.pk).delete()
    return True


def _lock_for_admin_change(membership: Membership) -> tuple[Membership, int]:
    """Lock the customer's admin memberships and `membership` until commit (one statement, in
    pk order), so that changes to its last two admins are judged one after the other: the
    second sees the first's and leaves one admin.

    Returns `membership` as locked and how many admins the customer has; raises
    Membership.DoesNotExist when it is gone.
    """
    rows = list(
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "customer")
        .filter(
            Q(role=Membership.Role.ADMIN) | Q(pk=membership.pk),
            customer_id=membership.customer_id,
        )
        .order_by("pk")
    )
    locked = next((row for row in rows if row.pk == membership.pk), None)
    if locked is None:
        raise Membership.DoesNotExist("The member has left already.")
    return locked, sum(row.role == Membership.Role.ADMIN for row in rows)


def _refuse_last_admin(customer: Customer, admins: int) -> None:
    if admins <= 1:
        raise ValidationError(
            f"{customer.name} needs at least one admin: make someone else an admin first.",
            code="last_admin",
        )


def membership_set_notifications(
    *,
    membership: Membership,
    notify_overdraft: bool,
    notify_denials: bool,
    notify_statements: bool,
) -> Membership:
    """Turn a member's overdraft, denial and statement emails on or off."""
    membership.notify_overdraft = notify_overdraft
    membership.notify_denials = notify_denials
    membership.notify_statements = notify_statements
    membership.save(update_fields=["notify_overdraft", "notify_denials", "notify_statements"])
    return membership
