"""Vendor API: temporary raises of an entitlement's lines, listed, granted, read and ended."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from licensing import services
from licensing.models import AuditEntry, Entitlement, Event, TemporaryRaise
from portal.models import User

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"


def _url(entitlement: Entitlement) -> str:
    return f"/api/v1/entitlements/{entitlement.pk}/raises"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _lines(entitlement: Entitlement) -> tuple[int, int | None]:
    entitlement.refresh_from_db()
    return entitlement.seats, entitlement.hard_limit


def _in(**delta: float) -> datetime:
    """A whole second from now (JSON carries no more precision than that here)."""
    return timezone.now().replace(microsecond=0) + timedelta(**delta)


def _grant(entitlement: Entitlement, **kwargs: Any) -> TemporaryRaise:
    kwargs.setdefault("extra_seats", 20)
    kwargs.setdefault("extra_hard_limit", 20)
    kwargs.setdefault("ends_at", _in(days=7))
    return services.raise_grant(entitlement=entitlement, **kwargs)


def _body(raise_: TemporaryRaise, **changes: Any) -> dict[str, Any]:
    raise_.refresh_from_db()
    return {
        "id": str(raise_.pk),
        "entitlement": str(raise_.entitlement_id),
        "extra_seats": raise_.extra_seats,
        "extra_hard_limit": raise_.extra_hard_limit,
        "starts_at": _iso(raise_.starts_at),
        "ends_at": _iso(raise_.ends_at),
        "reason": raise_.reason,
        "status": raise_.status,
        "started_at": _iso(raise_.started_at),
        "ended_at": _iso(raise_.ended_at),
        "created_at": _iso(raise_.created_at),
        "granted_by": raise_.granted_by.email if raise_.granted_by else None,
        **changes,
    }


def test_a_raise_granted_to_start_now_lifts_the_lines_at_once(
    vendor: APIClient, entitlement: Entitlement, account_manager: User
) -> None:
    ends_at = _in(days=7)

    response = vendor.post(
        _url(entitlement),
        {
            "extra_seats": 20,
            "extra_hard_limit": 20,
            "ends_at": _iso(ends_at),
            "reason": "  quarter close ",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    raise_ = TemporaryRaise.objects.get()
    assert response.json() == _body(raise_)
    body = response.json()
    assert (body["status"], body["reason"], body["granted_by"]) == (
        "running",
        "quarter close",
        "am@vendor.test",
    )
    assert body["ends_at"] == _iso(ends_at)
    assert body["started_at"] is not None
    assert _lines(entitlement) == (120, 140)
    assert Event.objects.filter(type=Event.Type.RAISE_STARTED, entitlement=entitlement).exists()
    audit = AuditEntry.objects.get(action=AuditEntry.Action.RAISE_GRANTED)
    assert audit.actor == account_manager
    assert audit.actor_label.startswith("token ")


def test_a_raise_granted_for_later_is_scheduled(
    vendor: APIClient, entitlement: Entitlement
) -> None:
    starts_at, ends_at = _in(days=1), _in(days=3)

    response = vendor.post(
        _url(entitlement),
        {
            "extra_seats": 5,
            "extra_hard_limit": 5,
            "starts_at": _iso(starts_at),
            "ends_at": _iso(ends_at),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["starts_at"], body["started_at"], body["reason"]) == (
        "scheduled",
        _iso(starts_at),
        None,
        "",
    )
    assert _lines(entitlement) == (100, 120)


def test_list_newest_first_and_paginated(
    vendor: APIClient, entitlement: Entitlement, frozen: Any
) -> None:
    first = _grant(entitlement, starts_at=_in(days=1), ends_at=_in(days=2))
    frozen.shift(60)
    second = _grant(entitlement, starts_at=_in(days=3), ends_at=_in(days=4))
    frozen.shift(60)
    third = _grant(entitlement, starts_at=_in(days=5), ends_at=_in(days=6))

    page = vendor.get(_url(entitlement), {"limit": 2})

    assert page.status_code == 200
    body = page.json()
    assert body["count"] == 3
    assert body["previous"] is None
    assert body["next"] is not None
    assert body["results"] == [_body(third), _body(second)]
    rest = vendor.get(_url(entitlement), {"limit": 2, "offset": 2}).json()
    assert (rest["next"], rest["results"]) == (None, [_body(first)])


def test_list_shows_only_the_entitlements_own_raises(
    vendor: APIClient, entitlement: Entitlement, make_entitlement: Any
) -> None:
    _grant(make_entitlement())

    response = vendor.get(_url(entitlement))

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_refuses_a_bad_page(vendor: APIClient, entitlement: Entitlement) -> None:
    response = vendor.get(_url(entitlement), {"limit": 0})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["limit"]


def test_list_query_count_does_not_grow(
    vendor: APIClient,
    entitlement: Entitlement,
    account_manager: User,
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(5):
        _grant(
            entitlement,
            starts_at=_in(days=2 * n + 1),
            ends_at=_in(days=2 * n + 2),
            actor=services.Actor.of(account_manager),
        )
    with django_assert_max_num_queries(6):  # one of them: are any leases due to expire?
        response = vendor.get(_url(entitlement))
    assert response.json()["count"] == 5


def test_get_one(vendor: APIClient, entitlement: Entitlement) -> None:
    raise_ = _grant(entitlement, reason="launch week")

    response = vendor.get(f"/api/v1/raises/{raise_.pk}")

    assert response.status_code == 200
    assert response.json() == _body(raise_, granted_by=None)  # granted by the system


def test_ending_a_running_raise_takes_its_extras_off(
    vendor: APIClient, entitlement: Entitlement, account_manager: User
) -> None:
    raise_ = _grant(entitlement)
    assert _lines(entitlement) == (120, 140)

    response = vendor.post(f"/api/v1/raises/{raise_.pk}/end")

    assert response.status_code == 200, response.json()
    assert response.json() == _body(raise_)
    assert response.json()["status"] == "ended"
    assert response.json()["ended_at"] is not None
    assert _lines(entitlement) == (100, 120)
    ended = Event.objects.get(type=Event.Type.RAISE_ENDED, entitlement=entitlement)
    assert ended.data["early"] is True
    audit = AuditEntry.objects.get(action=AuditEntry.Action.RAISE_ENDED)
    assert audit.actor == account_manager


def test_ending_a_scheduled_raise_cancels_it(vendor: APIClient, entitlement: Entitlement) -> None:
    raise_ = _grant(entitlement, starts_at=_in(days=1), ends_at=_in(days=2))

    response = vendor.post(f"/api/v1/raises/{raise_.pk}/end", {}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["started_at"]) == ("cancelled", None)
    assert _lines(entitlement) == (100, 120)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RAISE_CANCELLED).count() == 1
    assert not Event.objects.filter(type=Event.Type.RAISE_STARTED).exists()


def test_ending_a_raise_that_is_over_is_a_400(vendor: APIClient, entitlement: Entitlement) -> None:
    raise_ = _grant(entitlement)
    services.raise_end(raise_=raise_)

    response = vendor.post(f"/api/v1/raises/{raise_.pk}/end")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["errors"] == {"non_field_errors": ["This raise is ended already."]}
    assert _lines(entitlement) == (100, 120)
    assert Event.objects.filter(type=Event.Type.RAISE_ENDED).count() == 1


ADDS_NOTHING = "A raise adds seats, hard limit or both: give a number above 0."


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"extra_seats": 5, "extra_hard_limit": 5}, {"ends_at": ["This field is required."]}),
        (
            {"extra_seats": "5", "extra_hard_limit": 5, "ends_at": 7},
            {"extra_seats": ["A valid integer is required."]},
        ),
        (
            {"extra_seats": -1, "extra_hard_limit": 5, "ends_at": 7},
            {"extra_seats": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": 7, "seats": 5},
            {"seats": ["Unknown field."]},
        ),
        (
            {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": 7, "reason": "r" * 201},
            {"reason": ["Ensure this field has no more than 200 characters."]},
        ),
        ({"extra_seats": 0, "extra_hard_limit": 0, "ends_at": 7}, {"extra_seats": [ADDS_NOTHING]}),
        ({"ends_at": 7}, {"extra_seats": [ADDS_NOTHING]}),  # both default to 0
        (
            {"extra_seats": 2_000_000, "extra_hard_limit": 2_000_000, "ends_at": 7},
            {
                "extra_seats": ["Give a number from 0 to 1,000,000."],
                "extra_hard_limit": ["Give a number from 0 to 1,000,000."],
            },
        ),
        (
            {"extra_seats": 30, "extra_hard_limit": 0, "ends_at": 7},
            {
                "extra_hard_limit": [
                    "The raised seats (130) would be above the raised hard limit (120): raise"
                    " the hard limit by at least 10."
                ]
            },
        ),
        (
            {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": -1},
            {"ends_at": ["The raise must end after it starts."]},
        ),
        (
            {"extra_seats": 5, "extra_hard_limit": 5, "starts_at": 3, "ends_at": 2},
            {"ends_at": ["The raise must end after it starts."]},
        ),
        (
            {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": 400},
            {
                "ends_at": [
                    "A temporary raise lasts at most 366 days; for a lasting one, change the terms."
                ]
            },
        ),
        (
            {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": 7, "reason": "a\x00b"},
            {"reason": ["Null characters are not allowed."]},
        ),
    ],
)
def test_bad_raises_are_a_400_and_write_nothing(
    vendor: APIClient, entitlement: Entitlement, body: dict[str, Any], errors: dict
) -> None:
    """Dates are given in days from now."""
    for name in ("starts_at", "ends_at"):
        if isinstance(body.get(name), int):
            body = {**body, name: _iso(_in(days=body[name]))}

    response = vendor.post(_url(entitlement), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["errors"] == errors
    assert not TemporaryRaise.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.RAISE_GRANTED).exists()
    assert _lines(entitlement) == (100, 120)


def test_an_overlapping_raise_is_a_400(vendor: APIClient, entitlement: Entitlement) -> None:
    _grant(entitlement, starts_at=_in(days=1), ends_at=_in(days=5))

    response = vendor.post(
        _url(entitlement),
        {
            "extra_seats": 5,
            "extra_hard_limit": 5,
            "starts_at": _iso(_in(days=4)),
            "ends_at": _iso(_in(days=8)),
        },
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["starts_at"]
    assert "scheduled" in response.json()["errors"]["starts_at"][0]
    assert TemporaryRaise.objects.count() == 1


def test_read_only_tokens_may_read_but_not_grant_or_end(
    vendor_ro: APIClient, entitlement: Entitlement
) -> None:
    raise_ = _grant(entitlement)
    assert vendor_ro.get(_url(entitlement)).status_code == 200
    assert vendor_ro.get(f"/api/v1/raises/{raise_.pk}").status_code == 200

    granted = vendor_ro.post(
        _url(entitlement),
        {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": _iso(_in(days=30))},
        format="json",
    )
    ended = vendor_ro.post(f"/api/v1/raises/{raise_.pk}/end")

    assert (granted.status_code, ended.status_code) == (403, 403)
    assert granted.json()["code"] == ended.json()["code"] == "read_only_token"
    assert TemporaryRaise.objects.get().status == "running"
    assert _lines(entitlement) == (120, 140)


def test_unknown_ids_are_404(vendor: APIClient) -> None:
    body = {"extra_seats": 5, "extra_hard_limit": 5, "ends_at": _iso(_in(days=7))}
    entitlements = f"/api/v1/entitlements/{MISSING}/raises"

    assert vendor.get(entitlements).status_code == 404
    assert vendor.post(entitlements, body, format="json").status_code == 404
    assert vendor.get(f"/api/v1/raises/{MISSING}").status_code == 404
    response = vendor.post(f"/api/v1/raises/{MISSING}/end")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not TemporaryRaise.objects.exists()


def test_customer_tokens_do_not_work(customer_admin_token: str, entitlement: Entitlement) -> None:
    raise_ = _grant(entitlement)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_admin_token}")

    assert client.get(_url(entitlement)).status_code == 401
    assert client.post(f"/api/v1/raises/{raise_.pk}/end").status_code == 401
    assert TemporaryRaise.objects.get().status == "running"
