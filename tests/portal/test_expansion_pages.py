"""Request more seats on the entitlement page; grant or decline it on the team's pages."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from licensing import services
from licensing.models import AuditEntry, Entitlement, Event, ExpansionRequest, UsageBucket
from portal.models import User


def _page(entitlement: Entitlement) -> str:
    return reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])


def _ask_url(entitlement: Entitlement) -> str:
    return reverse("customer:request_seats", args=[entitlement.customer.slug, entitlement.pk])


def _edit(entitlement: Entitlement) -> str:
    return reverse("team:entitlement_edit", args=[entitlement.pk])


def _flash(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _open(entitlement: Entitlement, user: User, seats: int = 130, **kw: Any) -> ExpansionRequest:
    return services.expansion_request(
        entitlement=entitlement, seats=seats, actor=services.Actor.of(user), **kw
    )


# --- the customer's side ----------------------------------------------------------------------


def test_the_form_offers_ten_percent_more_without_a_recommendation(
    login: Callable[[User], Client], customer_admin: User, entitlement: Entitlement
) -> None:
    html = login(customer_admin).get(_page(entitlement)).content.decode()

    assert "Request more seats" in html
    assert 'name="seats" id="id_seats" min="101" max="1000000" value="110"' in html
    assert f'action="{_ask_url(entitlement)}"' in html


def test_the_form_offers_the_recommendation(
    login: Callable[[User], Client], customer_admin: User, entitlement: Entitlement
) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    UsageBucket.objects.create(
        entitlement=entitlement, hour=hour, peak_used=120, closing_used=120, denials=4
    )

    response = login(customer_admin).get(_page(entitlement))

    assert response.context["figures"].recommended == 130
    assert 'id="id_seats" min="101" max="1000000" value="130"' in response.content.decode()


def test_viewers_see_no_form(
    login: Callable[[User], Client], viewer: User, entitlement: Entitlement
) -> None:
    html = login(viewer).get(_page(entitlement)).content.decode()

    assert "Request more seats" not in html
    assert _ask_url(entitlement) not in html


def test_an_admin_requests_more_seats(
    login: Callable[[User], Client], customer_admin: User, entitlement: Entitlement
) -> None:
    client = login(customer_admin)

    response = client.post(
        _ask_url(entitlement), {"seats": "130", "message": "Month-end peaks."}, follow=True
    )

    assert response.redirect_chain == [(_page(entitlement) + "#request", 302)]
    assert _flash(response) == [
        "Your request for 130 seats is sent to your account manager;"
        " you will hear by email when it is answered."
    ]
    request = ExpansionRequest.objects.get()
    assert (request.seats, request.hard_limit, request.message, request.requested_by) == (
        130,
        150,
        "Month-end peaks.",
        customer_admin,
    )
    html = response.content.decode()
    assert "Requested <strong>130 seats</strong> (hard limit 150)" in html
    assert "waiting for your account manager" in html
    assert "Request more seats" not in html
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPANSION_REQUESTED).count() == 1


def test_staff_may_request_on_the_customers_behalf(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    response = login(account_manager).post(_ask_url(entitlement), {"seats": "125"})

    assert response.status_code == 302
    assert ExpansionRequest.objects.get().requested_by == account_manager


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"seats": "100"}, "The entitlement has 100 seats already: ask for more than 100."),
        ({"seats": ""}, "This field is required."),
        ({"seats": "lots"}, "Enter a whole number."),
        (
            {"seats": "130", "message": "m" * 1001},
            "Ensure this value has at most 1000 characters (it has 1001).",
        ),
    ],
)
def test_bad_input_is_flashed_and_changes_nothing(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    data: dict[str, str],
    message: str,
) -> None:
    response = login(customer_admin).post(_ask_url(entitlement), data, follow=True)

    assert response.redirect_chain == [(_page(entitlement) + "#request", 302)]
    assert _flash(response) == [message]
    assert ExpansionRequest.objects.count() == 0
    assert not Event.objects.filter(type=Event.Type.EXPANSION_REQUESTED).exists()


def test_a_second_request_is_refused_with_the_reason(
    login: Callable[[User], Client], customer_admin: User, entitlement: Entitlement
) -> None:
    _open(entitlement, customer_admin)

    response = login(customer_admin).post(_ask_url(entitlement), {"seats": "140"}, follow=True)

    (flash,) = _flash(response)
    assert flash.startswith("A request for 130 seats, made ")
    assert list(ExpansionRequest.objects.values_list("seats", flat=True)) == [130]


@pytest.mark.parametrize("persona", ["viewer", "outsider"])
def test_viewers_and_outsiders_get_404_and_change_nothing(
    login: Callable[[User], Client],
    entitlement: Entitlement,
    persona: str,
    request: pytest.FixtureRequest,
) -> None:
    user = request.getfixturevalue(persona)

    response = login(user).post(_ask_url(entitlement), {"seats": "130"})

    assert response.status_code == 404
    assert ExpansionRequest.objects.count() == 0


# --- the account team's side ------------------------------------------------------------------


def test_the_edit_page_shows_the_open_request(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin, message="Month-end <peaks>.")

    html = login(account_manager).get(_edit(entitlement)).content.decode()

    assert "Open request" in html
    assert (
        "<strong>130 seats</strong>, hard limit 150 (now 100 / 120), asked by admin@acme.test"
        in (html)
    )
    assert "Month-end &lt;peaks&gt;." in html
    assert reverse("team:expansion_grant", args=[request.pk]) in html
    assert reverse("team:expansion_decline", args=[request.pk]) in html


def test_the_edit_page_without_a_request_has_no_box(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    html = login(account_manager).get(_edit(entitlement)).content.decode()

    assert "Open request" not in html


def test_grant_asks_first_showing_old_and_new_terms(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin)

    response = login(account_manager).get(reverse("team:expansion_grant", args=[request.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Grant Acme Corp's request for 130 seats of Design Studio?" in html
    # The arrow is for the eye; a screen reader hears "Now 100, Granted 130".
    assert (
        '<th scope="row">Entitled seats</th><td class="num">100</td><td aria-hidden="true">→</td>'
        '<td class="num"><strong>130</strong></td>'
    ) in html
    assert (
        '<th scope="row">Hard limit</th><td class="num">120</td><td aria-hidden="true">→</td>'
        '<td class="num"><strong>150</strong></td>'
    ) in html
    entitlement.refresh_from_db()
    assert entitlement.seats == 100  # asking changes nothing


def test_grant_post_grants(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin)

    response = login(account_manager).post(
        reverse("team:expansion_grant", args=[request.pk]), {"note": "Enjoy."}, follow=True
    )

    assert response.redirect_chain == [(_edit(entitlement), 302)]
    assert _flash(response) == [
        "Granted: Design Studio for Acme Corp now has 130 seats, hard limit 150."
        " The customer is told by email."
    ]
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (130, 150)
    request.refresh_from_db()
    assert (request.status, request.resolved_by, request.resolution_note) == (
        "granted",
        account_manager,
        "Enjoy.",
    )
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPANSION_GRANTED).count() == 1
    assert "Open request" not in response.content.decode()


def test_grant_of_an_answered_request_changes_nothing(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin)
    services.expansion_decline(request=request)
    client = login(account_manager)
    url = reverse("team:expansion_grant", args=[request.pk])

    asked = client.get(url, follow=True)
    posted = client.post(url, follow=True)

    assert asked.redirect_chain == [(_edit(entitlement), 302)]
    assert _flash(asked) == ["This request was declined already."]
    assert _flash(posted) == ["This request was declined already."]
    entitlement.refresh_from_db()
    assert entitlement.seats == 100
    assert not Event.objects.filter(type=Event.Type.EXPANSION_GRANTED).exists()


def test_grant_refused_by_the_rules_is_flashed(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin)
    services.entitlement_update(entitlement=entitlement, seats=140, hard_limit=160)

    response = login(account_manager).post(
        reverse("team:expansion_grant", args=[request.pk]), follow=True
    )

    assert _flash(response) == ["The entitlement has 140 seats already: ask for more than 140."]
    request.refresh_from_db()
    assert request.status == "open"


def test_decline_with_a_note(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin)

    response = login(account_manager).post(
        reverse("team:expansion_decline", args=[request.pk]),
        {"note": "Renewal is next month."},
        follow=True,
    )

    assert response.redirect_chain == [(_edit(entitlement), 302)]
    assert _flash(response) == [
        "Declined the request for 130 seats; the customer is told by email."
    ]
    request.refresh_from_db()
    assert (request.status, request.resolution_note) == ("declined", "Renewal is next month.")
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPANSION_DECLINED).count() == 1


def test_decline_with_a_too_long_note_changes_nothing(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    request = _open(entitlement, customer_admin)

    response = login(account_manager).post(
        reverse("team:expansion_decline", args=[request.pk]), {"note": "n" * 1001}, follow=True
    )

    assert _flash(response) == ["Ensure this value has at most 1000 characters (it has 1001)."]
    request.refresh_from_db()
    assert request.status == "open"
    assert not Event.objects.filter(type=Event.Type.EXPANSION_DECLINED).exists()


@pytest.mark.parametrize("persona", ["customer_admin", "viewer", "outsider"])
def test_only_staff_grant_or_decline(
    login: Callable[[User], Client],
    customer_admin: User,
    entitlement: Entitlement,
    persona: str,
    request: pytest.FixtureRequest,
) -> None:
    expansion = _open(entitlement, customer_admin)
    client = login(request.getfixturevalue(persona))

    grant = reverse("team:expansion_grant", args=[expansion.pk])
    decline = reverse("team:expansion_decline", args=[expansion.pk])
    statuses = [client.get(grant).status_code, client.post(grant).status_code]
    statuses.append(client.post(decline).status_code)

    assert statuses == [404, 404, 404]
    expansion.refresh_from_db()
    assert expansion.status == "open"


def test_unknown_request_is_404(login: Callable[[User], Client], account_manager: User) -> None:
    client = login(account_manager)
    missing = "00000000-0000-4000-8000-000000000000"

    assert client.get(reverse("team:expansion_grant", args=[missing])).status_code == 404
    assert client.post(reverse("team:expansion_decline", args=[missing])).status_code == 404


# --- expansion leads --------------------------------------------------------------------------


def test_leads_mark_an_open_request_even_without_overdraft(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    _open(entitlement, customer_admin)

    response = login(account_manager).get("/team/leads/")

    (lead,) = response.context["leads"]
    assert (lead.entitlement_id, lead.requested_seats, lead.overdraft_seat_hours) == (
        entitlement.pk,
        130,
        0,
    )
    assert "requested: 130 seats" in response.content.decode()


def test_answered_requests_are_no_leads(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    services.expansion_decline(request=_open(entitlement, customer_admin))

    response = login(account_manager).get("/team/leads/")

    assert response.context["leads"] == []
    assert "requested:" not in response.content.decode()
