"""Customers and products: list, detail, create; read-only tokens cannot create."""

import uuid

import pytest

from licensing.models import Customer, Product

pytestmark = pytest.mark.django_db


def test_customers_list_is_paginated_by_name(vendor, customer, other_customer):
    body = vendor.get("/api/v1/customers?limit=1").json()
    assert body["count"] == 2
    assert [c["name"] for c in body["results"]] == ["Acme Corp"]
    assert body["next"] is not None
    assert vendor.get(body["next"]).json()["results"][0]["name"] == "Globex"


def test_customer_detail(vendor, customer):
    body = vendor.get(f"/api/v1/customers/{customer.pk}").json()
    assert body["id"] == str(customer.pk)
    assert body["account_manager"] == "am@vendor.test"


def test_unknown_customer_is_404(vendor, db):
    response = vendor.get(f"/api/v1/customers/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_create_customer(vendor, account_manager):
    response = vendor.post(
        "/api/v1/customers",
        {"name": "Initech", "account_manager": "AM@vendor.test"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    customer = Customer.objects.get(name="Initech")
    assert customer.account_manager == account_manager
    assert response.json()["slug"] == "initech"


def test_create_customer_refuses_a_customer_user_as_account_manager(vendor, customer_admin):
    response = vendor.post(
        "/api/v1/customers",
        {"name": "Initech", "account_manager": customer_admin.email},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["account_manager"] == [
        "No account-team member has this email."
    ]


def test_read_only_token_cannot_create_customers_or_products(vendor_ro, db):
    assert vendor_ro.post("/api/v1/customers", {"name": "X"}, format="json").status_code == 403
    assert vendor_ro.post("/api/v1/products", {"name": "X"}, format="json").status_code == 403
    assert not Customer.objects.exists()
    assert not Product.objects.exists()


def test_products_list_detail_create(vendor, product):
    assert vendor.get("/api/v1/products").json()["results"][0]["code"] == "design-studio"
    assert vendor.get(f"/api/v1/products/{product.pk}").json()["name"] == "Design Studio"
    response = vendor.post(
        "/api/v1/products", {"name": "Render Farm", "code": "render"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["code"] == "render"


def test_duplicate_product_code_is_400(vendor, product):
    response = vendor.post(
        "/api/v1/products", {"name": "Again", "code": "design-studio"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "code" in response.json()["errors"]


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "limit=100000"], ids=str)
def test_bad_pagination_is_400(vendor, db, query):
    response = vendor.get(f"/api/v1/products?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_malformed_json_is_400_in_the_error_shape(vendor, db):
    response = vendor.post("/api/v1/products", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_customer_list_query_count_does_not_grow(vendor, django_assert_max_num_queries, db):
    from licensing import services

    for n in range(5):
        services.customer_create(name=f"Customer {n}")
    with django_assert_max_num_queries(4):
        assert vendor.get("/api/v1/customers").status_code == 200


def test_a_name_longer_than_the_schema_allows_is_refused_before_trimming(vendor):
    # The schema says maxLength 200 of the text as sent; trimming must not make 201 fit.
    response = vendor.post("/api/v1/customers", {"name": "\n" + "x" * 200}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == [
        "Ensure this field has no more than 200 characters."
    ]
    assert vendor.post("/api/v1/customers", {"name": "x" * 200}, format="json").status_code == 201
