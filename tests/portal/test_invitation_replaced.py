"""Re-sending an invitation replaces the pending one: its link says it was replaced (not that
it expired) and points to the latest email; the new link works."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from licensing.models import Customer
from portal import invitations
from portal.models import Invitation

REPLACED = "This invitation was replaced by a newer one: use the link in the latest email."


def _invite(customer: Customer) -> str:
    return invitations.invitation_create(customer=customer, email="boss@acme.test", role="admin")[1]


def test_the_first_link_of_a_resent_invitation_says_it_was_replaced(customer: Customer) -> None:
    first = _invite(customer)
    second = _invite(customer)

    response = Client().get(f"/invitations/{first}/")

    assert response.status_code == 410
    html = response.content.decode()
    assert REPLACED in html
    assert "expired" not in html
    assert Client().get(f"/invitations/{second}/").status_code == 200


def test_a_replaced_invitation_records_when_and_is_not_pending(customer: Customer) -> None:
    first = _invite(customer)
    _invite(customer)

    with pytest.raises(invitations.InvitationUnusable) as error:
        invitations.invitation_for_token(first)

    assert error.value.reason == "replaced"
    old = Invitation.objects.get(token_hash=invitations.hash_token(first))
    assert old.replaced_at is not None
    assert len(invitations.pending_invitations(customer)) == 1


def test_an_invitation_that_ran_out_before_the_resend_still_says_expired(
    customer: Customer,
) -> None:
    first = _invite(customer)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        _invite(customer)

        with pytest.raises(invitations.InvitationUnusable) as error:
            invitations.invitation_for_token(first)

    assert error.value.reason == "expired"
