"""A customer's members page (its admins invite viewers, change roles, remove members, resend
and revoke invitations) and the invitation link's page."""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from licensing import services
from licensing.models import Customer, Membership
from licensing.services import Actor
from portal import invitations
from portal.access import customer_for
from portal.forms import MemberForm, MemberRemoveForm, MemberRoleForm
from portal.models import Invitation, User
from portal.team_forms import AcceptNewUserForm, InvitationForm

# The invited person has just proved they own the address; no second verification needed.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def members(request: HttpRequest, slug: str) -> HttpResponse:
    """Members and pending invitations of a customer; its admins invite viewers here."""
    customer = customer_for(request, slug, admin=True)
    form = InvitationForm(request.POST or None, roles=[Invitation.Role.VIEWER])
    if request.method == "POST" and form.is_valid():
        invitation = invitations.invite_from_form(
            request, form, customer=customer, role=Invitation.Role.VIEWER
        )
        if invitation is not None:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return _to_members(customer)
    return render(
        request,
        "invitations/members.html",
        {
            "customer": customer,
            "members": Membership.objects.filter(customer=customer)
            .select_related("user")
            .order_by("role", "user__email"),
            "invitations": invitations.pending_invitations(customer),
            "roles": Membership.Role.choices,
            "form": form,
        },
    )


def _to_members(customer: Customer) -> HttpResponse:
    return redirect("customer_members", slug=customer.slug)


def _member(request: HttpRequest, customer: Customer, form: MemberForm) -> Membership | None:
    """The member a valid form names, or None with the reason flashed."""
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return None
    email = form.cleaned_data["email"]
    membership = (
        Membership.objects.select_related("user", "customer")
        .filter(customer=customer, user__email__iexact=email)
        .first()
    )
    if membership is None:
        messages.error(request, f"{email} is not a member of {customer.name}.")
    return membership


@login_required
@require_POST
def member_set_role(request: HttpRequest, slug: str) -> HttpResponse:
    """The members table's role select: make a member an admin or a viewer."""
    customer = customer_for(request, slug, admin=True)
    form = MemberRoleForm(request.POST)
    membership = _member(request, customer, form)
    if membership is None:
        return _to_members(customer)
    before, email = membership.role, membership.user.email
    try:
        membership = services.membership_set_role(
            membership=membership, role=form.cleaned_data["role"], actor=Actor.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _to_members(customer)
    role = membership.get_role_display().lower()
    if membership.role == before:
        messages.info(request, f"{email} is already {_with_article(role)}.")
    elif membership.user_id == request.user.pk:
        messages.success(request, f"You are now {_with_article(role)} of {customer.name}.")
        if not request.user.is_staff:  # a viewer may not see the members page
            return _dashboard(customer)
    else:
        messages.success(request, f"{email} is now {_with_article(role)}.")
    return _to_members(customer)


def _with_article(role: str) -> str:
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str) -> HttpResponse:
    """The members table's Remove button asks (a confirmation page); its POST removes.

    Removing yourself leaves the customer: you go home, where its pages are no longer yours.
    """
    customer = customer_for(request, slug, admin=True)
    form = MemberRemoveForm(request.POST)
    membership = _member(request, customer, form)
    if membership is None:
        return _to_members(customer)
    yourself = membership.user_id == request.user.pk
    if not form.cleaned_data["confirmed"]:
        return render(
            request,
            "invitations/member_remove.html",
            {"customer": customer, "membership": membership, "yourself": yourself},
        )
    email = membership.user.email
    try:
        removed = services.membership_remove(
            membership=membership, actor=Actor.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _to_members(customer)
    if not removed:
        messages.info(request, f"{email} had left {customer.name} already.")
    elif yourself:
        messages.success(request, f"You left {customer.name}.")
        return redirect("home")
    else:
        messages.success(request, f"Removed {email} from {customer.name}.")
    return _to_members(customer)


@login_required
@require_POST
def invitation_resend(request: HttpRequest, slug: str, invitation_id: UUID) -> HttpResponse:
    """A pending invitation's Resend button: a new link by email; the old one stops working."""
    customer = customer_for(request, slug, admin=True)
    invitation = get_object_or_404(Invitation, pk=invitation_id, customer=customer)
    try:
        new, _ = invitations.invitation_resend(
            invitation=invitation, actor=Actor.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Invitation sent to {new.email} again, with a new link; the earlier link no"
            " longer works.",
        )
    return _to_members(customer)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: UUID) -> HttpResponse:
    """A pending invitation's Revoke button: its link stops working and says why."""
    customer = customer_for(request, slug, admin=True)
    invitation = get_object_or_404(Invitation, pk=invitation_id, customer=customer)
    try:
        revoked = invitations.invitation_revoke(
            invitation=invitation, actor=Actor.from_request(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if revoked:
            messages.success(
                request, f"Revoked the invitation to {invitation.email}: its link no longer works."
            )
        else:
            messages.info(request, f"The invitation to {invitation.email} was revoked already.")
    return _to_members(customer)


def _dashboard(customer: Customer) -> HttpResponse:
    return redirect("customer:dashboard", slug=customer.slug)


def accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the invitation email: set a password (new account) or join (existing)."""
    try:
        invitation = invitations.invitation_for_token(token)
    except invitations.InvitationUnusable as exc:
        return render(
            request,
            "invitations/unusable.html",
            {"reason": exc.reason, "invitation": exc.invitation},
            status=404 if exc.reason == "unknown" else 410,
        )
    account = invitations.existing_user(invitation)
    if account is None:
        return _accept_new_user(request, invitation)
    return _accept_existing_user(request, invitation, account)


def _accept_new_user(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    form = AcceptNewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.invitation_accept_new_user(
                invitation=invitation,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
                actor=Actor.from_request(request),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        except invitations.InvitationUnusable:
            return redirect(request.path)
        else:
            login(request, user, backend=LOGIN_BACKEND)
            messages.success(request, f"Welcome to {invitation.customer.name}.")
            return _dashboard(invitation.customer)
    return render(
        request, "invitations/accept.html", {"invitation": invitation, "form": form, "new": True}
    )


def _accept_existing_user(
    request: HttpRequest, invitation: Invitation, account: User
) -> HttpResponse:
    user = request.user
    signed_in_as_invitee = user.is_authenticated and user.pk == account.pk
    if request.method == "POST" and signed_in_as_invitee:
        try:
            invitations.invitation_accept_existing_user(
                invitation=invitation, user=account, actor=Actor.from_request(request)
            )
        except invitations.InvitationUnusable:
            return redirect(request.path)
        messages.success(request, f"You joined {invitation.customer.name}.")
        return _dashboard(invitation.customer)
    login_url = reverse("account_login") + "?" + urlencode({"next": request.path})
    return render(
        request,
        "invitations/accept.html",
        {
            "invitation": invitation,
            "new": False,
            "signed_in_as_invitee": signed_in_as_invitee,
            "login_url": login_url,
        },
    )
