"""`python -m overdraft_client activate|status|release`: the client API for scripts and support.

Options (each also read from the environment):

    --url          OVERDRAFT_URL           the portal, e.g. https://licenses.example.com
    --key          OVERDRAFT_LICENSE_KEY   the license key (prefer the variable: argv is visible)
    --fingerprint  OVERDRAFT_FINGERPRINT   this machine's id (default: the host name)
    --label                                a name people recognise, sent on activation
    --cache-dir    OVERDRAFT_CACHE_DIR     keep the keys and the lease there (release finds it)
    --timeout, --retries                   seconds per request (10); retries of a request that
                                           got no answer, a 5xx or a 429 (3, with backoff)
    --seat                                 release: the seat id (default: the cached lease's)

Prints one JSON object. Exit codes:

    0  granted (ok or overdraft), status read, released
    1  denied: the hard limit or the customer's cap is reached
    2  bad usage
    3  refused: invalid key, unusable entitlement, malformed request, unknown seat (4xx)
    4  the portal cannot be reached (or answered 5xx/429 on every try)
    5  the portal's lease token does not verify
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from overdraft_client.client import Client
from overdraft_client.errors import APIError, InvalidLease, OverdraftError, Unavailable
from overdraft_client.leases import Lease
from overdraft_client.results import Denied, Granted
from overdraft_client.retry import Backoff

GRANTED, DENIED, USAGE, REFUSED, UNAVAILABLE, BAD_LEASE = 0, 1, 2, 3, 4, 5


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    env = os.environ.get
    common.add_argument("--url", default=env("OVERDRAFT_URL"), help="the portal's address")
    common.add_argument("--key", default=env("OVERDRAFT_LICENSE_KEY"), help="the license key")
    common.add_argument(
        "--fingerprint",
        default=env("OVERDRAFT_FINGERPRINT") or socket.gethostname(),
        help="this machine's id (default: the host name)",
    )
    common.add_argument("--label", default=None, help="a name people recognise")
    common.add_argument("--cache-dir", default=env("OVERDRAFT_CACHE_DIR"), help="keys and lease")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    common.add_argument(
        "--retries", type=int, default=3, help="retries of an unanswered, 5xx or 429 request"
    )
    parser = argparse.ArgumentParser(
        prog="python -m overdraft_client",
        description="Take, inspect and release seats of an Overdraft Portal entitlement.",
        epilog="Exit codes: 0 granted/done, 1 denied, 2 usage, 3 refused, 4 unreachable, "
        "5 invalid lease.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("activate", parents=[common], help="take a seat (or renew this one's)")
    commands.add_parser("status", parents=[common], help="the entitlement's usage and zone")
    release = commands.add_parser("release", parents=[common], help="give the seat back")
    release.add_argument("--seat", default=None, help="the seat id (default: the cached lease's)")
    return parser


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _lease(lease: Lease) -> dict[str, Any]:
    return {
        "seat_id": lease.seat_id,
        "entitlement_id": lease.entitlement_id,
        "fingerprint": lease.fingerprint,
        "zone": lease.zone,
        "valid_until": lease.valid_until_datetime.isoformat(),
        "floating": lease.floating,
    }


def _granted(result: Granted) -> dict[str, Any]:
    return {
        "result": "granted",
        "status": result.status,
        "seat_id": result.seat_id,
        "created": result.created,
        "valid_until": _iso(result.valid_until),
        "lease_expires_at": _iso(result.lease_expires_at),
        "seats": asdict(result.seats),
        "message": result.message,
        "lease": result.lease.token,
    }


def _denied(result: Denied) -> dict[str, Any]:
    return {
        "result": "denied",
        "code": result.code,
        "message": result.message,
        "retry_after": result.retry_after,
        "seats": asdict(result.seats),
    }


def _error(exc: OverdraftError) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {
        "result": "error",
        "code": exc.code,
        "status": exc.status,
        "message": exc.message,
    }
    if isinstance(exc, Unavailable):
        out["retry_after"] = exc.retry_after
        return out, UNAVAILABLE
    if isinstance(exc, InvalidLease):
        return out, BAD_LEASE
    if isinstance(exc, APIError) and exc.errors:
        out["errors"] = exc.errors
    return out, REFUSED


def run(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    client = Client(
        args.url,
        args.key,
        fingerprint=args.fingerprint,
        label=args.label,
        cache_dir=args.cache_dir,
        timeout=args.timeout,
        backoff=Backoff(attempts=max(0, args.retries) + 1),
        release_at_exit=False,  # a script's seat stays taken until it runs `release`
    )
    try:
        if args.command == "activate":
            result = client.activate()
            if isinstance(result, Denied):
                return _denied(result), DENIED
            return _granted(result), GRANTED
        if args.command == "status":
            status = client.entitlement()
            stored = client.stored_lease()
            return {
                "result": "status",
                "entitlement": status.raw,
                "lease": _lease(stored) if stored else None,
            }, GRANTED
        seat = args.seat or (lease.seat_id if (lease := client.stored_lease()) else None)
        if seat is None:
            return {
                "result": "error",
                "code": "no_seat",
                "message": "Name the seat with --seat, or pass the --cache-dir of the activation.",
            }, USAGE
        client.release(seat)
        return {"result": "released", "seat_id": seat}, GRANTED
    except OverdraftError as exc:
        return _error(exc)
    finally:
        client.close(release=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.url or not args.key:
        parser.error("--url (or OVERDRAFT_URL) and --key (or OVERDRAFT_LICENSE_KEY) are required")
    try:
        out, code = run(args)
    except ValueError as exc:
        parser.error(str(exc))
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return code
