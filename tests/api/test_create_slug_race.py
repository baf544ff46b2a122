"""Concurrent creates of customers (and products) whose names slugify alike: each gets its own
slug (code); concurrent creates of one customer name make one customer and refuse the rest.

Real threads, one PostgreSQL connection each, released together by a barrier: they all look
for a free slug at the same moment and find the same one. None may answer 500.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from licensing import services
from licensing.models import AuditEntry, Customer, Product
from licensing.services import accounts
from tests.api.conftest import bearer

CLIENTS = 8


def alike(name: str) -> list[str]:
    """CLIENTS different names (a customer's name is unique) with the slug of `name`."""
    first, last = name.rsplit(" ", 1)
    names = [f"{first}{sep}{last}{end}" for sep in (" ", "-", ", ", " - ") for end in ("", ".")]
    assert len(names) == CLIENTS
    return names


def post_together(token: str, path: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST each body from its own thread, all at once; the responses, in no order."""
    barrier = threading.Barrier(len(bodies))
    responses: list[Any] = []
    lock = threading.Lock()

    def work(body: dict[str, Any]) -> None:
        client: APIClient = bearer(token)
        client.raise_request_exception = False  # a 500 is an answer to count, not a crash
        try:
            connection.ensure_connection()  # connect before the start line, not after it
            barrier.wait(timeout=30)
            response = client.post(path, body, format="json")
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    assert len(responses) == len(bodies), "a client thread failed without an answer"
    return responses


def statuses(responses: list[Any]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_customers_with_one_name_make_one_and_refuse_the_rest(token: str) -> None:
    responses = post_together(token, "/api/v1/customers", [{"name": "Slug Race Co"}] * CLIENTS)
    assert statuses(responses) == {201: 1, 400: CLIENTS - 1}, [r.content for r in responses]
    taken = "A customer named “Slug Race Co” exists already."
    for response in responses:
        if response.status_code == 400:
            assert response.json() == {
                "code": "invalid_request",
                "message": f"name: {taken}",
                "errors": {"name": [taken]},
            }
    assert Customer.objects.get().slug == "slug-race-co"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CUSTOMER_CREATED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_customers_whose_names_slugify_alike_all_get_their_own_slug(
    token: str,
) -> None:
    for names, base in (
        (alike("Slug Race Co"), "slug-race-co"),
        (alike("Other Race"), "other-race"),
    ):
        bodies = [{"name": name} for name in names]
        responses = post_together(token, "/api/v1/customers", bodies)
        assert statuses(responses) == {201: CLIENTS}, [r.content for r in responses]
        slugs = {response.json()["slug"] for response in responses}
        assert slugs == {base, *(f"{base}-{n}" for n in range(2, CLIENTS + 1))}
        rows = Customer.objects.filter(name__in=names)
        assert set(rows.values_list("slug", flat=True)) == slugs
        assert {str(pk) for pk in rows.values_list("pk", flat=True)} == {
            response.json()["id"] for response in responses
        }
    # Each create is audited once, as a lone one is.
    created = AuditEntry.objects.filter(action=AuditEntry.Action.CUSTOMER_CREATED)
    assert created.count() == 2 * CLIENTS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_products_with_one_name_all_get_their_own_code(token: str) -> None:
    responses = post_together(token, "/api/v1/products", [{"name": "Race Studio"}] * CLIENTS)
    assert statuses(responses) == {201: CLIENTS}, [r.content for r in responses]
    codes = {response.json()["code"] for response in responses}
    assert codes == {"race-studio", *(f"race-studio-{n}" for n in range(2, CLIENTS + 1))}
    assert Product.objects.filter(name="Race Studio").count() == CLIENTS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_products_with_one_given_code_make_one_and_refuse_the_rest(
    token: str,
) -> None:
    body = {"name": "Render Farm", "code": "render"}
    responses = post_together(token, "/api/v1/products", [body] * CLIENTS)
    assert statuses(responses) == {201: 1, 400: CLIENTS - 1}, [r.content for r in responses]
    for response in responses:
        if response.status_code == 400:
            assert response.json() == {
                "code": "invalid_request",
                "message": "code: Product with this Code already exists.",
                "errors": {"code": ["Product with this Code already exists."]},
            }
    assert Product.objects.filter(code="render").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_creates_that_keep_losing_the_race_get_a_clear_400(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "SLUG_ATTEMPTS", 1)
    names = alike("Busy Co")
    responses = post_together(token, "/api/v1/customers", [{"name": name} for name in names])
    assert set(statuses(responses)) <= {201, 400}, [r.content for r in responses]
    busy = {
        f"Too many customers named “{name}” are being created at once; try again." for name in names
    }
    for response in responses:
        if response.status_code == 400:
            message = response.json()["message"]
            assert message in busy
            assert response.json() == {
                "code": "invalid_request",
                "message": message,
                "errors": {"non_field_errors": [message]},
            }
    assert Customer.objects.filter(name__in=names).count() == statuses(responses)[201]


def test_a_slug_taken_after_the_check_is_retried_inside_the_callers_transaction(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.customer_create(name="Slug Race Co")
    # As if a concurrent create had taken "slug-race-co" between the check and the insert.
    stale = iter(["slug-race-co"])
    fresh = accounts._unique_slug
    monkeypatch.setattr(accounts, "_unique_slug", lambda *args: next(stale, None) or fresh(*args))
    with transaction.atomic():
        customer = services.customer_create(name="Slug-Race Co")
        assert Customer.objects.count() == 2  # the caller's transaction carries on
    assert customer.slug == "slug-race-co-2"
