import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.mark.django_db(transaction=True)
def test_count(entitlement, settings) -> None:
    from rest_framework.test import APIClient
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"License {entitlement.license_key}")
    c.post("/api/v1/activations", {"fingerprint": "warm"}, format="json")
    with CaptureQueriesContext(connection) as q:
        r = c.post("/api/v1/activations", {"fingerprint": "a1"}, format="json")
    print("\nACTIVATE", r.status_code, len(q.captured_queries))
    for x in q.captured_queries:
        print("  ", x["sql"][:150])
    sid = r.json()["id"]
    with CaptureQueriesContext(connection) as q:
        r = c.post(f"/api/v1/activations/{sid}/heartbeat", format="json")
    print("HEARTBEAT", r.status_code, len(q.captured_queries))
    for x in q.captured_queries:
        print("  ", x["sql"][:150])
    with CaptureQueriesContext(connection) as q:
        r = c.delete(f"/api/v1/activations/{sid}")
    print("RELEASE", r.status_code, len(q.captured_queries))
    for x in q.captured_queries:
        print("  ", x["sql"][:150])
