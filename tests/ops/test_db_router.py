"""portal.db_router without a replica (the default): everything reads and writes the primary;
and the rules that keep reads on the primary whatever the request. The real replica is in
test_read_replica.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.db import transaction
from django.http import HttpResponse

from licensing.models import Membership, UsageBucket
from portal import db_router
from portal.db_router import PrimaryReplicaRouter, ReplicaReadsMiddleware, _Reads, _reads
from portal.models import User

router = PrimaryReplicaRouter()


def test_without_a_replica_the_middleware_is_not_loaded():
    with pytest.raises(MiddlewareNotUsed):
        ReplicaReadsMiddleware(lambda request: HttpResponse())


def test_reads_outside_a_marked_request_go_to_the_primary():
    assert router.db_for_read(UsageBucket) == "default"


def test_who_someone_is_and_may_see_is_read_from_the_primary():
    token = _reads.set(_Reads(replica=True))
    try:
        assert router.db_for_read(User) == "default"
        assert router.db_for_read(Membership) == "default"
    finally:
        _reads.reset(token)


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_go_to_the_primary():
    token = _reads.set(_Reads(replica=True))
    try:
        with transaction.atomic():
            assert router.db_for_read(UsageBucket) == "default"
    finally:
        _reads.reset(token)


def test_a_write_keeps_the_rest_of_the_request_on_the_primary():
    reads = _Reads(replica=True)
    token = _reads.set(reads)
    try:
        assert router.db_for_write(UsageBucket) == "default"
        assert reads.replica is False
        assert router.db_for_read(UsageBucket) == "default"
    finally:
        _reads.reset(token)


def test_only_the_primary_is_migrated():
    assert router.allow_migrate("default", "licensing") is True
    assert router.allow_migrate(db_router.REPLICA, "licensing") is False
