"""One HTTP exchange with the portal, through the standard library (urllib: it honours the
usual proxy variables, HTTPS_PROXY and NO_PROXY, which license clients in companies need).

Redirects are not followed: a license call answered with a redirect is a misconfigured URL,
and following it would resend the license key to wherever it points.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from overdraft_client._version import __version__

USER_AGENT = f"overdraft-client/{__version__} (python)"


class Unreachable(Exception):
    """No HTTP answer: refused, reset, timed out, or not HTTP at all."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: Any  # the parsed JSON, or None

    def retry_after(self, now: float) -> float | None:
        """The `Retry-After` header in seconds from `now` (it may be seconds or an HTTP date)."""
        return parse_retry_after(self.headers.get("retry-after"), now)


def parse_retry_after(value: str | None, now: float) -> float | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError, which `send` returns


_opener = urllib.request.build_opener(_NoRedirects)


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Any = None,
    timeout: float,
) -> Answer:
    """The portal's answer to one request (any status); Unreachable when there is none."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
    if data is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        response = _opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:  # a 4xx or 5xx answer: still an answer
        response = error
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise Unreachable(str(getattr(exc, "reason", None) or exc) or type(exc).__name__) from exc
    try:
        with response:
            raw = response.read()
    except (http.client.HTTPException, OSError) as exc:  # cut off while reading the body
        raise Unreachable(str(exc) or type(exc).__name__) from exc
    return _answer(response.status, response.headers.items(), raw)


def _answer(status: int, headers: Any, raw: bytes) -> Answer:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:  # a proxy's HTML error page, say
        body = None
    return Answer(status, {name.lower(): value for name, value in headers}, body)
