"""Every write of single sign-on, each in its transaction with its audit entry: a connection
saved or removed, enforcement turned on or off, a sign-in (the person and their membership made
just in time, their role from the groups claim), a break-glass password sign-in granted."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from typing import Any, Final

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialApp
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import AuditEntry, Customer, Membership
from licensing.services import SYSTEM, Actor, audit_diff, audit_record, membership_set_role
from portal.models import SsoBreakGlass, SsoConnection, SsoDomain, User
from portal.sso import discovery, rules

_DOMAIN: Final = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_DOMAINS: Final = 20


def clean_domains(text: str, *, connection: SsoConnection | None = None) -> list[str]:
    """Email domains, one per line or comma-separated: each well formed, none of the vendor's
    staff domains, none another customer's."""
    domains = sorted({d.strip().lower().lstrip("@") for d in re.split(r"[\s,]+", text) if d})
    if not domains:
        raise ValidationError({"domains": ["Enter at least one email domain."]}, code="required")
    if len(domains) > MAX_DOMAINS:
        raise ValidationError({"domains": [f"At most {MAX_DOMAINS} domains."]}, code="max")
    errors = [
        f"“{d}” is not an email domain (e.g. acme.com)." for d in domains if not _DOMAIN.match(d)
    ]
    errors += [
        f"{d} is the vendor's own domain; its people sign in to /team/."
        for d in domains
        if d in rules.staff_domains()
    ]
    taken = SsoDomain.objects.filter(domain__in=domains).select_related("connection__customer")
    if connection is not None:
        taken = taken.exclude(connection=connection)
    errors += [f"{row.domain} signs in through another customer's provider." for row in taken]
    if errors:
        raise ValidationError({"domains": errors}, code="invalid")
    return domains


def connection_save(
    *,
    customer: Customer,
    issuer: str,
    client_id: str,
    secret: str = "",
    domains: str,
    default_role: str = Membership.Role.VIEWER,
    groups_claim: str = "groups",
    admin_group: str = "",
    actor: Actor = SYSTEM,
) -> SsoConnection:
    """Create or change `customer`'s connection. The provider's discovery document is fetched
    first: a wrong issuer is a ValidationError and nothing is written. An empty `secret`
    keeps the saved one."""
    connection = SsoConnection.objects.filter(customer=customer).select_related("app").first()
    issuer = issuer.strip()
    client_id = client_id.strip()
    if not client_id:
        raise ValidationError({"client_id": ["Enter the client id."]}, code="required")
    if not secret and connection is None:
        raise ValidationError({"secret": ["Enter the client secret."]}, code="required")
    if default_role not in Membership.Role.values:
        raise ValidationError({"default_role": ["Choose admin or viewer."]}, code="invalid")
    names = clean_domains(domains, connection=connection)
    discovery.fetch(issuer)
    with transaction.atomic():
        before = _snapshot(connection) if connection else {}
        app = connection.app if connection else SocialApp(provider="openid_connect")
        app.provider_id = rules.provider_id_for(customer)
        app.name = customer.name[:40]
        app.client_id = client_id
        if secret:
            app.secret = secret
        app.settings = {"server_url": issuer}
        app.save()
        if connection is None:
            connection = SsoConnection(customer=customer, app=app)
        connection.issuer = issuer
        connection.default_role = default_role
        connection.groups_claim = groups_claim.strip()
        connection.admin_group = admin_group.strip()
        connection.updated_at = timezone.now()
        connection.save()
        connection.domains.exclude(domain__in=names).delete()
        try:
            with transaction.atomic():
                for name in names:
                    SsoDomain.objects.get_or_create(connection=connection, domain=name)
        except IntegrityError:
            raise ValidationError(
                {"domains": ["One of these domains was just taken by another customer."]},
                code="unique",
            ) from None
        after = _snapshot(connection)
        changes = audit_diff(before, after)
        if secret and before and connection.app.secret != before.get("_secret"):
            changes["client_secret"] = ["…", "changed"]
        changes.pop("_secret", None)
        audit_record(
            action=AuditEntry.Action.SSO_CONNECTION_SAVED,
            target=connection,
            customer=customer,
            actor=actor,
            label=f"single sign-on of {customer.name}",
            changes=changes,
        )
    return connection


def _snapshot(connection: SsoConnection) -> dict[str, Any]:
    return {
        "issuer": connection.issuer,
        "client_id": connection.app.client_id,
        "domains": sorted(connection.domains.values_list("domain", flat=True)),
        "default_role": connection.default_role,
        "groups_claim": connection.groups_claim,
        "admin_group": connection.admin_group,
        "_secret": connection.app.secret,
    }


def connection_set_enforced(
    *, connection: SsoConnection, enforced: bool, actor: Actor = SYSTEM
) -> SsoConnection:
    """Turn enforcement on or off; unchanged, nothing is written."""
    with transaction.atomic():
        locked = (
            SsoConnection.objects.select_for_update()
            .select_related("customer")
            .get(pk=connection.pk)
        )
        if locked.enforced == enforced:
            return locked
        locked.enforced = enforced
        locked.updated_at = timezone.now()
        locked.save(update_fields=["enforced", "updated_at"])
        audit_record(
            action=AuditEntry.Action.SSO_ENFORCEMENT_CHANGED,
            target=locked,
            customer=locked.customer,
            actor=actor,
            label=f"single sign-on of {locked.customer.name}",
            changes={"enforced": [not enforced, enforced]},
        )
    return locked


def connection_remove(*, connection: SsoConnection, actor: Actor = SYSTEM) -> None:
    """Remove the connection (its people sign in with passwords again; the identities linked
    to it go with it)."""
    with transaction.atomic():
        customer = connection.customer
        audit_record(
            action=AuditEntry.Action.SSO_CONNECTION_REMOVED,
            target=connection,
            customer=customer,
            actor=actor,
            label=f"single sign-on of {customer.name}",
            changes={"issuer": [connection.issuer, None]},
        )
        app = connection.app
        connection.delete()
        from allauth.socialaccount.models import SocialAccount

        SocialAccount.objects.filter(provider=app.provider_id).delete()
        app.delete()


def role_from_claims(connection: SsoConnection, claims: dict[str, Any]) -> str | None:
    """The role the groups claim gives, or None when the connection maps no group."""
    if not (connection.admin_group and connection.groups_claim):
        return None
    groups = claims.get(connection.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    admin = isinstance(groups, list) and connection.admin_group in [str(g) for g in groups]
    return Membership.Role.ADMIN if admin else connection.default_role


def sso_sign_in(*, route: rules.Route, claims: dict[str, Any], ip: str | None = None) -> User:
    """The person the verified `claims` of `route`'s provider sign in, or SsoRefused.

    Staff sign in through the vendor's provider only, and only as existing staff. Through a
    customer's provider: the person is made (with a verified address and no password) and
    joins the customer with the default role at their first sign-in, and the groups claim, when
    mapped, sets their role at each one; each of these is audited.
    """
    email = rules.check_identity(route, claims)
    user = User.objects.filter(email__iexact=email).first()
    if route.connection is None:
        if user is None or not user.is_staff or not user.is_active:
            raise rules.SsoRefused(f"{email} is not a member of the vendor's account team.")
        return user
    if user is not None and (user.is_staff or not user.is_active):
        raise rules.SsoRefused(f"{email} cannot sign in through {route.name}'s provider.")
    connection = route.connection
    with transaction.atomic():
        if user is None:
            name = str(claims.get("name") or "")[:150]
            user = User.objects.create_user(email, None, name=name)
        actor = Actor(user, f"{email} (single sign-on)", ip)
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        membership = Membership.objects.filter(user=user, customer=connection.customer).first()
        wanted = role_from_claims(connection, claims)
        if membership is None:
            membership = Membership.objects.create(
                user=user, customer=connection.customer, role=wanted or connection.default_role
            )
            audit_record(
                action=AuditEntry.Action.MEMBER_PROVISIONED,
                target=membership,
                actor=actor,
                label=f"{email} ({membership.role})",
                changes={"role": [None, membership.role], "issuer": [None, connection.issuer]},
            )
        elif wanted is not None and wanted != membership.role:
            # The customer's last admin stays one (ValidationError): never locked out by a claim.
            with contextlib.suppress(ValidationError):
                membership_set_role(membership=membership, role=wanted, actor=actor)
    return user


def break_glass_grant(*, user: User, minutes: int, actor: Actor = SYSTEM) -> SsoBreakGlass:
    """Let `user` sign in with a password for the next `minutes` although single sign-on is
    enforced for them (their provider is down, or misconfigured)."""
    if not 1 <= minutes <= 24 * 60:
        raise ValidationError({"minutes": ["Between 1 minute and 24 hours."]}, code="invalid")
    with transaction.atomic():
        grant = SsoBreakGlass.objects.create(
            user=user,
            expires_at=timezone.now() + timedelta(minutes=minutes),
            granted_by=actor.label[:255],
        )
        membership = Membership.objects.filter(user=user).select_related("customer").first()
        audit_record(
            action=AuditEntry.Action.SSO_BREAK_GLASS_GRANTED,
            target=user,
            customer=membership.customer if membership else None,
            actor=actor,
            label=f"{user.email} for {minutes} minutes",
            changes={"expires_at": [None, grant.expires_at.isoformat()]},
        )
    return grant


def break_glass_used(*, user: User, ip: str | None) -> None:
    """Record a password sign-in made through an open break-glass grant."""
    membership = Membership.objects.filter(user=user).select_related("customer").first()
    audit_record(
        action=AuditEntry.Action.SSO_BREAK_GLASS_USED,
        target=user,
        customer=membership.customer if membership else None,
        actor=Actor(user, user.email, ip),
        label=user.email,
    )
