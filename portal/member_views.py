"""A customer's members page (admins invite viewers) and the invitation link's page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from licensing.models import Customer, Membership
from licensing.services import Actor
from portal import invitations
from portal.access import customer_for
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
            return redirect("customer_members", slug=customer.slug)
    return render(
        request,
        "invitations/members.html",
        {
            "customer": customer,
            "members": Membership.objects.filter(customer=customer)
            .select_related("user")
            .order_by("role", "user__email"),
            "invitations": invitations.pending_invitations(customer),
            "form": form,
        },
    )


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
