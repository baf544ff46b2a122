"""Which requests are the client API (software clients with a license key).

portal.wsgi serves them with a shorter middleware list, and portal.db_router keeps them on
the primary database.
"""

CLIENT_API_PATHS = ("/api/v1/activations", "/api/v1/entitlement")


def is_client_api(path: str) -> bool:
    """`/api/v1/activations[/...]` and `/api/v1/entitlement` (not the vendor's
    `/api/v1/entitlements`)."""
    activations, entitlement = CLIENT_API_PATHS
    return path in (entitlement, activations) or path.startswith(activations + "/")
