"""Customer pages: what admins and viewers see and may do."""

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from licensing import services
from licensing.models import Customer, Entitlement, Membership, Seat
from portal.models import User

pytestmark = pytest.mark.django_db


def entitlement_url(entitlement: Entitlement, name: str = "entitlement", **kw: Any) -> str:
    return reverse(f"customer:{name}", args=[entitlement.customer.slug, entitlement.pk], **kw)


# --- home ---------------------------------------------------------------------------------------


def test_visitors_see_the_landing_page_with_a_login_link(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert reverse("account_login").encode() in response.content


def test_staff_go_to_the_team_home(login: Callable[[User], Client], account_manager: User) -> None:
    response = login(account_manager).get("/")

    assert response.status_code == 302
    assert response["Location"] == "/team/"


def test_a_member_of_one_customer_goes_to_its_dashboard(
    login: Callable[[User], Client], customer_admin: User, customer: Customer
) -> None:
    response = login(customer_admin).get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("customer:dashboard", args=[customer.slug])


def test_a_member_of_several_customers_picks_one(
    login: Callable[[User], Client], customer_admin: User, other_customer: Customer
) -> None:
    Membership.objects.create(user=customer_admin, customer=other_customer)

    response = login(customer_admin).get("/")

    assert response.status_code == 200
    assert b"Acme Corp" in response.content
    assert b"Globex" in response.content


# --- dashboard ----------------------------------------------------------------------------------


def test_dashboard_shows_each_entitlement_with_its_zone(
    login: Callable[[User], Client],
    viewer: User,
    customer: Customer,
    make_entitlement: Callable[..., Entitlement],
    make_seats: Callable[..., list[Seat]],
) -> None:
    overdrawn = make_entitlement(seats=2, hard_limit=4)
    make_seats(overdrawn, 3)
    unlimited = make_entitlement(
        product=services.product_create(name="Render Farm"), seats=5, hard_limit=None
    )

    response = login(viewer).get(reverse("customer:dashboard", args=[customer.slug]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Design Studio" in html and "Render Farm" in html
    assert "In overdraft" in html and "Within entitlement" in html
    assert "∞" in html
    assert entitlement_url(overdrawn) in html and entitlement_url(unlimited) in html
    # Viewers cannot manage notifications.
    assert reverse("customer:notifications", args=[customer.slug]) not in html


def test_dashboard_at_hard_limit_says_so(
    login: Callable[[User], Client],
    customer_admin: User,
    make_entitlement: Callable[..., Entitlement],
    make_seats: Callable[..., list[Seat]],
) -> None:
    full = make_entitlement(seats=1, hard_limit=2)
    make_seats(full, 2)

    response = login(customer_admin).get(reverse("customer:dashboard", args=["acme-corp"]))

    assert "At hard limit" in response.content.decode()


def test_dashboard_without_entitlements_has_an_empty_state(
    login: Callable[[User], Client], customer_admin: User, customer: Customer
) -> None:
    response = login(customer_admin).get(reverse("customer:dashboard", args=[customer.slug]))

    assert response.status_code == 200
    assert b"No entitlements yet" in response.content


# --- entitlement page ---------------------------------------------------------------------------


def test_entitlement_page_has_figures_chart_data_and_capacity_note(
    login: Callable[[User], Client],
    viewer: User,
    entitlement: Entitlement,
    make_history: Callable[..., Any],
) -> None:
    make_history(entitlement)

    response = login(viewer).get(entitlement_url(entitlement) + "?range=30d")

    assert response.status_code == 200
    html = response.content.decode()
    data = response.context["chart"]
    assert data["entitled"] == 100 and data["hard_limit"] == 120 and data["bucket"] == "day"
    assert len(data["points"]) == 30
    assert max(p["peak"] for p in data["points"]) == 120
    assert sum(p["denials"] for p in data["points"]) > 0
    assert 'id="usage-data"' in html
    assert "consider 130 seats" in html
    assert "Show as a table" in html
    assert entitlement_url(entitlement, "usage_csv") + "?range=30d" in html
    assert '<script src="/static/js/entitlement.js"></script>' in html


@pytest.mark.parametrize(("key", "points"), [("24h", 24), ("7d", 168), ("90d", 90), ("1y", 365)])
def test_entitlement_page_ranges(
    login: Callable[[User], Client], viewer: User, entitlement: Entitlement, key: str, points: int
) -> None:
    response = login(viewer).get(entitlement_url(entitlement), {"range": key})

    assert len(response.context["chart"]["points"]) == points


def test_entitlement_page_escapes_fingerprints_and_labels(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_denials: Callable[..., Any],
) -> None:
    evil = '<script>alert("x")</script>'
    services.seat_activate(entitlement=entitlement, fingerprint=evil, label="<b>bold</b>")
    make_denials(entitlement, 1, fingerprint="<img src=x onerror=alert(1)>")

    html = login(customer_admin).get(entitlement_url(entitlement)).content.decode()

    assert evil not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    assert "<img src=x" not in html


def test_seats_in_use_are_paginated_25_per_page(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    make_seats(entitlement, 30)
    client = login(customer_admin)

    first = client.get(entitlement_url(entitlement))
    second = client.get(entitlement_url(entitlement), {"page": 2})

    assert len(first.context["seats"].object_list) == 25
    assert len(second.context["seats"].object_list) == 5
    assert b"Page 1 of 2" in first.content


def test_recent_denials_are_listed(
    login: Callable[[User], Client],
    viewer: User,
    make_entitlement: Callable[..., Entitlement],
    make_seats: Callable[..., list[Seat]],
) -> None:
    small = make_entitlement(seats=1, hard_limit=1)
    make_seats(small, 1)
    services.seat_activate(entitlement=small, fingerprint="late-laptop", label="Late laptop")

    html = login(viewer).get(entitlement_url(small)).content.decode()

    assert "late-laptop" in html and "Late laptop" in html


def test_usage_csv_has_one_row_per_bucket(
    login: Callable[[User], Client],
    viewer: User,
    entitlement: Entitlement,
    make_history: Callable[..., Any],
) -> None:
    make_history(entitlement, hours=24 * 8)

    response = login(viewer).get(entitlement_url(entitlement, "usage_csv"), {"range": "7d"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 168
    assert rows[0].keys() >= {"bucket_start_utc", "peak_used", "denials", "overdraft_hours"}
    assert max(int(r["peak_used"]) for r in rows) == 120
    assert {r["entitled"] for r in rows} == {"100"} and {r["hard_limit"] for r in rows} == {"120"}


def test_chart_data_is_valid_json_in_the_page(
    login: Callable[[User], Client], viewer: User, entitlement: Entitlement
) -> None:
    html = login(viewer).get(entitlement_url(entitlement)).content.decode()

    start = html.index('<script id="usage-data" type="application/json">') + len(
        '<script id="usage-data" type="application/json">'
    )
    data = json.loads(html[start : html.index("</script>", start)])
    assert data["entitled"] == 100


# --- release ------------------------------------------------------------------------------------


def test_customer_admin_releases_a_seat(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    seat = make_seats(entitlement, 2)[0]

    response = login(customer_admin).post(
        reverse("customer:seat_release", args=[entitlement.customer.slug, entitlement.pk, seat.pk])
    )

    assert response.status_code == 302
    seat.refresh_from_db()
    entitlement.refresh_from_db()
    assert seat.release_reason == Seat.ReleaseReason.REVOKED
    assert entitlement.seats_used == 1
    assert entitlement.events.filter(type="seat.released").count() == 1


def test_staff_may_release_a_seat(
    login: Callable[[User], Client],
    account_manager: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    seat = make_seats(entitlement, 1)[0]

    login(account_manager).post(
        reverse("customer:seat_release", args=["acme-corp", entitlement.pk, seat.pk])
    )

    seat.refresh_from_db()
    assert seat.released_at is not None


def test_viewer_cannot_release_a_seat(
    login: Callable[[User], Client],
    viewer: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    seat = make_seats(entitlement, 1)[0]
    client = login(viewer)

    page = client.get(entitlement_url(entitlement)).content.decode()
    response = client.post(
        reverse("customer:seat_release", args=["acme-corp", entitlement.pk, seat.pk])
    )

    assert ">Release<" not in page
    assert response.status_code == 404
    seat.refresh_from_db()
    assert seat.released_at is None


def test_release_is_csrf_protected(
    customer_admin: User, entitlement: Entitlement, make_seats: Callable[..., list[Seat]]
) -> None:
    seat = make_seats(entitlement, 1)[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_admin)

    response = client.post(
        reverse("customer:seat_release", args=["acme-corp", entitlement.pk, seat.pk])
    )

    assert response.status_code == 403
    seat.refresh_from_db()
    assert seat.released_at is None


def test_a_seat_of_another_entitlement_is_not_found(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    make_entitlement: Callable[..., Entitlement],
    make_seats: Callable[..., list[Seat]],
) -> None:
    other = make_entitlement()
    seat = make_seats(other, 1)[0]

    response = login(customer_admin).post(
        reverse("customer:seat_release", args=["acme-corp", entitlement.pk, seat.pk])
    )

    assert response.status_code == 404
    seat.refresh_from_db()
    assert seat.released_at is None


# --- notification preferences -------------------------------------------------------------------


def test_admin_turns_their_own_notifications_off(
    login: Callable[[User], Client], customer_admin: User, viewer: User, customer: Customer
) -> None:
    url = reverse("customer:notifications", args=[customer.slug])
    client = login(customer_admin)

    assert client.get(url).status_code == 200
    response = client.post(url, {"notify_denials": "on"})

    assert response.status_code == 302
    mine = Membership.objects.get(user=customer_admin)
    assert (mine.notify_overdraft, mine.notify_denials) == (False, True)
    theirs = Membership.objects.get(user=viewer)
    assert (theirs.notify_overdraft, theirs.notify_denials) == (True, True)


def test_viewer_has_no_notification_settings(
    login: Callable[[User], Client], viewer: User, customer: Customer
) -> None:
    url = reverse("customer:notifications", args=[customer.slug])

    assert login(viewer).post(url, {}).status_code == 404
    assert Membership.objects.get(user=viewer).notify_overdraft is True


# --- headers ------------------------------------------------------------------------------------


def test_pages_send_security_headers(
    login: Callable[[User], Client], viewer: User, entitlement: Entitlement
) -> None:
    response = login(viewer).get(entitlement_url(entitlement))

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts(
    login: Callable[[User], Client], customer_admin: User, entitlement: Entitlement
) -> None:
    html = login(customer_admin).get(entitlement_url(entitlement)).content.decode()

    for chunk in html.split("<script")[1:]:
        tag = chunk.split(">", 1)[0]
        assert "src=" in tag or 'type="application/json"' in tag
    assert " style=" not in html
