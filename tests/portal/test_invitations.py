"""Invitations: the account team invites customer admins, customer admins invite viewers."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone

from licensing.models import Customer, Membership
from licensing.services import Actor
from portal import invitations
from portal.models import Invitation, User
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-long-and-unusual-passphrase-42"
# Returns the test client's response (`.context` included).
Invite = Callable[[str, str], Any]


def _link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


@pytest.fixture
def staff_client(client: Client, account_manager: User) -> Client:
    client.force_login(account_manager)
    return client


@pytest.fixture
def invite(
    staff_client: Client, customer: Customer, django_capture_on_commit_callbacks: Any
) -> Invite:
    """The account team invites someone to Acme; the email leaves once the request commits."""

    def post(email: str, role: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return staff_client.post(
                f"/team/customers/{customer.slug}/invitations", {"email": email, "role": role}
            )

    return post


def test_account_team_invites_a_customer_admin(
    invite: Invite, customer: Customer, account_manager: User
) -> None:
    response = invite("Boss@Acme.test", "admin")

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "boss@acme.test",
        "admin",
        account_manager,
    )
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    (message,) = mail.outbox
    assert message.to == ["boss@acme.test"]
    assert "Acme Corp" in message.subject
    html, mimetype = message.alternatives[0]  # type: ignore[attr-defined]
    assert mimetype == "text/html"
    token = _link(message).split("/")[2]
    assert token in html
    assert token not in invitation.token_hash  # only the hash is stored
    assert invitation.token_hash == invitations.hash_token(token)


def test_new_person_sets_password_and_lands_on_dashboard(
    invite: Invite, customer: Customer
) -> None:
    invite("boss@acme.test", "admin")
    link = _link(mail.outbox[0])
    anonymous = Client()

    page = anonymous.get(link)
    assert page.status_code == 200
    assert "Set password and join" in page.content.decode()

    response = anonymous.post(
        link, {"name": "Bo Boss", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/c/{customer.slug}/"
    user = User.objects.get(email="boss@acme.test")
    assert user.name == "Bo Boss"
    assert user.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=user, customer=customer).role == "admin"
    assert EmailAddress.objects.get(user=user, email="boss@acme.test").verified
    assert Invitation.objects.get().accepted_by == user
    assert anonymous.get(f"/c/{customer.slug}/").wsgi_request.user == user
    # the link works once
    again = Client().get(link)
    assert again.status_code == 410
    assert "already used" in again.content.decode()


def test_weak_or_mismatched_password_is_refused(invite: Invite, customer: Customer) -> None:
    invite("boss@acme.test", "admin")
    link = _link(mail.outbox[0])
    weak = Client().post(link, {"password1": "123", "password2": "123"})
    assert weak.status_code == 200
    assert weak.context["form"].errors["password1"]
    differ = Client().post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert differ.context["form"].errors["password2"]
    assert not User.objects.filter(email="boss@acme.test").exists()


def test_existing_account_logs_in_and_joins(
    invite: Invite, customer: Customer, outsider: User
) -> None:
    invite(outsider.email, "viewer")
    link = _link(mail.outbox[0])
    client = Client()

    page = client.get(link)
    assert "Log in to accept" in page.content.decode()
    assert client.post(link).status_code == 200  # not logged in: nothing happens
    assert not Membership.objects.filter(user=outsider, customer=customer).exists()

    client.login(email=outsider.email, password=PASSWORD)
    response = client.post(link)

    assert response.status_code == 302
    assert response["Location"] == f"/c/{customer.slug}/"
    assert Membership.objects.get(user=outsider, customer=customer).role == "viewer"
    assert Membership.objects.filter(user=outsider).count() == 2  # still Globex's admin too


def test_wrong_account_cannot_accept(
    invite: Invite, customer: Customer, outsider: User, viewer: User
) -> None:
    invite(outsider.email, "admin")
    link = _link(mail.outbox[0])
    client = Client()
    client.force_login(viewer)
    page = client.get(link)
    assert "but this invitation is for" in page.content.decode()
    client.post(link)
    assert not Membership.objects.filter(user=outsider, customer=customer).exists()
    assert Invitation.objects.get().accepted_at is None


def test_expired_invitation_gives_a_clear_page(invite: Invite, customer: Customer) -> None:
    invite("late@acme.test", "admin")
    link = _link(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = Client().post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not User.objects.filter(email="late@acme.test").exists()


def test_unknown_token_is_404(client: Client, db: None) -> None:
    response = client.get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "Invitation not found" in response.content.decode()


def test_reinviting_replaces_the_pending_invitation(invite: Invite, customer: Customer) -> None:
    for _ in range(2):
        invite("boss@acme.test", "admin")
    first, second = _link(mail.outbox[0]), _link(mail.outbox[1])
    assert Client().get(first).status_code == 410
    assert Client().get(second).status_code == 200
    assert len(invitations.pending_invitations(customer)) == 1


def test_inviting_a_member_is_a_form_error(
    invite: Invite, customer: Customer, viewer: User
) -> None:
    response = invite(viewer.email, "admin")
    assert response.status_code == 200
    assert "already a member" in response.context["invite_form"].errors["email"][0]
    assert mail.outbox == []


def test_customer_admin_invites_a_viewer(
    client: Client,
    customer: Customer,
    customer_admin: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(customer_admin)
    page = client.get(f"/c/{customer.slug}/members/")
    assert page.status_code == 200
    assert "admin@acme.test" in page.content.decode()

    # The role is fixed to viewer, whatever the form says.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/c/{customer.slug}/members/", {"email": "colleague@acme.test", "role": "admin"}
        )

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.role, invitation.invited_by) == ("viewer", customer_admin)
    assert mail.outbox[0].to == ["colleague@acme.test"]
    assert "colleague@acme.test" in client.get(f"/c/{customer.slug}/members/").content.decode()


def test_viewers_and_outsiders_cannot_invite(
    client: Client, customer: Customer, viewer: User, outsider: User
) -> None:
    for user in (viewer, outsider):
        client.force_login(user)
        assert client.get(f"/c/{customer.slug}/members/").status_code == 404
        response = client.post(f"/c/{customer.slug}/members/", {"email": "x@acme.test"})
        assert response.status_code == 404
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_viewer_invited_as_admin_is_promoted(
    staff_client: Client, customer: Customer, viewer: User
) -> None:
    _, token = invitations.invitation_create(
        customer=customer,
        email="someone@acme.test",
        role="admin",
        actor=Actor.of(viewer),
    )
    viewer.email = "someone@acme.test"
    viewer.save()
    Membership.objects.filter(user=viewer).update(role="viewer")
    client = Client()
    client.force_login(viewer)
    assert client.post(f"/invitations/{token}/").status_code == 302
    assert Membership.objects.get(user=viewer, customer=customer).role == "admin"


def test_invitation_email_leaves_only_once_the_invitation_is_committed(
    customer: Customer, customer_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _, token = invitations.invitation_create(
            customer=customer, email="new@acme.test", role="viewer", actor=Actor.of(customer_admin)
        )
        assert mail.outbox == []  # not committed yet: the link would not work
    (message,) = mail.outbox
    assert f"/invitations/{token}/" in str(message.body)


def test_a_rolled_back_invitation_sends_no_email(customer: Customer, customer_admin: User) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        invitations.invitation_create(
            customer=customer, email="new@acme.test", role="viewer", actor=Actor.of(customer_admin)
        )
        raise RuntimeError("the caller's transaction fails after the invitation")
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_the_invitation_link_is_on_site_url_whatever_host_the_inviter_used(
    invite: Invite, settings: Any
) -> None:
    settings.SITE_URL = "https://portal.example.com"
    invite("boss@acme.test", "admin")  # through http://testserver
    body = str(mail.outbox[0].body)
    assert re.search(r"https://portal\.example\.com/invitations/[^/\s]+/", body), body
    assert "testserver" not in body
