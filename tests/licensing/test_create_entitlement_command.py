"""`manage.py create_entitlement` prints the new entitlement as one JSON object."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from licensing.models import Customer, Entitlement, Event, Product


def _run(*args: str) -> dict:
    out = StringIO()
    call_command("create_entitlement", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, out.getvalue()
    return json.loads(lines[0])


def test_command_prints_the_id_and_license_key_of_a_new_entitlement(db):
    printed = _run(
        "--customer", "Initech", "--product", "Render Farm", "--seats", "100", "--hard-limit", "120"
    )

    entitlement = Entitlement.objects.get(pk=printed["id"])
    assert printed["license_key"] == entitlement.license_key
    assert (entitlement.seats, entitlement.hard_limit, entitlement.lease_seconds) == (
        100,
        120,
        None,
    )
    assert entitlement.customer.name == printed["customer"]["name"] == "Initech"
    assert entitlement.product.name == printed["product"]["name"] == "Render Farm"
    assert (
        Event.objects.filter(entitlement=entitlement, type=Event.Type.ENTITLEMENT_CREATED).count()
        == 1
    )


def test_running_twice_reuses_the_customer_and_product(db):
    args = ("--customer", "Initech", "--product", "Render Farm", "--seats", "5")
    first = _run(*args)
    second = _run(*args)

    assert first["id"] != second["id"]
    assert first["license_key"] != second["license_key"]
    assert Customer.objects.filter(name="Initech").count() == 1
    assert Product.objects.filter(name="Render Farm").count() == 1
    assert Entitlement.objects.count() == 2
    assert first["customer"]["id"] == second["customer"]["id"]
    assert first["product"]["id"] == second["product"]["id"]


def test_default_hard_limit_means_no_overdraft_and_unlimited_means_none(db):
    strict = _run("--customer", "A", "--product", "P", "--seats", "5")
    unlimited = _run("--customer", "A", "--product", "P", "--seats", "5", "--unlimited")
    floating = _run("--customer", "A", "--product", "P", "--seats", "5", "--lease-seconds", "300")

    assert strict["hard_limit"] == 5
    assert unlimited["hard_limit"] is None
    assert Entitlement.objects.get(pk=floating["id"]).lease_seconds == 300


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--seats", "10", "--hard-limit", "5"), "hard limit (5) cannot be below the entitled"),
        (("--seats", "10", "--hard-limit", "12", "--unlimited"), "not both"),
        (("--seats", "10", "--lease-seconds", "0"), "lease"),
        (
            (
                "--seats",
                "-1",
            ),
            "negative",
        ),
    ],
    ids=["hard-limit-below-seats", "limit-and-unlimited", "zero-lease", "negative-seats"],
)
def test_impossible_entitlement_is_a_clear_command_error_and_creates_nothing(db, args, words):
    with pytest.raises(CommandError) as refused:
        call_command(
            "create_entitlement",
            "--customer",
            "Initech",
            "--product",
            "Render Farm",
            *args,
            stdout=StringIO(),
        )

    assert words in str(refused.value).lower()
    assert Customer.objects.count() == Product.objects.count() == Entitlement.objects.count() == 0
    assert Event.objects.count() == 0
