"""Creating and revoking tokens: the management command and the account team's pages."""

import pytest
from django.core.management import CommandError, call_command

from licensing.models import ApiToken
from licensing.services.tokens import hash_token
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_a_working_token_once(capsys, account_manager, customer):
    call_command("create_api_token", "--email", "AM@vendor.test", "--name", "Billing")
    out = capsys.readouterr()
    token = out.out.strip()
    api_token = ApiToken.objects.get()
    assert api_token.secret_hash == hash_token(token)
    assert (api_token.name, api_token.read_only, api_token.user) == (
        "Billing",
        False,
        account_manager,
    )
    assert token not in out.err
    assert bearer(token).get("/api/v1/customers").status_code == 200


def test_create_api_token_read_only(capsys, account_manager):
    call_command("create_api_token", "--email", account_manager.email, "--read-only")
    assert ApiToken.objects.get().read_only is True


def test_create_api_token_refuses_customer_users(customer_admin):
    with pytest.raises(CommandError, match="account-team"):
        call_command("create_api_token", "--email", customer_admin.email)
    assert not ApiToken.objects.exists()


def test_create_api_token_refuses_unknown_email(db):
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "--email", "nobody@vendor.test")


def test_token_page_creates_a_token_shown_once(client, account_manager, customer):
    client.force_login(account_manager)
    response = client.post("/team/tokens/new", {"name": "CRM sync", "read_only": "on"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = response.context["token"]
    assert token in response.content.decode()
    api_token = ApiToken.objects.get()
    assert api_token.read_only and api_token.user == account_manager
    listing = client.get("/team/tokens/").content.decode()
    assert api_token.prefix in listing
    assert token not in listing
    assert bearer(token).get("/api/v1/customers").status_code == 200


def test_token_page_revokes(client, account_manager, token, customer):
    client.force_login(account_manager)
    api_token = ApiToken.objects.get()
    response = client.post(f"/team/tokens/{api_token.pk}/revoke")
    assert response.status_code == 302
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    assert bearer(token).get("/api/v1/customers").status_code == 401


def test_token_page_refuses_a_blank_name(client, account_manager):
    client.force_login(account_manager)
    assert client.post("/team/tokens/new", {"name": ""}).status_code == 400
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("persona", ["customer_admin", "viewer", "outsider"])
def test_token_pages_are_404_for_customer_users(client, request, persona, token):
    client.force_login(request.getfixturevalue(persona))
    api_token = ApiToken.objects.get()
    assert client.get("/team/tokens/").status_code == 404
    assert client.post("/team/tokens/new", {"name": "x"}).status_code == 404
    assert client.post(f"/team/tokens/{api_token.pk}/revoke").status_code == 404
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_token_pages_send_anonymous_users_to_login(client):
    response = client.get("/team/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
