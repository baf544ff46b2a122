"""Invitations: the account team invites customer admins, customer admins invite viewers.

The emailed link carries a random token; only its SHA-256 is stored, so a database leak does
not hand out working links. Accepting proves the person reads that mailbox, so the address is
marked verified.

The services here own their transactions and audit entries (`member.invited`, `member.joined`,
`invitation.resent`, `invitation.revoked`)
for the `actor` their caller passes; the invitation email leaves only once the invitation is
committed, with its link on SITE_URL.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import partial
from typing import Final

from allauth.account.models import EmailAddress
from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from licensing import links, services
from licensing.models import AuditEntry, Customer, Membership
from licensing.services import SYSTEM, Actor
from portal.models import Invitation, User

INVITATION_LIFETIME: Final = timedelta(days=7)


class InvitationUnusable(Exception):
    """The token is unknown, used, revoked, replaced by a newer invitation or expired; `reason`
    says which."""

    def __init__(self, reason: str, invitation: Invitation | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def invitation_create(
    *,
    customer: Customer,
    email: str,
    role: str,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """Invite `email` to `customer` as `actor`'s user and email the link once committed;
    returns the invitation with the token (shown nowhere else).

    A newer invitation to the same address for the same customer replaces pending ones: they
    expire now, marked replaced, so their links say so.
    """
    email = normalize_email(email)
    with transaction.atomic():
        invitation, token = _issue(
            customer=customer, email=email, role=role, actor=actor, now=now or timezone.now()
        )
        services.audit_record(
            action=AuditEntry.Action.MEMBER_INVITED,
            target=invitation,
            actor=actor,
            label=f"{invitation.email} ({invitation.role})",
            changes={"email": [None, invitation.email], "role": [None, invitation.role]},
        )
    return invitation, token


def invitation_resend(
    *, invitation: Invitation, actor: Actor = SYSTEM, now: datetime | None = None
) -> tuple[Invitation, str]:
    """Email a pending invitation again, with a new link valid for INVITATION_LIFETIME from
    now, as `actor`'s user; the old link stops working (it says it was replaced). Returns the
    new invitation and its token; a ValidationError says why one that is no longer pending
    cannot be resent."""
    now = now or timezone.now()
    with transaction.atomic():
        old = _lock(invitation)
        _refuse_unless_pending(old, now)
        new, token = _issue(
            customer=old.customer, email=old.email, role=old.role, actor=actor, now=now
        )
        services.audit_record(
            action=AuditEntry.Action.INVITATION_RESENT,
            target=new,
            actor=actor,
            label=f"{new.email} ({new.role})",
            changes={"invitation": [str(old.pk), str(new.pk)]},
        )
    return new, token


def invitation_revoke(
    *, invitation: Invitation, actor: Actor = SYSTEM, now: datetime | None = None
) -> bool:
    """Withdraw a pending invitation: its link then says it was revoked. False (and nothing
    written) when it was revoked already; a ValidationError when it was accepted, replaced or
    has expired."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(invitation)
        if locked.revoked_at is not None:
            return False
        _refuse_unless_pending(locked, now)
        locked.revoked_at = now
        locked.save(update_fields=["revoked_at"])
        services.audit_record(
            action=AuditEntry.Action.INVITATION_REVOKED,
            target=locked,
            actor=actor,
            label=f"{locked.email} ({locked.role})",
            changes={"revoked_at": [None, now.isoformat()]},
        )
    invitation.revoked_at = now
    return True


def _issue(
    *, customer: Customer, email: str, role: str, actor: Actor, now: datetime
) -> tuple[Invitation, str]:
    """Create an invitation from `actor`'s user, replacing pending ones to the address, and
    email it after commit. In the caller's transaction, which audits it."""
    if Membership.objects.filter(customer=customer, user__email__iexact=email).exists():
        raise ValidationError({"email": [f"{email} is already a member of {customer.name}."]})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        customer=customer,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor.user,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    invitation.full_clean()
    Invitation.objects.filter(_pending(now), customer=customer, email=email).update(
        expires_at=now, replaced_at=now
    )
    invitation.save(force_insert=True)
    # Not robust: a mail server that refuses it is an error the inviter sees.
    transaction.on_commit(partial(_send_invitation_email, invitation, token))
    return invitation, token


def _lock(invitation: Invitation) -> Invitation:
    """The invitation's row, locked until commit, so a resend, a revocation and an
    acceptance of it are judged one after the other."""
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=invitation.pk)
    )


def _pending(now: datetime) -> Q:
    """Invitations whose link can still be accepted (the rule `_check_usable` explains)."""
    return Q(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


# Why an invitation that is no longer pending cannot be resent or revoked, by the reason its
# link gives.
NOT_PENDING: Final = {
    "used": "{email} accepted this invitation already.",
    "revoked": "The invitation to {email} was revoked.",
    "replaced": "The invitation to {email} was replaced by a newer one.",
    "expired": "The invitation to {email} has expired: invite them again.",
}


def _refuse_unless_pending(invitation: Invitation, now: datetime) -> None:
    try:
        _check_usable(invitation, now)
    except InvitationUnusable as exc:
        message = NOT_PENDING[exc.reason].format(email=invitation.email)
        raise ValidationError(message, code=exc.reason) from None


def invite_from_form(
    request: HttpRequest, form: forms.Form, *, customer: Customer, role: str
) -> Invitation | None:
    """Invite the address in a valid invitation form, as the requesting user.

    Shared by the account team's customer page and a customer admin's members page, which
    differ only in the roles they offer and where they go next. Returns None when the
    invitation is refused; the reasons are then on the form.
    """
    try:
        invitation, _ = invitation_create(
            customer=customer,
            email=form.cleaned_data["email"],
            role=role,
            actor=Actor.from_request(request),
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    return invitation


def invitation_url(token: str) -> str:
    return links.absolute(reverse("invitation_accept", kwargs={"token": token}))


def _send_invitation_email(invitation: Invitation, token: str) -> None:
    inviter = invitation.invited_by
    context = {
        "invitation": invitation,
        "customer": invitation.customer,
        "inviter_name": inviter.get_full_name() if inviter else "The account team",
        "url": invitation_url(token),
        "role": invitation.get_role_display().lower(),
        "expires_at": invitation.expires_at,
    }
    subject = f"You're invited to {invitation.customer.name} on the Overdraft Portal"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    message.send()


def invitation_for_token(token: str, *, now: datetime | None = None) -> Invitation:
    """The usable invitation for a token; raises InvitationUnusable (unknown, used, revoked,
    replaced or expired)."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_related("customer", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvitationUnusable("unknown")
    _check_usable(invitation, now)
    return invitation


def _check_usable(invitation: Invitation, now: datetime) -> None:
    if invitation.accepted_at is not None:
        raise InvitationUnusable("used", invitation)
    if invitation.revoked_at is not None:
        raise InvitationUnusable("revoked", invitation)
    if invitation.replaced_at is not None:
        raise InvitationUnusable("replaced", invitation)
    if invitation.expires_at <= now:
        raise InvitationUnusable("expired", invitation)


def existing_user(invitation: Invitation) -> User | None:
    return User.objects.filter(email__iexact=invitation.email).first()


def invitation_accept_new_user(
    *, invitation: Invitation, name: str, password: str, actor: Actor = SYSTEM
) -> User:
    """Create the invited person's account with this password and join them to the customer.

    The join is audited as done by the new account, from `actor`'s address (the caller has no
    user yet).
    """
    user = User(email=invitation.email, name=name.strip())
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password1": exc.messages}) from None
    user.set_password(password)
    with transaction.atomic():
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                "An account with this email address exists now: log in to accept."
            )
        user.save()
        _accept(invitation, user, Actor.of(user, ip=actor.ip))
    return user


def invitation_accept_existing_user(
    *, invitation: Invitation, user: User, actor: Actor = SYSTEM
) -> Membership:
    """Join an existing, logged-in account to the customer; the email addresses must match."""
    if normalize_email(user.email) != invitation.email:
        raise ValidationError(f"This invitation is for {invitation.email}, not {user.email}.")
    with transaction.atomic():
        return _accept(invitation, user, actor)


def _accept(invitation: Invitation, user: User, actor: Actor) -> Membership:
    now = timezone.now()
    # The conditional update makes a double submit (or two tabs) accept exactly once.
    claimed = Invitation.objects.filter(_pending(now), pk=invitation.pk).update(
        accepted_at=now, accepted_by=user
    )
    if not claimed:  # used, revoked, replaced or expired since it was looked up: say which
        invitation.refresh_from_db(
            fields=["accepted_at", "revoked_at", "replaced_at", "expires_at"]
        )
        _check_usable(invitation, now)
        raise InvitationUnusable("used", invitation)
    invitation.accepted_at, invitation.accepted_by = now, user
    membership = services.membership_join(
        user=user, customer=invitation.customer, role=invitation.role
    )
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=invitation.email, defaults={"verified": True, "primary": True}
    )
    if not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
    services.audit_record(
        action=AuditEntry.Action.MEMBER_JOINED,
        target=membership,
        actor=actor,
        customer=membership.customer,
        label=f"{user.email} ({membership.role})",
        changes={"role": [None, membership.role], "invitation": [None, str(invitation.pk)]},
    )
    return membership


def pending_invitations(customer: Customer, *, now: datetime | None = None) -> list[Invitation]:
    now = now or timezone.now()
    return list(
        Invitation.objects.filter(_pending(now), customer=customer).select_related("invited_by")
    )
