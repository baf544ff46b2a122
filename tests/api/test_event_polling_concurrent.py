"""A poller following the cursor while writers commit out of order misses and repeats nothing.

Writers hold their transaction open for a while after inserting events, so events with a
higher `seq` regularly commit before lower ones: exactly the case a naive `seq > cursor`
feed gets wrong.
"""

import random
import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from licensing import services
from licensing.models import Event

WRITERS = 6
ACTIVATIONS_EACH = 15
MAX_COMMIT_DELAY = 0.2  # seconds a writer keeps its transaction open after writing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_poller_misses_and_repeats_nothing_while_events_are_written(
    make_entitlement, token, settings
):
    settings.API_EVENTS_SETTLE_SECONDS = 1
    entitlements = [make_entitlement(hard_limit=None) for _ in range(WRITERS)]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    errors: list[BaseException] = []

    def write(entitlement, seed):
        rng = random.Random(seed)
        try:
            for i in range(ACTIVATIONS_EACH):
                with transaction.atomic():
                    services.seat_activate(entitlement=entitlement, fingerprint=f"m-{i}")
                    time.sleep(rng.uniform(0, MAX_COMMIT_DELAY))
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    seen: list[str] = []
    cursor = None

    def poll_once():
        nonlocal cursor
        params = {"limit": 7, **({"after": cursor} if cursor else {})}
        response = client.get("/api/v1/events", params)
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(event["id"] for event in body["results"])
        cursor = body["cursor"]
        return body["has_more"]

    writers = [
        threading.Thread(target=write, args=(entitlement, n))
        for n, entitlement in enumerate(entitlements)
    ]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 60
    while any(thread.is_alive() for thread in writers):
        assert time.monotonic() < deadline, "writers still running after 60 s"
        poll_once()
        time.sleep(0.02)
    for thread in writers:
        thread.join(timeout=5)
    assert not errors, errors
    time.sleep(settings.API_EVENTS_SETTLE_SECONDS + 0.2)  # the feed's own settle window
    for _ in range(1000):  # pages of the rest; far more than the events written
        if not poll_once():
            break
    else:
        raise AssertionError("the feed kept saying has_more")

    expected = list(Event.objects.order_by("seq").values_list("public_id", flat=True))
    assert len(expected) == WRITERS * (ACTIVATIONS_EACH + 1)
    assert len(seen) == len(set(seen)), "an event was handed out twice"
    assert seen == [str(public_id) for public_id in expected], "events missed or out of order"
