"""No page tells whether an email address has an account."""

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.models import User

pytestmark = pytest.mark.django_db

UNKNOWN = "nobody@acme.test"


def _page_text(response: Any) -> str:
    # The CSRF token differs between any two pages; nothing else may.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(
    customer_admin: User,
) -> None:
    answers = []
    for email in (customer_admin.email, UNKNOWN):
        client = Client()
        response = client.post(reverse("account_reset_password"), {"email": email})
        done = client.get(response["Location"])
        answers.append(
            (response.status_code, response["Location"], done.status_code, _page_text(done))
        )

    assert answers[0] == answers[1]
    assert answers[0][:3] == (302, reverse("account_reset_password_done"), 200)
    # Only the account's owner hears from the portal; a stranger's address gets nothing.
    assert [message.to for message in mail.outbox] == [[customer_admin.email]]


def test_login_failure_reads_the_same_for_a_wrong_password_and_an_unknown_address(
    customer_admin: User,
) -> None:
    answers = []
    for email in (customer_admin.email, UNKNOWN):
        response = Client().post(
            reverse("account_login"), {"login": email, "password": "not-the-password"}
        )
        assert response.status_code == 200
        answers.append(
            (response.context["form"].errors, _page_text(response).replace(email, "EMAIL"))
        )

    assert answers[0] == answers[1]
    assert answers[0][0] == {
        "__all__": ["The email address and/or password you specified are not correct."]
    }
