"""The OpenAPI schema: generated without warnings, both APIs, every error documented."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_describes_both_apis_and_their_auth(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["LicenseKey"]["type"] == "apiKey"
    assert schemes["ApiToken"] == {**schemes["ApiToken"], "type": "http", "scheme": "bearer"}
    paths = schema["paths"]
    assert paths["/api/v1/activations"]["post"]["security"] == [{"LicenseKey": []}]
    assert paths["/api/v1/entitlements"]["get"]["security"] == [{"ApiToken": []}]
    for path in [
        "/api/v1/activations/{activation_id}/heartbeat",
        "/api/v1/entitlement",
        "/api/v1/customers/{customer_id}",
        "/api/v1/products",
        "/api/v1/entitlements/{entitlement_id}/seats/{seat_id}/revoke",
        "/api/v1/entitlements/{entitlement_id}/usage",
        "/api/v1/entitlements/{entitlement_id}/raises",
        "/api/v1/raises/{raise_id}/end",
        "/api/v1/entitlements/{entitlement_id}/statements",
        "/api/v1/entitlements/{entitlement_id}/statements/provisional",
        "/api/v1/statements/{statement_id}",
        "/api/v1/events",
    ]:
        assert path in paths


def test_every_operation_documents_its_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in {"post", "patch", "delete"} and "ApiToken" in str(operation["security"]):
                assert "403" in codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.split("/")[-1] in {"Error", "SeatNotHeld", "Denied"}


def test_docs_page_loads_its_assets_locally_under_the_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert "<script>" not in html  # the init script is a separate file
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert (
            client.get(f"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}").status_code
            == 200
        )
