"""A tiny local HTTP server that answers the library from a script: the edge the retry tests
replace (429 and 503 on demand), while the library's whole HTTP path runs for real. It signs
its leases with a key of its own, which the test pins in the client."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """Signs lease tokens as the portal does (compact JWS, EdDSA)."""

    def __init__(self, kid: str = "stub-key") -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()

    @property
    def jwks(self) -> dict[str, Any]:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": self.kid}]}

    def token(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        head = _b64(json.dumps(header or {"alg": "EdDSA", "kid": self.kid, "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        return f"{head}.{body}.{_b64(self.private.sign(f'{head}.{body}'.encode()))}"

    def lease(self, fingerprint: str, seat_id: str, *, seconds: int = 3600) -> str:
        now = int(time.time())
        return self.token(
            iss="http://stub",
            aud="overdraft-portal/lease",
            sub=seat_id,
            ent=str(uuid.uuid4()),
            fp=fingerprint,
            zone="ok",
            iat=now,
            exp=now + seconds,
            lease_exp=None,
        )

    def granted(self, fingerprint: str, seat_id: str | None = None) -> dict[str, Any]:
        seat_id = seat_id or str(uuid.uuid4())
        return {
            "id": seat_id,
            "status": "ok",
            "fingerprint": fingerprint,
            "overdraft": False,
            "seats": {"used": 1, "entitled": 5, "hard_limit": 5, "customer_cap": None},
            "lease_expires_at": None,
            "lease": self.lease(fingerprint, seat_id),
            "message": "Seat granted.",
        }


Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body (None: no body)


class Stub:
    """Answers each request with the next scripted reply; records (method, path) of each."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stub.requests.append((self.command, self.path))
                status, headers, body = stub.replies.pop(0)
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _reply

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def serving(replies: list[Reply]) -> Iterator[Stub]:
    stub = Stub(replies)
    thread = threading.Thread(target=stub.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.server.shutdown()
        stub.server.server_close()
