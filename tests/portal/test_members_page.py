"""The members page: customer admins change roles and remove members, never the last admin."""

from collections.abc import Callable

import pytest
from django.test import Client

from licensing.models import AuditEntry, Customer, Membership
from portal.models import User
from tests.conftest import PASSWORD

Login = Callable[[User], Client]
MEMBERS = "/c/acme-corp/members/"
ROLE = "/c/acme-corp/members/role"
REMOVE = "/c/acme-corp/members/remove"
LAST_ADMIN = "Acme Corp needs at least one admin: make someone else an admin first."


@pytest.fixture
def second_admin(customer: Customer) -> User:
    user = User.objects.create_user("second@acme.test", PASSWORD, name="Sam Second")
    Membership.objects.create(user=user, customer=customer, role=Membership.Role.ADMIN)
    return user


def _roles(customer: Customer) -> dict[str, str]:
    return dict(Membership.objects.filter(customer=customer).values_list("user__email", "role"))


def test_the_page_offers_a_role_select_and_remove_per_member(
    login: Login, customer_admin: User, viewer: User
) -> None:
    html = login(customer_admin).get(MEMBERS).content.decode()

    assert html.count('action="/c/acme-corp/members/role"') == 2
    assert html.count('action="/c/acme-corp/members/remove"') == 2
    assert '<select name="role" aria-label="Role of viewer@acme.test">' in html
    assert '<option value="viewer" selected>Viewer</option>' in html
    assert "style=" not in html
    assert "<script>" not in html


def test_an_admin_makes_a_viewer_an_admin(
    login: Login, customer: Customer, customer_admin: User, viewer: User
) -> None:
    client = login(customer_admin)

    response = client.post(ROLE, {"email": "viewer@acme.test", "role": "admin"}, follow=True)

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert [str(m) for m in response.context["messages"]] == ["viewer@acme.test is now an admin."]
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "admin"}
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_ROLE_CHANGED)
    assert entry.actor == customer_admin
    assert entry.changes == {"role": ["viewer", "admin"]}


def test_the_email_is_matched_ignoring_case(
    login: Login, customer: Customer, customer_admin: User, viewer: User
) -> None:
    login(customer_admin).post(ROLE, {"email": "Viewer@Acme.TEST", "role": "admin"})

    assert _roles(customer)["viewer@acme.test"] == "admin"


def test_the_last_admin_cannot_make_themselves_a_viewer(
    login: Login, customer: Customer, customer_admin: User, viewer: User
) -> None:
    response = login(customer_admin).post(
        ROLE, {"email": "admin@acme.test", "role": "viewer"}, follow=True
    )

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert [str(m) for m in response.context["messages"]] == [LAST_ADMIN]
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}


def test_an_admin_who_makes_themselves_a_viewer_goes_to_the_dashboard(
    login: Login, customer: Customer, customer_admin: User, second_admin: User
) -> None:
    client = login(customer_admin)

    response = client.post(ROLE, {"email": "admin@acme.test", "role": "viewer"}, follow=True)

    assert response.redirect_chain == [("/c/acme-corp/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["You are now a viewer of Acme Corp."]
    assert _roles(customer) == {"admin@acme.test": "viewer", "second@acme.test": "admin"}
    assert client.get(MEMBERS).status_code == 404


def test_saving_the_same_role_says_so_and_writes_nothing(
    login: Login, customer_admin: User, viewer: User
) -> None:
    response = login(customer_admin).post(
        ROLE, {"email": "viewer@acme.test", "role": "viewer"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "viewer@acme.test is already a viewer."
    ]
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_ROLE_CHANGED).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"email": "viewer@acme.test", "role": "owner"},
            "“owner” is not a role: choose admin or viewer.",
        ),
        ({"email": "viewer@acme.test"}, "Choose a role: admin or viewer."),
        ({"role": "admin"}, "Say which member: their email address."),
        ({"email": "not an email", "role": "admin"}, "“not an email” is not an email address."),
        (
            {"email": "admin@globex.test", "role": "admin"},
            "admin@globex.test is not a member of Acme Corp.",
        ),
    ],
)
def test_bad_role_changes_say_why_and_change_nothing(
    login: Login,
    customer: Customer,
    customer_admin: User,
    viewer: User,
    outsider: User,
    data: dict[str, str],
    message: str,
) -> None:
    response = login(customer_admin).post(ROLE, data, follow=True)

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert [str(m) for m in response.context["messages"]] == [message]
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}
    assert Membership.objects.get(user=outsider).role == "admin"
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_ROLE_CHANGED).exists()


def test_remove_asks_first_then_removes(
    login: Login, customer: Customer, customer_admin: User, viewer: User
) -> None:
    client = login(customer_admin)

    asked = client.post(REMOVE, {"email": "viewer@acme.test"})

    assert asked.status_code == 200
    html = asked.content.decode()
    assert "Remove Vic Viewer from Acme Corp?" in html
    assert '<input type="hidden" name="confirmed" value="on">' in html
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}

    response = client.post(REMOVE, {"email": "viewer@acme.test", "confirmed": "on"}, follow=True)

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Removed viewer@acme.test from Acme Corp."
    ]
    assert _roles(customer) == {"admin@acme.test": "admin"}
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MEMBER_REMOVED)
    assert entry.actor == customer_admin
    assert entry.changes == {"role": ["viewer", None]}


def test_a_removed_member_no_longer_sees_the_customer(
    login: Login, client: Client, customer_admin: User, viewer: User
) -> None:
    login(customer_admin).post(REMOVE, {"email": "viewer@acme.test", "confirmed": "on"})

    client.force_login(viewer)
    assert client.get("/c/acme-corp/").status_code == 404


def test_the_last_admin_cannot_remove_themselves(
    login: Login, customer: Customer, customer_admin: User, viewer: User
) -> None:
    response = login(customer_admin).post(
        REMOVE, {"email": "admin@acme.test", "confirmed": "on"}, follow=True
    )

    assert response.redirect_chain == [(MEMBERS, 302)]
    assert [str(m) for m in response.context["messages"]] == [LAST_ADMIN]
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_REMOVED).exists()


def test_an_admin_who_removes_themselves_leaves_and_goes_home(
    login: Login, customer: Customer, customer_admin: User, second_admin: User
) -> None:
    client = login(customer_admin)

    asked = client.post(REMOVE, {"email": "admin@acme.test"})
    assert "Leave Acme Corp?" in asked.content.decode()

    response = client.post(REMOVE, {"email": "admin@acme.test", "confirmed": "on"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _roles(customer) == {"second@acme.test": "admin"}
    assert client.get("/c/acme-corp/").status_code == 404
    assert client.get(MEMBERS).status_code == 404


def test_removing_someone_not_a_member_says_so(
    login: Login, customer: Customer, customer_admin: User, viewer: User
) -> None:
    response = login(customer_admin).post(
        REMOVE, {"email": "nobody@acme.test", "confirmed": "on"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        "nobody@acme.test is not a member of Acme Corp."
    ]
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}


def test_staff_change_roles_and_remove_members(
    login: Login, customer: Customer, account_manager: User, customer_admin: User, viewer: User
) -> None:
    client = login(account_manager)

    client.post(ROLE, {"email": "viewer@acme.test", "role": "admin"})
    client.post(REMOVE, {"email": "admin@acme.test", "confirmed": "on"})

    assert _roles(customer) == {"viewer@acme.test": "admin"}
    assert AuditEntry.objects.filter(actor=account_manager).count() == 2


@pytest.mark.parametrize("path", [ROLE, REMOVE])
@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_viewers_and_outsiders_get_404_and_change_nothing(
    login: Login,
    customer: Customer,
    customer_admin: User,
    viewer: User,
    outsider: User,
    path: str,
    who: str,
) -> None:
    client = login(viewer if who == "viewer" else outsider)

    response = client.post(path, {"email": "admin@acme.test", "role": "viewer", "confirmed": "on"})

    assert response.status_code == 404
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}


@pytest.mark.parametrize("path", [ROLE, REMOVE])
def test_the_actions_are_post_only(login: Login, customer_admin: User, path: str) -> None:
    assert login(customer_admin).get(path).status_code == 405


@pytest.mark.parametrize("path", [ROLE, REMOVE])
def test_the_actions_need_the_csrf_token(
    customer: Customer, customer_admin: User, viewer: User, path: str
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_admin)

    response = client.post(path, {"email": "viewer@acme.test", "role": "admin", "confirmed": "on"})

    assert response.status_code == 403
    assert _roles(customer) == {"admin@acme.test": "admin", "viewer@acme.test": "viewer"}
