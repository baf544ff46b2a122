"""A customer's name is unique, ignoring case and surrounding spaces: creating "Hooli & Sons"
twice is refused by the service, and so on the team's form and the vendor API."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from licensing import services
from licensing.models import AuditEntry, Customer
from licensing.services.tokens import api_token_create
from portal.models import User

TAKEN = "A customer named “Hooli & Sons” exists already."


def test_a_name_taken_in_another_case_or_spacing_is_refused(db: None) -> None:
    services.customer_create(name="Hooli & Sons")

    for name in ("Hooli & Sons", "  hooli & SONS "):
        with pytest.raises(ValidationError) as error:
            services.customer_create(name=name)
        assert error.value.message_dict == {"name": [TAKEN]}
    assert Customer.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CUSTOMER_CREATED).count() == 1


def test_names_that_only_slugify_alike_are_different_customers(db: None) -> None:
    first = services.customer_create(name="Hooli & Sons")
    second = services.customer_create(name="Hooli Sons")

    assert (first.slug, second.slug) == ("hooli-sons", "hooli-sons-2")


def test_team_form_shows_the_taken_name_next_to_the_field(
    client: Client, account_manager: User
) -> None:
    services.customer_create(name="Hooli & Sons")
    client.force_login(account_manager)

    response = client.post("/team/customers/new", {"name": "hooli & sons"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"name": [TAKEN]}
    assert "A customer named “Hooli &amp; Sons” exists already." in response.content.decode()
    assert Customer.objects.count() == 1


def test_vendor_api_answers_400_with_the_field_error(account_manager: User) -> None:
    services.customer_create(name="Hooli & Sons")
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=account_manager, name='CRM')[1]}"
    )

    response = api.post("/api/v1/customers", {"name": "HOOLI & SONS"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_request",
        "message": f"name: {TAKEN}",
        "errors": {"name": [TAKEN]},
    }
    assert Customer.objects.count() == 1
