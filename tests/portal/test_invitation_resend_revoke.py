"""Resending and revoking pending invitations from the members page."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from licensing.models import AuditEntry, Customer, Membership
from licensing.services import Actor
from portal import invitations
from portal.models import Invitation, User

Login = Callable[[User], Client]
MEMBERS = "/c/acme-corp/members/"
REVOKED = "This invitation was revoked"


@pytest.fixture
def invitation(customer: Customer, customer_admin: User) -> tuple[Invitation, str]:
    return invitations.invitation_create(
        customer=customer, email="new@acme.test", role="viewer", actor=Actor.of(customer_admin)
    )


def _resend(invitation: Invitation) -> str:
    return f"/c/acme-corp/members/invitations/{invitation.pk}/resend"


def _revoke(invitation: Invitation) -> str:
    return f"/c/acme-corp/members/invitations/{invitation.pk}/revoke"


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


def test_pending_invitations_have_resend_and_revoke_buttons(
    login: Login, customer_admin: User, invitation: tuple[Invitation, str]
) -> None:
    html = login(customer_admin).get(MEMBERS).content.decode()

    assert f'action="{_resend(invitation[0])}"' in html
    assert f'action="{_revoke(invitation[0])}"' in html


def test_the_account_teams_customer_page_lists_them_without_the_buttons(
    login: Login, account_manager: User, invitation: tuple[Invitation, str]
) -> None:
    html = login(account_manager).get("/team/customers/acme-corp/").content.decode()

    assert "new@acme.test" in html
    assert "/resend" not in html


def test_resend_emails_a_new_link_and_the_old_one_stops_working(
    login: Login,
    customer: Customer,
    customer_admin: User,
    invitation: tuple[Invitation, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    old, old_token = invitation
    client = login(customer_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_resend(old), follow=True)

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert _messages(response) == [
        "Invitation sent to new@acme.test again, with a new link; the earlier link no longer works."
    ]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@acme.test"]
    new_link = _link(mail.outbox[0])
    assert new_link != f"/invitations/{old_token}/"
    anonymous = Client()
    assert anonymous.get(new_link).status_code == 200
    stale = anonymous.get(f"/invitations/{old_token}/")
    assert stale.status_code == 410
    assert "This invitation was replaced by a newer one" in stale.content.decode()
    pending = invitations.pending_invitations(customer)
    assert [(i.email, i.role) for i in pending] == [("new@acme.test", "viewer")]
    assert pending[0].pk != old.pk
    entry = AuditEntry.objects.get(action=AuditEntry.Action.INVITATION_RESENT)
    assert entry.actor == customer_admin
    assert entry.target_id == str(pending[0].pk)
    assert entry.changes == {"invitation": [str(old.pk), str(pending[0].pk)]}


def test_the_resent_link_lasts_seven_days_from_the_resend(
    customer: Customer, invitation: tuple[Invitation, str]
) -> None:
    later = timezone.now() + timedelta(days=5)
    with time_machine.travel(later, tick=False):
        new, token = invitations.invitation_resend(invitation=invitation[0])

        assert new.expires_at == later + timedelta(days=7)
    with time_machine.travel(later + timedelta(days=6), tick=False):
        assert invitations.invitation_for_token(token).pk == new.pk


def test_a_resent_invitation_can_be_accepted(
    invitation: tuple[Invitation, str], customer: Customer
) -> None:
    _, token = invitations.invitation_resend(invitation=invitation[0])

    user = invitations.invitation_accept_new_user(
        invitation=invitations.invitation_for_token(token),
        name="Nia New",
        password="a-long-and-unusual-passphrase-42",
    )

    assert Membership.objects.get(user=user, customer=customer).role == "viewer"


def test_revoke_kills_the_link_which_then_says_revoked(
    login: Login,
    customer: Customer,
    customer_admin: User,
    invitation: tuple[Invitation, str],
) -> None:
    old, token = invitation

    response = login(customer_admin).post(_revoke(old), follow=True)

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert _messages(response) == [
        "Revoked the invitation to new@acme.test: its link no longer works."
    ]
    assert invitations.pending_invitations(customer) == []
    assert "No pending invitations." in response.content.decode()
    page = Client().get(f"/invitations/{token}/")
    assert page.status_code == 410
    html = page.content.decode()
    assert REVOKED in html
    assert "Acme Corp withdrew this invitation to new@acme.test" in html
    entry = AuditEntry.objects.get(action=AuditEntry.Action.INVITATION_REVOKED)
    assert entry.actor == customer_admin
    assert entry.target_id == str(old.pk)
    assert entry.target_label == "new@acme.test (viewer)"


def test_a_revoked_invitation_cannot_be_accepted_from_a_page_opened_before(
    invitation: tuple[Invitation, str],
) -> None:
    old, token = invitation
    opened = invitations.invitation_for_token(token)
    invitations.invitation_revoke(invitation=old)

    with pytest.raises(invitations.InvitationUnusable) as error:
        invitations.invitation_accept_new_user(
            invitation=opened, name="Late", password="a-long-and-unusual-passphrase-42"
        )

    assert error.value.reason == "revoked"
    assert not User.objects.filter(email="new@acme.test").exists()


def test_revoking_twice_writes_once(
    login: Login, customer_admin: User, invitation: tuple[Invitation, str]
) -> None:
    client = login(customer_admin)
    client.post(_revoke(invitation[0]), follow=True)  # its message shown

    response = client.post(_revoke(invitation[0]), follow=True)

    assert _messages(response) == ["The invitation to new@acme.test was revoked already."]
    assert AuditEntry.objects.filter(action=AuditEntry.Action.INVITATION_REVOKED).count() == 1


def test_a_revoked_invitation_cannot_be_resent(
    login: Login, customer: Customer, customer_admin: User, invitation: tuple[Invitation, str]
) -> None:
    client = login(customer_admin)
    client.post(_revoke(invitation[0]), follow=True)  # its message shown

    response = client.post(_resend(invitation[0]), follow=True)

    assert _messages(response) == ["The invitation to new@acme.test was revoked."]
    assert Invitation.objects.filter(customer=customer).count() == 1
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.INVITATION_RESENT).exists()


def test_an_accepted_invitation_cannot_be_resent_or_revoked(
    invitation: tuple[Invitation, str],
) -> None:
    old, token = invitation
    invitations.invitation_accept_new_user(
        invitation=invitations.invitation_for_token(token),
        name="Nia New",
        password="a-long-and-unusual-passphrase-42",
    )

    with pytest.raises(ValidationError) as resend:
        invitations.invitation_resend(invitation=old)
    with pytest.raises(ValidationError) as revoke:
        invitations.invitation_revoke(invitation=old)

    assert resend.value.messages == ["new@acme.test accepted this invitation already."]
    assert revoke.value.messages == ["new@acme.test accepted this invitation already."]
    old.refresh_from_db()
    assert old.revoked_at is None


def test_an_expired_invitation_cannot_be_resent(invitation: tuple[Invitation, str]) -> None:
    with (
        time_machine.travel(timezone.now() + timedelta(days=8)),
        pytest.raises(ValidationError) as error,
    ):
        invitations.invitation_resend(invitation=invitation[0])

    assert error.value.messages == [
        "The invitation to new@acme.test has expired: invite them again."
    ]


def test_a_new_invitation_does_not_mark_a_revoked_one_replaced(
    customer: Customer, invitation: tuple[Invitation, str]
) -> None:
    old, token = invitation
    invitations.invitation_revoke(invitation=old)
    invitations.invitation_create(customer=customer, email="new@acme.test", role="viewer")

    with pytest.raises(invitations.InvitationUnusable) as error:
        invitations.invitation_for_token(token)

    assert error.value.reason == "revoked"


@pytest.mark.parametrize("action", ["resend", "revoke"])
@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_viewers_and_outsiders_get_404_and_change_nothing(
    login: Login,
    customer: Customer,
    viewer: User,
    outsider: User,
    invitation: tuple[Invitation, str],
    action: str,
    who: str,
) -> None:
    client = login(viewer if who == "viewer" else outsider)
    path = _resend(invitation[0]) if action == "resend" else _revoke(invitation[0])

    assert client.post(path).status_code == 404
    assert [i.pk for i in invitations.pending_invitations(customer)] == [invitation[0].pk]
    assert invitations.invitation_for_token(invitation[1]).pk == invitation[0].pk


def test_an_invitation_of_another_customer_is_404_under_this_slug(
    login: Login, customer_admin: User, outsider: User, other_customer: Customer
) -> None:
    theirs, token = invitations.invitation_create(
        customer=other_customer, email="x@globex.test", role="viewer"
    )
    client = login(customer_admin)

    assert client.post(_revoke(theirs)).status_code == 404
    assert client.post(_resend(theirs)).status_code == 404
    assert invitations.invitation_for_token(token).pk == theirs.pk


def test_staff_revoke_from_the_members_page(
    login: Login, customer: Customer, account_manager: User, invitation: tuple[Invitation, str]
) -> None:
    assert login(account_manager).post(_revoke(invitation[0])).status_code == 302

    assert invitations.pending_invitations(customer) == []
    entry = AuditEntry.objects.get(action=AuditEntry.Action.INVITATION_REVOKED)
    assert entry.actor == account_manager


def test_the_actions_are_post_only_and_need_csrf(
    customer: Customer, customer_admin: User, invitation: tuple[Invitation, str]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_admin)

    assert client.get(_revoke(invitation[0])).status_code == 405
    assert client.post(_revoke(invitation[0])).status_code == 403
    assert client.post(_resend(invitation[0])).status_code == 403
    assert [i.pk for i in invitations.pending_invitations(customer)] == [invitation[0].pk]
