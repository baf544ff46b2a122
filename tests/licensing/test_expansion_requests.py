"""Requests for more seats: the rules, the events and the audit entries of the services."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from licensing import services
from licensing.models import AuditEntry, Entitlement, EntitlementTerms, Event, ExpansionRequest
from portal.models import User

pytestmark = pytest.mark.django_db


def _common(entitlement: Entitlement, used: int, entitled: int, hard_limit: int | None) -> dict:
    available = None if hard_limit is None else hard_limit - used
    return {
        "entitlement_id": str(entitlement.pk),
        "customer_id": str(entitlement.customer_id),
        "product_id": str(entitlement.product_id),
        "seats": {
            "used": used,
            "entitled": entitled,
            "hard_limit": hard_limit,
            "customer_cap": None,
            "available": available,
        },
    }


def _events(entitlement: Entitlement, event_type: str) -> list[Event]:
    return list(Event.objects.filter(entitlement=entitlement, type=event_type).order_by("seq"))


def _ask(entitlement: Entitlement, user: User, **kwargs: Any) -> ExpansionRequest:
    return services.expansion_request(
        entitlement=entitlement, actor=services.Actor.of(user, ip="203.0.113.7"), **kwargs
    )


def test_a_request_keeps_the_overdraft_allowance_on_top_by_default(
    entitlement: Entitlement, customer_admin: User
) -> None:
    request = _ask(entitlement, customer_admin, seats=130, message="  End of month peaks.  ")

    request.refresh_from_db()
    assert (request.seats, request.hard_limit, request.message) == (130, 150, "End of month peaks.")
    assert (request.status, request.requested_by) == ("open", customer_admin)
    assert (request.resolved_at, request.resolved_by, request.resolution_note) == (None, None, "")
    (event,) = _events(entitlement, Event.Type.EXPANSION_REQUESTED)
    assert event.data == {
        **_common(entitlement, 0, 100, 120),
        "request_id": str(request.pk),
        "requested_seats": 130,
        "requested_hard_limit": 150,
        "message": "End of month peaks.",
        "requested_by": "admin@acme.test",
    }
    audit = AuditEntry.objects.get(action=AuditEntry.Action.EXPANSION_REQUESTED)
    assert (audit.actor, audit.actor_label, audit.ip) == (
        customer_admin,
        "admin@acme.test",
        "203.0.113.7",
    )
    assert (audit.target_type, audit.target_id, audit.customer_id) == (
        "expansionrequest",
        str(request.pk),
        entitlement.customer_id,
    )
    assert audit.target_label == "130 seats of Design Studio for Acme Corp"
    assert audit.changes == {
        "seats": [100, 130],
        "hard_limit": [120, 150],
        "message": "End of month peaks.",
    }
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)


def test_unlimited_overdraft_stays_unlimited(make_entitlement: Any, customer_admin: User) -> None:
    entitlement = make_entitlement(seats=200, hard_limit=None)

    request = _ask(entitlement, customer_admin, seats=250)

    assert (request.seats, request.hard_limit) == (250, None)


def test_an_explicit_hard_limit_is_kept(entitlement: Entitlement, customer_admin: User) -> None:
    request = _ask(entitlement, customer_admin, seats=130, hard_limit=130)

    assert (request.seats, request.hard_limit) == (130, 130)


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        (
            {"seats": 100},
            {"seats": ["The entitlement has 100 seats already: ask for more than 100."]},
        ),
        (
            {"seats": 90},
            {"seats": ["The entitlement has 100 seats already: ask for more than 100."]},
        ),
        (
            {"seats": 130, "hard_limit": 125},
            {"hard_limit": ["The hard limit (125) cannot be below the 130 seats."]},
        ),
        (
            {"seats": 130, "message": "x" * 1001},
            {"message": ["At most 1000 characters, please (this has 1001)."]},
        ),
        (
            {"seats": 130, "message": "nul\x00here"},
            {"message": ["Message must not contain control characters."]},
        ),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    entitlement: Entitlement, customer_admin: User, kwargs: dict, errors: dict
) -> None:
    with pytest.raises(ValidationError) as refused:
        _ask(entitlement, customer_admin, **kwargs)

    assert refused.value.message_dict == errors
    assert ExpansionRequest.objects.count() == 0
    assert _events(entitlement, Event.Type.EXPANSION_REQUESTED) == []
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPANSION_REQUESTED).exists()


def test_a_message_may_have_line_breaks(entitlement: Entitlement, customer_admin: User) -> None:
    request = _ask(entitlement, customer_admin, seats=130, message="Line one\r\nLine two")

    assert request.message == "Line one\r\nLine two"


def test_a_second_open_request_is_refused(
    entitlement: Entitlement, customer_admin: User, frozen: Any
) -> None:
    frozen.move_to("2026-03-04 10:00:00+00:00", tick=False)
    first = _ask(entitlement, customer_admin, seats=130, message="First")

    with pytest.raises(ValidationError) as refused:
        _ask(entitlement, customer_admin, seats=140, message="Second")

    assert refused.value.message_dict == {
        "seats": [
            "A request for 130 seats, made 4 Mar 2026, is waiting for the account team:"
            " they will answer it before a new one can be made."
        ]
    }
    assert list(ExpansionRequest.objects.values_list("pk", "seats", "message")) == [
        (first.pk, 130, "First")
    ]
    assert len(_events(entitlement, Event.Type.EXPANSION_REQUESTED)) == 1


def test_a_new_request_may_follow_an_answered_one(
    entitlement: Entitlement, customer_admin: User
) -> None:
    first = _ask(entitlement, customer_admin, seats=130)
    services.expansion_decline(request=first)

    second = _ask(entitlement, customer_admin, seats=125)

    assert ExpansionRequest.objects.get(pk=second.pk).status == "open"


def test_grant_changes_the_terms_and_marks_the_request(
    entitlement: Entitlement, customer_admin: User, account_manager: User
) -> None:
    services.seat_activate(entitlement=entitlement, fingerprint="pc-1")
    request = _ask(entitlement, customer_admin, seats=130)

    granted = services.expansion_grant(
        request=request, note="Done.", actor=services.Actor.of(account_manager)
    )

    assert granted.status == "granted"
    request.refresh_from_db()
    assert (request.status, request.resolved_by, request.resolution_note) == (
        "granted",
        account_manager,
        "Done.",
    )
    assert request.resolved_at is not None
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (130, 150)
    latest = EntitlementTerms.objects.filter(entitlement=entitlement).last()
    assert latest is not None
    assert (latest.seats, latest.hard_limit, latest.changed_by) == (130, 150, "am@vendor.test")
    (event,) = _events(entitlement, Event.Type.EXPANSION_GRANTED)
    assert event.data == {
        **_common(entitlement, 1, 130, 150),
        "request_id": str(request.pk),
        "previous_seats": 100,
        "previous_hard_limit": 120,
        "granted_seats": 130,
        "granted_hard_limit": 150,
        "note": "Done.",
        "requested_by": "admin@acme.test",
        "resolved_by": "am@vendor.test",
    }
    (updated,) = _events(entitlement, Event.Type.ENTITLEMENT_UPDATED)
    assert updated.data["changes"] == {"seats": [100, 130], "hard_limit": [120, 150]}
    audit = AuditEntry.objects.get(action=AuditEntry.Action.EXPANSION_GRANTED)
    assert (audit.actor, audit.target_type, audit.target_id) == (
        account_manager,
        "entitlement",
        str(entitlement.pk),
    )
    assert audit.changes == {"seats": [100, 130], "hard_limit": [120, 150]}
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ENTITLEMENT_UPDATED).exists()


def test_grant_refuses_when_the_entitlement_has_the_seats_already(
    entitlement: Entitlement, customer_admin: User
) -> None:
    request = _ask(entitlement, customer_admin, seats=130)
    services.entitlement_update(entitlement=entitlement, seats=140, hard_limit=160)

    with pytest.raises(ValidationError) as refused:
        services.expansion_grant(request=request)

    assert refused.value.message_dict == {
        "seats": ["The entitlement has 140 seats already: ask for more than 140."]
    }
    request.refresh_from_db()
    assert request.status == "open"
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (140, 160)
    assert _events(entitlement, Event.Type.EXPANSION_GRANTED) == []


@pytest.mark.parametrize("answer", ["grant", "decline"])
def test_an_answered_request_cannot_be_answered_again(
    entitlement: Entitlement, customer_admin: User, answer: str
) -> None:
    request = _ask(entitlement, customer_admin, seats=130)
    services.expansion_decline(request=request)
    stale = ExpansionRequest.objects.get(pk=request.pk)
    stale.status = "open"  # a page loaded before the answer

    with pytest.raises(ValidationError) as refused:
        getattr(services, f"expansion_{answer}")(request=stale)

    assert refused.value.messages == ["This request was declined already."]
    entitlement.refresh_from_db()
    assert entitlement.seats == 100
    assert len(_events(entitlement, Event.Type.EXPANSION_DECLINED)) == 1
    assert _events(entitlement, Event.Type.EXPANSION_GRANTED) == []


def test_decline_keeps_the_terms(
    entitlement: Entitlement, customer_admin: User, account_manager: User
) -> None:
    request = _ask(entitlement, customer_admin, seats=130)

    services.expansion_decline(
        request=request, note="Let's talk at renewal.", actor=services.Actor.of(account_manager)
    )

    request.refresh_from_db()
    assert (request.status, request.resolved_by, request.resolution_note) == (
        "declined",
        account_manager,
        "Let's talk at renewal.",
    )
    entitlement.refresh_from_db()
    assert (entitlement.seats, entitlement.hard_limit) == (100, 120)
    (event,) = _events(entitlement, Event.Type.EXPANSION_DECLINED)
    assert event.data == {
        **_common(entitlement, 0, 100, 120),
        "request_id": str(request.pk),
        "requested_seats": 130,
        "requested_hard_limit": 150,
        "note": "Let's talk at renewal.",
        "requested_by": "admin@acme.test",
        "resolved_by": "am@vendor.test",
    }
    audit = AuditEntry.objects.get(action=AuditEntry.Action.EXPANSION_DECLINED)
    assert (audit.actor, audit.target_type, audit.target_id) == (
        account_manager,
        "expansionrequest",
        str(request.pk),
    )
    assert audit.changes == {"status": ["open", "declined"], "note": "Let's talk at renewal."}


def test_a_too_long_note_declines_nothing(entitlement: Entitlement, customer_admin: User) -> None:
    request = _ask(entitlement, customer_admin, seats=130)

    with pytest.raises(ValidationError) as refused:
        services.expansion_decline(request=request, note="n" * 1001)

    assert refused.value.message_dict == {
        "note": ["At most 1000 characters, please (this has 1001)."]
    }
    request.refresh_from_db()
    assert request.status == "open"
    assert _events(entitlement, Event.Type.EXPANSION_DECLINED) == []


@pytest.mark.parametrize(
    ("seats", "hard_limit", "recommended", "expected"),
    [
        (100, 120, 130, 130),  # the recommendation
        (100, 120, None, 110),  # else 10% more
        (101, 120, None, 112),  # rounded up
        (5, 5, None, 6),  # at least one more
        (100, 120, 90, 110),  # a recommendation that is no expansion is ignored
    ],
)
def test_the_form_offers_the_recommendation_else_ten_percent_more(
    make_entitlement: Any, seats: int, hard_limit: int, recommended: int | None, expected: int
) -> None:
    entitlement = make_entitlement(seats=seats, hard_limit=hard_limit)

    assert services.default_seats(entitlement, recommended) == expected
