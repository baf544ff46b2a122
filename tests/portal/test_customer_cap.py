"""A customer admin sets their own cap on the entitlement page; the account team sees it."""

from datetime import UTC, datetime
from typing import Any

import pytest

from licensing import services
from licensing.models import AuditEntry, EntitlementTerms, Event

pytestmark = pytest.mark.django_db


def _cap_url(entitlement: Any) -> str:
    return f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/cap"


def _page_url(entitlement: Any) -> str:
    return f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/"


def test_an_admin_caps_the_entitlement_at_110(login, customer_admin, entitlement):
    client = login(customer_admin)

    response = client.post(_cap_url(entitlement), {"customer_cap": "110"}, follow=True)

    assert response.redirect_chain == [(_page_url(entitlement) + "#cap", 302)]
    assert "Your cap is 110 seats: activations past it are denied." in response.content.decode()
    entitlement.refresh_from_db()
    assert entitlement.customer_cap == 110
    audit = AuditEntry.objects.get(action=AuditEntry.Action.CUSTOMER_CAP_CHANGED)
    assert (audit.actor, audit.changes) == (
        customer_admin,
        {"customer_cap": [None, 110]},
    )
    terms = EntitlementTerms.objects.filter(entitlement=entitlement).order_by(
        "effective_from", "id"
    )
    assert [(t.seats, t.hard_limit, t.customer_cap) for t in terms] == [
        (100, 120, None),
        (100, 120, 110),
    ]
    updated = Event.objects.get(type=Event.Type.ENTITLEMENT_UPDATED)
    assert updated.data["changes"] == {"customer_cap": [None, 110]}
    page = client.get(_page_url(entitlement)).content.decode()
    assert "capped by you at 110" in page
    assert 'value="110"' in page


def test_an_empty_cap_removes_it(login, customer_admin, entitlement):
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)
    client = login(customer_admin)

    response = client.post(_cap_url(entitlement), {"customer_cap": ""}, follow=True)

    assert "Your cap is removed: the vendor&#x27;s hard limit applies." in response.content.decode()
    entitlement.refresh_from_db()
    assert entitlement.customer_cap is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99", "A cap below the 100 entitled seats would deny seats you are entitled to;"),
        ("121", "The vendor&#x27;s hard limit is 120; a cap can be at most 120."),
        ("many", "Enter a whole number."),
        ("-5", "Ensure this value is greater than or equal to 0."),
    ],
)  # fmt: skip
def test_a_cap_outside_the_lines_is_refused_and_changes_nothing(
    login, customer_admin, entitlement, value, message
):
    client = login(customer_admin)

    response = client.post(_cap_url(entitlement), {"customer_cap": value}, follow=True)

    assert message in response.content.decode()
    entitlement.refresh_from_db()
    assert entitlement.customer_cap is None
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CUSTOMER_CAP_CHANGED).exists()


def test_a_cap_below_the_seats_in_use_is_refused_with_the_count(
    login, customer_admin, make_entitlement
):
    small = make_entitlement(seats=2, hard_limit=5)
    for n in range(4):
        services.seat_activate(entitlement=small, fingerprint=f"m-{n}")
    client = login(customer_admin)

    response = client.post(_cap_url(small), {"customer_cap": "3"}, follow=True)

    assert "4 seats are in use, so the cap cannot go below 4. Release seats first." in (
        response.content.decode()
    )
    small.refresh_from_db()
    assert small.customer_cap is None


def test_viewers_cannot_set_a_cap(login, viewer, entitlement):
    response = login(viewer).post(_cap_url(entitlement), {"customer_cap": "110"})

    assert response.status_code == 404
    entitlement.refresh_from_db()
    assert entitlement.customer_cap is None


def test_viewers_see_the_cap_without_the_form(login, viewer, entitlement):
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)

    page = login(viewer).get(_page_url(entitlement)).content.decode()

    assert "Activations past <strong>110</strong> seats are denied" in page
    assert 'name="customer_cap"' not in page


def test_the_team_sees_the_cap_on_the_customer_page(login, account_manager, entitlement):
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)

    page = login(account_manager).get(f"/team/customers/{entitlement.customer.slug}/")

    assert "capped by customer at 110" in page.content.decode()


def test_raising_the_seats_past_the_cap_removes_it(entitlement):
    services.entitlement_set_customer_cap(entitlement=entitlement, customer_cap=110)

    services.entitlement_update(entitlement=entitlement, seats=115, hard_limit=140)

    entitlement.refresh_from_db()
    assert entitlement.customer_cap is None
    updated = Event.objects.filter(type=Event.Type.ENTITLEMENT_UPDATED).latest("seq")
    assert updated.data["changes"] == {
        "seats": [100, 115],
        "hard_limit": [120, 140],
        "customer_cap": [110, None],
    }


def test_the_chart_draws_the_cap_in_force_each_hour(
    login, customer_admin, make_entitlement, time_machine
):
    """Capped at 10:30: the 10:00 hour is judged by the more generous line (no cap), the hours
    after it by the cap."""
    time_machine.move_to(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False)
    capped = make_entitlement(seats=100, hard_limit=120)
    time_machine.move_to(datetime(2026, 3, 2, 10, 30, tzinfo=UTC), tick=False)
    services.entitlement_set_customer_cap(entitlement=capped, customer_cap=110)
    time_machine.move_to(datetime(2026, 3, 2, 12, 15, tzinfo=UTC), tick=False)

    page = login(customer_admin).get(_page_url(capped) + "?range=24h")

    chart = page.context["chart"]
    assert chart["customer_cap"] == 110
    caps = {
        p["t"][11:16]: p["customer_cap"] for p in chart["points"] if p["t"][:10] == "2026-03-02"
    }
    assert [caps["09:00"], caps["10:00"], caps["11:00"], caps["12:00"]] == [None, None, 110, 110]
    assert [c["summary"] for c in chart["changes"]] == ["Customer capped at 110 by system"]


# --- the license key on the same page --------------------------------------------------------


def test_admins_see_the_key_masked_with_a_copy_button(login, customer_admin, entitlement):
    page = login(customer_admin).get(_page_url(entitlement)).content.decode()

    key = entitlement.license_key
    masked = f"{key[:5]}-•••••-•••••-•••••-{key[-5:]}"
    assert f'<code class="key">{masked}</code>' in page
    assert f'data-copy="{key}"' in page
    assert page.count(key) == 1  # only in the copy button


def test_viewers_do_not_see_the_key(login, viewer, entitlement):
    page = login(viewer).get(_page_url(entitlement)).content.decode()

    assert entitlement.license_key not in page
    assert "Rotate…" not in page


def test_an_admin_rotates_the_key_with_a_grace_period(login, customer_admin, entitlement):
    old = entitlement.license_key
    client = login(customer_admin)
    url = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/key/rotate"
    question = client.get(url).content.decode()
    assert "Rotate the license key of Design Studio?" in question
    assert f"{old[:5]}-•••••-•••••-•••••-{old[-5:]}" in question

    response = client.post(url, {"grace_hours": "24"}, follow=True)

    entitlement.refresh_from_db()
    assert entitlement.license_key != old
    assert entitlement.previous_license_key == old
    until = entitlement.previous_key_valid_until
    assert until is not None
    page = response.content.decode()
    assert f"New key issued. The previous key works until {until:%d %b %Y %H:%M} UTC." in page
    assert f"The previous key <code>…{old[-5:]}</code> still works until" in page


def test_a_grace_that_is_not_offered_is_refused(login, customer_admin, entitlement):
    old = entitlement.license_key
    url = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/key/rotate"

    response = login(customer_admin).post(url, {"grace_hours": "5"})

    assert response.status_code == 200
    assert "Select a valid choice. 5 is not one of the available choices." in (
        response.content.decode()
    )
    entitlement.refresh_from_db()
    assert entitlement.license_key == old


def test_viewers_cannot_rotate(login, viewer, entitlement):
    url = f"/c/{entitlement.customer.slug}/entitlements/{entitlement.pk}/key/rotate"
    assert login(viewer).post(url, {"grace_hours": "24"}).status_code == 404
