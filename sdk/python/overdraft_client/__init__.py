"""Python client for the Overdraft Portal's license API.

    from overdraft_client import Client

    with Client("https://licenses.example.com", KEY, fingerprint=machine_id()) as client:
        if not client.licensed():
            sys.exit(client.message)
        run_the_app()

docs/clients.md in the portal's repository has the states, what a client may do offline, and
the CLI (`python -m overdraft_client activate|status|release`).
"""

from overdraft_client._version import __version__
from overdraft_client.client import Client
from overdraft_client.errors import (
    ActivationNotFound,
    APIError,
    EntitlementUnusable,
    InvalidLease,
    InvalidLicenseKey,
    InvalidRequest,
    OverdraftError,
    SeatNotHeld,
    Unavailable,
)
from overdraft_client.leases import AUDIENCE, LEEWAY, Lease, verify_lease
from overdraft_client.results import Denied, EntitlementStatus, Granted, Seats
from overdraft_client.retry import Backoff
from overdraft_client.state import State

__all__ = [
    "AUDIENCE",
    "LEEWAY",
    "APIError",
    "ActivationNotFound",
    "Backoff",
    "Client",
    "Denied",
    "EntitlementStatus",
    "EntitlementUnusable",
    "Granted",
    "InvalidLease",
    "InvalidLicenseKey",
    "InvalidRequest",
    "Lease",
    "OverdraftError",
    "SeatNotHeld",
    "Seats",
    "State",
    "Unavailable",
    "__version__",
    "verify_lease",
]
