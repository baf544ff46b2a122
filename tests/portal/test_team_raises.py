"""Temporary raises on the pages: the account team grants, ends and cancels them on the
entitlement's edit page; the customer's entitlement page tells of them, read-only."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import dateformat, timezone

from licensing import services
from licensing.models import (
    AuditEntry,
    Entitlement,
    EntitlementTerms,
    Event,
    Seat,
    TemporaryRaise,
)
from portal.models import User

pytestmark = pytest.mark.django_db

T = Event.Type


def _edit(entitlement: Entitlement) -> str:
    return reverse("team:entitlement_edit", args=[entitlement.pk])


def _grant_url(entitlement: Entitlement) -> str:
    return reverse("team:raise_grant", args=[entitlement.pk])


def _end_url(raise_: TemporaryRaise) -> str:
    return reverse("team:raise_end", args=[raise_.pk])


def _page(entitlement: Entitlement) -> str:
    return reverse("customer:entitlement", args=[entitlement.customer.slug, entitlement.pk])


def _flash(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _field(moment: datetime) -> str:
    """A datetime-local input's value."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _shown(moment: datetime) -> str:
    return dateformat.format(timezone.localtime(moment), "j M Y H:i")


def _lines(entitlement: Entitlement) -> tuple[int, int | None, int | None]:
    entitlement.refresh_from_db()
    return entitlement.seats, entitlement.hard_limit, entitlement.customer_cap


def _written() -> tuple[int, ...]:
    return (
        TemporaryRaise.objects.count(),
        AuditEntry.objects.count(),
        Event.objects.count(),
        EntitlementTerms.objects.count(),
    )


def _grant(entitlement: Entitlement, user: User, **kwargs: Any) -> TemporaryRaise:
    kwargs.setdefault("extra_seats", 20)
    kwargs.setdefault("extra_hard_limit", 20)
    kwargs.setdefault("ends_at", timezone.now() + timedelta(days=10))
    return services.raise_grant(entitlement=entitlement, actor=services.Actor.of(user), **kwargs)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


# --- the account team's edit page --------------------------------------------------------------


def test_the_edit_page_offers_a_raise_form(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    html = login(account_manager).get(_edit(entitlement)).content.decode()

    assert "Temporary raise" in html
    assert f'action="{_grant_url(entitlement)}"' in html
    assert 'name="extra_seats" value="0"' in html
    assert 'name="extra_hard_limit" value="0"' in html
    assert "Added to the 100 entitled." in html
    assert "Added to the hard limit of 120." in html
    # Its own ids: the terms form has a start and an end too.
    assert html.count('id="id_raise_ends_at"') == 1
    assert html.count('id="id_ends_at"') == 1
    # The terms form posts to the edit page wherever the page was rendered from.
    assert f'method="post" action="{_edit(entitlement)}" class="team-form entitlement-form"' in html


def test_a_raise_granted_through_the_form_starts_and_changes_the_terms(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    ends = _minute(timezone.now() + timedelta(days=30))

    response = login(account_manager).post(
        _grant_url(entitlement),
        {
            "extra_seats": "20",
            "extra_hard_limit": "20",
            "starts_at": "",
            "ends_at": _field(ends),
            "reason": " quarter close ",
        },
        follow=True,
    )

    assert response.redirect_chain == [(_edit(entitlement) + "#raises", 302)]
    assert _flash(response) == [
        f"Temporary raise started: +20 seats and +20 hard limit until {_shown(ends)} UTC."
        " The customer is told by email."
    ]
    raise_ = TemporaryRaise.objects.get()
    assert (raise_.status, raise_.ends_at, raise_.reason, raise_.granted_by) == (
        "running",
        ends,
        "quarter close",
        account_manager,
    )
    assert _lines(entitlement) == (120, 140, None)
    terms = EntitlementTerms.objects.filter(entitlement=entitlement).order_by("effective_from")
    assert [(t.seats, t.hard_limit) for t in terms] == [(100, 120), (120, 140)]
    granted = AuditEntry.objects.get(action=AuditEntry.Action.RAISE_GRANTED)
    assert granted.actor == account_manager
    assert Event.objects.filter(type=T.RAISE_STARTED).count() == 1
    html = response.content.decode()
    assert "quarter close" in html
    assert f'action="{_end_url(raise_)}"' in html
    assert ">End now</button>" in html


def test_a_raise_starting_later_is_scheduled_and_changes_nothing_yet(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    starts = _minute(timezone.now() + timedelta(days=2))
    ends = starts + timedelta(days=5)

    response = login(account_manager).post(
        _grant_url(entitlement),
        {
            "extra_seats": "5",
            "extra_hard_limit": "0",
            "starts_at": _field(starts),
            "ends_at": _field(ends),
        },
        follow=True,
    )

    assert _flash(response) == [
        f"Temporary raise scheduled: +5 seats from {_shown(starts)} UTC until {_shown(ends)} UTC."
    ]
    raise_ = TemporaryRaise.objects.get()
    assert (raise_.status, raise_.starts_at) == ("scheduled", starts)
    assert _lines(entitlement) == (100, 120, None)
    html = response.content.decode()
    assert ">Cancel</button>" in html
    assert ">End now</button>" not in html


def _overlapping(entitlement: Entitlement, user: User) -> None:
    now = timezone.now()
    _grant(
        entitlement,
        user,
        extra_seats=1,
        extra_hard_limit=0,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=20),
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"extra_seats": "0", "extra_hard_limit": "0"},
            "extra_seats",
            "A raise adds seats, hard limit or both: give a number above 0.",
        ),
        ({"extra_seats": "-1"}, "extra_seats", "Give a number from 0 to 1,000,000."),
        ({"extra_seats": "lots"}, "extra_seats", "Enter a whole number."),
        (
            {"extra_seats": "30", "extra_hard_limit": "0"},
            "extra_hard_limit",
            "The raised seats (130) would be above the raised hard limit (120): raise the hard"
            " limit by at least 10.",
        ),
        ({"ends_at": ""}, "ends_at", "This field is required."),
        ({"ends_at": "31/12/2026"}, "ends_at", "Enter a valid date/time."),
        ({"ends_at": "2020-01-01T10:00"}, "ends_at", "The raise must end after it starts."),
        (
            {"ends_at": "2100-01-01T10:00"},
            "ends_at",
            "A temporary raise lasts at most 366 days; for a lasting one, change the terms.",
        ),
        ({"reason": "r" * 201}, "reason", "At most 200 characters, please (this has 201)."),
        ({"reason": "bell\x07"}, "reason", "Reason must not contain control characters."),
    ],
)
def test_bad_input_shows_on_the_form_and_writes_nothing(
    login: Callable[[User], Client],
    account_manager: User,
    entitlement: Entitlement,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = _written()
    posted = {
        "extra_seats": "20",
        "extra_hard_limit": "20",
        "ends_at": _field(timezone.now() + timedelta(days=10)),
        "reason": "quarter close",
        **data,
    }

    response = login(account_manager).post(_grant_url(entitlement), posted)

    assert response.status_code == 200
    form = response.context["raise_form"]
    assert form.errors == {field: [message]}
    assert _written() == before
    assert _lines(entitlement) == (100, 120, None)
    html = response.content.decode()
    # Under the field, named by its aria-describedby (team/_field_notes.html).
    assert f'<small id="id_raise_{field}_error" class="field-error">{message}</small>' in html
    assert f'aria-describedby="id_raise_{field}_' in html
    # What was typed is kept, to be corrected.
    assert f'name="extra_seats" value="{posted["extra_seats"]}"' in html
    # The rest of the edit page is there, untouched.
    assert response.context["form"].is_bound is False
    assert "Terms history" in html


def test_a_raise_overlapping_another_is_refused_on_the_start(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    _overlapping(entitlement, account_manager)
    before = _written()

    response = login(account_manager).post(
        _grant_url(entitlement),
        {
            "extra_seats": "20",
            "extra_hard_limit": "20",
            "ends_at": _field(timezone.now() + timedelta(days=10)),
        },
    )

    assert response.status_code == 200
    (error,) = response.context["raise_form"].errors["starts_at"]
    assert error.startswith("A raise (+1 seat) is scheduled from ")
    assert _written() == before


def test_an_unlimited_overdraft_says_to_leave_the_hard_limit_alone(
    login: Callable[[User], Client],
    account_manager: User,
    make_entitlement: Callable[..., Entitlement],
) -> None:
    unlimited = make_entitlement(hard_limit=None)
    client = login(account_manager)

    assert (
        "The overdraft is unlimited: leave it at 0."
        in client.get(_edit(unlimited)).content.decode()
    )
    response = client.post(
        _grant_url(unlimited),
        {
            "extra_seats": "5",
            "extra_hard_limit": "5",
            "ends_at": _field(timezone.now() + timedelta(days=10)),
        },
    )
    assert list(response.context["raise_form"].errors) == ["extra_hard_limit"]
    assert TemporaryRaise.objects.count() == 0


def test_end_now_takes_the_extras_off(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    raise_ = _grant(entitlement, account_manager)
    assert _lines(entitlement) == (120, 140, None)

    response = login(account_manager).post(_end_url(raise_), follow=True)

    assert response.redirect_chain == [(_edit(entitlement) + "#raises", 302)]
    assert _flash(response) == [
        "Temporary raise ended: back to 100 entitled, hard limit 120. The customer is told by"
        " email."
    ]
    raise_.refresh_from_db()
    assert raise_.status == "ended"
    assert _lines(entitlement) == (100, 120, None)
    ended = Event.objects.get(type=T.RAISE_ENDED)
    assert (ended.data["early"], ended.data["ended_by"]) == (True, account_manager.email)
    assert ">End now</button>" not in response.content.decode()


def test_end_now_keeps_the_seats_above_the_lines_and_says_so(
    login: Callable[[User], Client],
    account_manager: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    raise_ = _grant(entitlement, account_manager)
    make_seats(entitlement, 130)

    response = login(account_manager).post(_end_url(raise_), follow=True)

    assert _flash(response) == [
        "Temporary raise ended: back to 100 entitled, hard limit 120. The 130 seats in use stay"
        " until released; new activations are denied until use falls under the limit. The"
        " customer is told by email."
    ]
    entitlement.refresh_from_db()
    assert (entitlement.seats_used, entitlement.seats_held_over) == (130, 130)


def test_cancel_drops_a_scheduled_raise(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    now = timezone.now()
    raise_ = _grant(
        entitlement,
        account_manager,
        extra_seats=5,
        extra_hard_limit=5,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
    )

    response = login(account_manager).post(_end_url(raise_), follow=True)

    assert _flash(response) == ["Scheduled raise cancelled (+5 seats and +5 hard limit)."]
    raise_.refresh_from_db()
    assert raise_.status == "cancelled"
    assert _lines(entitlement) == (100, 120, None)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RAISE_CANCELLED).count() == 1
    assert ">Cancel</button>" not in response.content.decode()


def test_ending_a_raise_that_is_over_says_so_and_writes_nothing(
    login: Callable[[User], Client], account_manager: User, entitlement: Entitlement
) -> None:
    raise_ = _grant(entitlement, account_manager)
    client = login(account_manager)
    client.post(_end_url(raise_), follow=True)
    before = _written()

    response = client.post(_end_url(raise_), follow=True)

    assert _flash(response) == ["This raise is ended already."]
    assert _written() == before


def test_an_unknown_raise_is_404(login: Callable[[User], Client], account_manager: User) -> None:
    missing = "00000000-0000-4000-8000-000000000000"

    assert login(account_manager).post(reverse("team:raise_end", args=[missing])).status_code == 404


@pytest.mark.parametrize("persona", ["customer_admin", "viewer", "outsider"])
def test_only_the_account_team_grants_or_ends_raises(
    login: Callable[[User], Client],
    account_manager: User,
    entitlement: Entitlement,
    persona: str,
    request: pytest.FixtureRequest,
) -> None:
    raise_ = _grant(entitlement, account_manager)
    client = login(request.getfixturevalue(persona))
    before = _written()
    grant = {
        "extra_seats": "5",
        "ends_at": _field(timezone.now() + timedelta(days=40)),
    }

    statuses = [
        client.get(_grant_url(entitlement)).status_code,
        client.post(_grant_url(entitlement), grant).status_code,
        client.get(_end_url(raise_)).status_code,
        client.post(_end_url(raise_)).status_code,
    ]

    assert statuses == [404, 404, 404, 404]
    assert _written() == before
    raise_.refresh_from_db()
    assert raise_.status == "running"


def test_anonymous_is_sent_to_login(
    client: Client, account_manager: User, entitlement: Entitlement
) -> None:
    raise_ = _grant(entitlement, account_manager)

    for url in (_grant_url(entitlement), _end_url(raise_)):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    raise_.refresh_from_db()
    assert raise_.status == "running"


# --- the customer's entitlement page -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["customer_admin", "viewer"])
def test_the_customer_page_tells_of_a_running_raise(
    login: Callable[[User], Client],
    account_manager: User,
    entitlement: Entitlement,
    persona: str,
    request: pytest.FixtureRequest,
) -> None:
    ends = _minute(timezone.now() + timedelta(days=10))
    raise_ = _grant(entitlement, account_manager, ends_at=ends, reason="quarter close")

    html = login(request.getfixturevalue(persona)).get(_page(entitlement)).content.decode()

    assert (
        "<strong>Temporary raise:</strong> +20 seats and +20 hard limit until"
        f' <time datetime="{ends.isoformat()}">{_shown(ends)}</time> UTC — quarter close.'
    ) in html
    assert "Temporary raise coming" not in html
    # Read-only: nothing to end, grant or cancel.
    assert _end_url(raise_) not in html
    assert _grant_url(entitlement) not in html


def test_the_customer_page_tells_of_a_raise_coming(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
) -> None:
    starts = _minute(timezone.now() + timedelta(days=3))
    ends = starts + timedelta(days=4)
    _grant(entitlement, account_manager, extra_hard_limit=25, starts_at=starts, ends_at=ends)

    html = login(customer_admin).get(_page(entitlement)).content.decode()

    assert (
        "<strong>Temporary raise coming:</strong> +20 seats and +25 hard limit from"
        f' <time datetime="{starts.isoformat()}">{_shown(starts)}</time> until'
        f' <time datetime="{ends.isoformat()}">{_shown(ends)}</time> UTC.'
    ) in html
    assert "<strong>Temporary raise:</strong>" not in html


def test_the_customer_page_says_seats_held_over_stay_until_released(
    login: Callable[[User], Client],
    account_manager: User,
    customer_admin: User,
    entitlement: Entitlement,
    make_seats: Callable[..., list[Seat]],
) -> None:
    raise_ = _grant(entitlement, account_manager)
    seats = make_seats(entitlement, 125)
    services.raise_end(raise_=raise_, actor=services.Actor.of(account_manager))
    client = login(customer_admin)

    html = client.get(_page(entitlement)).content.decode()

    assert (
        "125 seats are in use, above the limit of 120 since a temporary raise ended. They stay"
        " until released; new activations are denied until use falls under the limit."
    ) in html
    assert "<strong>Temporary raise:</strong>" not in html

    # Released back under the limit: nothing to say any more.
    for seat in seats[:6]:
        services.seat_release(entitlement=entitlement, seat_id=seat.pk)
    assert "since a temporary raise ended" not in client.get(_page(entitlement)).content.decode()


def test_without_raises_the_customer_page_says_nothing_of_them(
    login: Callable[[User], Client], customer_admin: User, entitlement: Entitlement
) -> None:
    html = login(customer_admin).get(_page(entitlement)).content.decode()

    assert "Temporary raise" not in html
    assert "raise-notice" not in html
