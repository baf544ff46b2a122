"""The audit log: who changed which entitlement, seat, member or token, when, from where."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from licensing import services
from licensing.models import ApiToken, AuditEntry, Customer, Entitlement, Membership, Product
from portal.models import User

A = AuditEntry.Action


def _by_people() -> Any:
    """Entries of changes people made: the fixtures' own (customers, tokens) are the system's."""
    return AuditEntry.objects.exclude(actor_label="system")


def _entitlement_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "seats": "100",
        "overdraft": "seats",
        "overdraft_seats": "20",
        "overdraft_percent": "",
        "lease_seconds": "",
        "starts_at": "2026-01-01T00:00",
        "ends_at": "",
    }
    data.update(overrides)
    return data


def _only(action: str) -> AuditEntry:
    (entry,) = AuditEntry.objects.filter(action=action)
    return entry


def test_team_entitlement_changes_are_audited_with_actor_ip_and_changes(
    staff_client: Client, account_manager: User, customer: Customer, product: Product
) -> None:
    response = staff_client.post(
        f"/team/customers/{customer.slug}/entitlements/new",
        _entitlement_form(product=str(product.pk)),
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    entitlement = Entitlement.objects.get()
    created = _only(A.ENTITLEMENT_CREATED)
    assert (created.actor, created.actor_label, created.ip) == (
        account_manager,
        "am@vendor.test",
        "203.0.113.7",
    )
    assert (created.target_type, created.target_id, created.customer) == (
        "entitlement",
        str(entitlement.pk),
        customer,
    )
    assert created.changes["seats"] == [None, 100]
    assert created.changes["hard_limit"] == [None, 120]

    staff_client.post(
        f"/team/entitlements/{entitlement.pk}/edit", _entitlement_form(overdraft_seats="30")
    )
    assert _only(A.ENTITLEMENT_UPDATED).changes == {"hard_limit": [120, 130]}

    staff_client.post(f"/team/entitlements/{entitlement.pk}/suspend")
    staff_client.post(f"/team/entitlements/{entitlement.pk}/resume")
    assert _only(A.ENTITLEMENT_SUSPENDED).changes == {"status": ["active", "suspended"]}
    assert _only(A.ENTITLEMENT_RESUMED).changes == {"status": ["suspended", "active"]}


def test_a_save_that_changes_nothing_is_not_audited(
    staff_client: Client, entitlement: Entitlement
) -> None:
    staff_client.post(f"/team/entitlements/{entitlement.pk}/resume")  # already active
    assert not _by_people().exists()


def test_vendor_api_changes_are_audited_as_the_token(
    vendor: APIClient, account_manager: User, customer: Customer, product: Product
) -> None:
    token = ApiToken.objects.get()
    body = {"customer": str(customer.pk), "product": str(product.pk), "seats": 10}
    response = vendor.post("/api/v1/entitlements", {**body, "hard_limit": 12}, format="json")
    assert response.status_code == 201
    entitlement_id = response.json()["id"]
    vendor.patch(f"/api/v1/entitlements/{entitlement_id}", {"seats": 11}, format="json")
    vendor.post(f"/api/v1/entitlements/{entitlement_id}/suspend")
    vendor.post(f"/api/v1/entitlements/{entitlement_id}/resume")
    vendor.post("/api/v1/customers", {"name": "Initech"}, format="json")

    actions = list(_by_people().order_by("occurred_at").values_list("action", flat=True))
    assert actions == [
        A.ENTITLEMENT_CREATED,
        A.ENTITLEMENT_UPDATED,
        A.ENTITLEMENT_SUSPENDED,
        A.ENTITLEMENT_RESUMED,
        A.CUSTOMER_CREATED,
    ]
    for entry in _by_people():
        assert entry.actor == account_manager
        assert entry.actor_label == f"token {token.prefix} (am@vendor.test)"
        assert entry.ip == "127.0.0.1"
    assert _only(A.ENTITLEMENT_UPDATED).changes == {"seats": [10, 11]}


def test_seat_revokes_are_audited_from_the_portal_and_the_api(
    admin_client: Client, vendor: APIClient, customer_admin: User, entitlement: Entitlement
) -> None:
    first = services.seat_activate(entitlement=entitlement, fingerprint="pc-1").seat
    second = services.seat_activate(entitlement=entitlement, fingerprint="pc-2").seat
    assert first is not None and second is not None
    base = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}"
    admin_client.post(f"{base}/seats/{first.pk}/release")
    admin_client.post(f"{base}/seats/{first.pk}/release")  # already released: no entry
    vendor.post(f"/api/v1/entitlements/{entitlement.pk}/seats/{second.pk}/revoke")

    entries = list(AuditEntry.objects.filter(action=A.SEAT_REVOKED).order_by("occurred_at"))
    assert [(e.target_id, e.customer_id) for e in entries] == [
        (str(first.pk), entitlement.customer_id),
        (str(second.pk), entitlement.customer_id),
    ]
    assert entries[0].actor == customer_admin
    assert entries[0].target_label == "pc-1 on Design Studio"
    assert entries[1].actor_label.startswith("token odp_")


def test_invitations_and_joining_are_audited(
    staff_client: Client,
    admin_client: Client,
    customer: Customer,
    customer_admin: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves after commit
        staff_client.post(
            f"/team/customers/{customer.slug}/invitations",
            {"email": "boss@acme.test", "role": "admin"},
        )
    admin_client.post(f"/c/{customer.slug}/members/", {"email": "new@acme.test"})
    invited = list(AuditEntry.objects.filter(action=A.MEMBER_INVITED).order_by("occurred_at"))
    assert [(e.actor_label, e.target_label, e.customer) for e in invited] == [
        ("am@vendor.test", "boss@acme.test (admin)", customer),
        ("admin@acme.test", "new@acme.test (viewer)", customer),
    ]

    link = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", str(mail.outbox[0].body))
    assert link
    password = "a-long-and-unusual-passphrase-42"
    Client().post(link.group(1), {"name": "Bo", "password1": password, "password2": password})
    joined = _only(A.MEMBER_JOINED)
    boss = User.objects.get(email="boss@acme.test")
    assert (joined.actor, joined.target_type, joined.customer) == (boss, "membership", customer)
    assert joined.target_id == str(Membership.objects.get(user=boss).pk)


def test_token_create_and_revoke_are_audited(staff_client: Client, account_manager: User) -> None:
    staff_client.post("/team/tokens/new", {"name": "CRM sync", "read_only": "on"})
    token = ApiToken.objects.get()
    staff_client.post(f"/team/tokens/{token.pk}/revoke")
    staff_client.post(f"/team/tokens/{token.pk}/revoke")  # already revoked: no entry

    created, revoked = _only(A.TOKEN_CREATED), _only(A.TOKEN_REVOKED)
    assert created.changes == {"name": [None, "CRM sync"], "read_only": [None, True]}
    assert created.target_id == revoked.target_id == str(token.pk)
    assert revoked.actor == account_manager


@pytest.fixture
def entries(customer: Customer, other_customer: Customer, account_manager: User) -> None:
    """A few entries of two customers by two actors: both customers were created by the
    system (the fixtures), an entitlement of Acme's by the account manager."""
    services.entitlement_create(
        customer=customer,
        product=services.product_create(name="CAD"),
        seats=5,
        hard_limit=5,
        actor=services.Actor.of(account_manager),
    )


def test_audit_page_lists_newest_first_and_filters(
    staff_client: Client, entries: None, customer: Customer, other_customer: Customer
) -> None:
    page = staff_client.get("/team/audit/")
    assert page.status_code == 200
    rows = re.findall(r"<code>([a-z_.]+)</code></a>", page.content.decode())
    assert rows == ["entitlement.created", "customer.created", "customer.created"]
    assert 'href="/team/audit/" aria-current="page"' in page.content.decode()

    def actions(**query: str) -> list[str]:
        response = staff_client.get("/team/audit/", query)
        assert response.status_code == 200
        return [e.action for e in response.context["page"]]

    assert actions(customer=customer.slug) == ["entitlement.created", "customer.created"]
    assert actions(action="entitlement.created") == ["entitlement.created"]
    assert actions(actor="am@vendor") == ["entitlement.created"]
    assert actions(actor="system") == ["customer.created", "customer.created"]
    bad = staff_client.get("/team/audit/", {"customer": "no-such-customer"})
    assert bad.context["page"] is None
    assert "No customer has this slug." in bad.content.decode()


def test_audit_page_is_paginated_with_constant_queries(
    staff_client: Client,
    customer: Customer,
    account_manager: User,
    django_assert_max_num_queries: Any,
) -> None:
    for _ in range(60):
        services.audit_record(
            actor=services.Actor.of(account_manager), action=A.CUSTOMER_CREATED, target=customer
        )
    with django_assert_max_num_queries(6):  # session, user, count, page (with customers)
        first = staff_client.get("/team/audit/")
    assert len(first.context["page"]) == 50
    second = staff_client.get("/team/audit/", {"page": 2})
    assert len(second.context["page"]) == 11  # and the fixture's customer.created, by the system


def test_audit_page_is_for_the_account_team_only(
    customer_admin: User, admin_client: Client, client: Client, entries: None
) -> None:
    assert admin_client.get("/team/audit/").status_code == 404
    assert client.get("/team/audit/").status_code == 302  # to the login page


def test_webhook_endpoint_changes_are_audited(
    admin_client: Client, customer: Customer, customer_admin: User, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    base = f"/c/{customer.slug}/webhooks/"
    admin_client.post(f"{base}new/", {"url": "http://127.0.0.1:9/hook", "enabled": "on"})
    created = _only(A.WEBHOOK_ENDPOINT_CREATED)
    endpoint_id = created.target_id
    admin_client.post(
        f"{base}{endpoint_id}/edit/", {"url": "http://127.0.0.1:9/other", "enabled": "on"}
    )
    admin_client.post(f"{base}{endpoint_id}/rotate/")
    admin_client.post(f"{base}{endpoint_id}/delete/")

    assert created.changes["url"] == [None, "http://127.0.0.1:9/hook"]
    assert _only(A.WEBHOOK_ENDPOINT_UPDATED).changes == {
        "url": ["http://127.0.0.1:9/hook", "http://127.0.0.1:9/other"]
    }
    assert _only(A.WEBHOOK_ENDPOINT_SECRET_ROTATED).changes == {}  # never the secret itself
    deleted = _only(A.WEBHOOK_ENDPOINT_DELETED)
    assert (deleted.target_id, deleted.customer, deleted.actor) == (
        endpoint_id,
        customer,
        customer_admin,
    )
    assert deleted.changes["url"] == ["http://127.0.0.1:9/other", None]


def test_webhook_endpoint_changes_through_the_api_are_audited(
    vendor: APIClient, customer: Customer, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    created = vendor.post(
        "/api/v1/webhook-endpoints",
        {"url": "http://127.0.0.1:9/hook", "customer": str(customer.pk)},
        format="json",
    )
    assert created.status_code == 201, created.json()
    path = f"/api/v1/webhook-endpoints/{created.json()['id']}"
    vendor.patch(path, {"enabled": False}, format="json")
    vendor.patch(path, {"enabled": False}, format="json")  # no change: no entry
    vendor.post(f"{path}/rotate-secret")
    vendor.delete(path)

    actions = list(_by_people().order_by("occurred_at").values_list("action", flat=True))
    assert actions == [
        A.WEBHOOK_ENDPOINT_CREATED,
        A.WEBHOOK_ENDPOINT_UPDATED,
        A.WEBHOOK_ENDPOINT_SECRET_ROTATED,
        A.WEBHOOK_ENDPOINT_DELETED,
    ]
    assert _only(A.WEBHOOK_ENDPOINT_UPDATED).changes == {"enabled": [True, False]}
    assert {e.customer for e in _by_people()} == {customer}
    assert all(e.actor_label.startswith("token odp_") for e in _by_people())
