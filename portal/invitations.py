"""Invitations: the account team invites customer admins, customer admins invite viewers.

The emailed link carries a random token; only its SHA-256 is stored, so a database leak does
not hand out working links. Accepting proves the person reads that mailbox, so the address is
marked verified.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from allauth.account.models import EmailAddress
from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from licensing.models import Customer, Membership
from portal import security
from portal.models import Invitation, User

INVITATION_LIFETIME: Final = timedelta(days=7)


class InvitationUnusable(Exception):
    """The token is unknown, expired or already used; `reason` says which."""

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
    invited_by: User,
    site_url: str,
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """Create an invitation and email its link; returns it with the token (shown nowhere else).

    A newer invitation to the same address for the same customer replaces pending ones.
    """
    now = now or timezone.now()
    email = normalize_email(email)
    if Membership.objects.filter(customer=customer, user__email__iexact=email).exists():
        raise ValidationError({"email": [f"{email} is already a member of {customer.name}."]})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        customer=customer,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=invited_by,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    invitation.full_clean()
    with transaction.atomic():
        Invitation.objects.filter(
            customer=customer, email=email, accepted_at__isnull=True, expires_at__gt=now
        ).update(expires_at=now)
        invitation.save(force_insert=True)
    _send_invitation_email(invitation, token, site_url)
    return invitation, token


def invite_from_form(
    request: HttpRequest, form: forms.Form, *, customer: Customer, role: str
) -> Invitation | None:
    """Invite the address in a valid invitation form, as the requesting user, and audit it.

    Shared by the account team's customer page and a customer admin's members page, which
    differ only in the roles they offer and where they go next. Returns None when the
    invitation is refused; the reasons are then on the form.
    """
    try:
        invitation, _ = invitation_create(
            customer=customer,
            email=form.cleaned_data["email"],
            role=role,
            invited_by=request.user,  # type: ignore[arg-type]
            site_url=request.build_absolute_uri("/"),
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    security.audit_invited(request, invitation)
    return invitation


def invitation_url(token: str, site_url: str) -> str:
    return site_url.rstrip("/") + reverse("invitation_accept", kwargs={"token": token})


def _send_invitation_email(invitation: Invitation, token: str, site_url: str) -> None:
    inviter = invitation.invited_by
    context = {
        "invitation": invitation,
        "customer": invitation.customer,
        "inviter_name": inviter.get_full_name() if inviter else "The account team",
        "url": invitation_url(token, site_url),
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
    """The usable invitation for a token; raises InvitationUnusable (unknown/expired/used)."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_related("customer", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvitationUnusable("unknown")
    if invitation.accepted_at is not None:
        raise InvitationUnusable("used", invitation)
    if invitation.expires_at <= now:
        raise InvitationUnusable("expired", invitation)
    return invitation


def existing_user(invitation: Invitation) -> User | None:
    return User.objects.filter(email__iexact=invitation.email).first()


def invitation_accept_new_user(*, invitation: Invitation, name: str, password: str) -> User:
    """Create the invited person's account with this password and join them to the customer."""
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
        _accept(invitation, user)
    return user


def invitation_accept_existing_user(*, invitation: Invitation, user: User) -> Membership:
    """Join an existing, logged-in account to the customer; the email addresses must match."""
    if normalize_email(user.email) != invitation.email:
        raise ValidationError(f"This invitation is for {invitation.email}, not {user.email}.")
    with transaction.atomic():
        return _accept(invitation, user)


def _accept(invitation: Invitation, user: User) -> Membership:
    now = timezone.now()
    # The conditional update makes a double submit (or two tabs) accept exactly once.
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now, accepted_by=user)
    if not claimed:
        raise InvitationUnusable("used", invitation)
    invitation.accepted_at, invitation.accepted_by = now, user
    membership, created = Membership.objects.get_or_create(
        user=user, customer=invitation.customer, defaults={"role": invitation.role}
    )
    if not created and invitation.role == Membership.Role.ADMIN:
        # An invitation never demotes: a viewer invited as admin becomes admin.
        membership.role = Membership.Role.ADMIN
        membership.save(update_fields=["role"])
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=invitation.email, defaults={"verified": True, "primary": True}
    )
    if not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
    return membership


def pending_invitations(customer: Customer, *, now: datetime | None = None) -> list[Invitation]:
    now = now or timezone.now()
    return list(
        Invitation.objects.filter(
            customer=customer, accepted_at__isnull=True, expires_at__gt=now
        ).select_related("invited_by")
    )
