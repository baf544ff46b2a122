"""The license client: take a seat, keep it, give it back, and know offline until when it holds.

    with Client(URL, KEY, fingerprint=machine_id(), cache_dir=app_dir) as client:
        if not client.licensed():
            sys.exit(client.message)
        run_the_app()

`start()` (or entering the `with`) activates and starts a background thread, the keeper, that
renews the lease before it runs out: a floating seat's after a third of the lease left (the
portal reclaims it when it runs out), a named seat's token after half of its offline grace
left. When the portal cannot be reached the keeper tries again with backoff, and the client
stays licensed until the last lease's valid-until and no longer; back online, a seat the
portal reclaimed meanwhile is taken again. `close()` (leaving the `with`, or the interpreter's
exit) stops the keeper and releases the seat.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Final

from overdraft_client import transport
from overdraft_client.cache import DiskCache
from overdraft_client.errors import (
    ActivationNotFound,
    APIError,
    InvalidLease,
    OverdraftError,
    SeatNotHeld,
    Unavailable,
    api_error,
)
from overdraft_client.keys import JWKS, KeyStore
from overdraft_client.leases import LEEWAY, Lease, verify_lease
from overdraft_client.results import Denied, EntitlementStatus, Granted, granted_from
from overdraft_client.retry import Backoff, retryable
from overdraft_client.state import State

logger = logging.getLogger("overdraft_client")

# The keeper renews a floating seat after this share of its lease left has passed (the
# portal reclaims the seat when the lease runs out), a named seat's token after this share of
# its offline grace left; each wait is shortened by up to a quarter, at random, so clients
# started together spread out.
FLOATING_RENEWAL: Final = 1 / 3
NAMED_RENEWAL: Final = 1 / 2
JITTER: Final = 0.25
# Shortest waits between renewals: a floating seat's, and a named seat's (whose token may
# have no grace at all, when it lives on the leeway alone).
MIN_FLOATING_WAIT: Final = 0.1
MIN_NAMED_WAIT: Final = 60.0
# The keeper checks the wall clock at least this often (seconds) while it waits.
MAX_NAP: Final = 60.0
# At exit the seat is released with at most this many tries: an exiting program must not hang.
RELEASE_ATTEMPTS_AT_EXIT: Final = 2


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment).astimezone().strftime("%Y-%m-%d %H:%M %Z")


class Client:
    """A software client's license: one fingerprint (this machine, or user) on one entitlement.

    `jwks` pins the portal's public keys (never fetched then); otherwise they are fetched from
    the portal and, with `cache_dir`, kept on disk with the last lease, so a client started
    while the portal is unreachable stays licensed until that lease's valid-until. `leeway`
    is the clock skew tolerated (seconds). `clock` (seconds since the epoch) and `sleep` (the
    waits between retries of a call) are replaceable for tests. Thread-safe.
    """

    def __init__(
        self,
        base_url: str,
        license_key: str,
        *,
        fingerprint: str,
        label: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        leeway: float = LEEWAY,
        release_at_exit: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be the portal's http:// or https:// address")
        if not license_key or not fingerprint:
            raise ValueError("a license key and a fingerprint are required")
        self.base_url = base_url.rstrip("/")
        self.fingerprint = fingerprint
        self.label = label
        self._license_key = license_key
        self._timeout = timeout
        self._backoff = backoff or Backoff()
        self._leeway = leeway
        self._release_at_exit = release_at_exit
        self._clock = clock
        self._sleep = sleep
        self._cache = DiskCache(cache_dir, self.base_url) if cache_dir is not None else None
        self._keys = KeyStore(fetch=self._fetch_jwks, pinned=jwks, cache=self._cache)

        self._lock = threading.RLock()
        self._lease: Lease | None = None
        self._seat_id: str | None = None
        self._online: bool | None = None  # whether the last call reached the portal
        self._message = ""  # the portal's last message
        self._denied: Denied | None = None
        self._refused: APIError | None = None
        self._at_exit_registered = False
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Client {self.base_url} fingerprint={self.fingerprint!r} state={self.state}>"

    # --- what the application asks ----------------------------------------------------------

    @property
    def state(self) -> State:
        """Where this client stands now (docs/clients.md: what to show the user in each)."""
        with self._lock:
            if self._refused is not None:
                return State.REFUSED
            lease = self._lease
            if lease is not None and lease.licenses(self._clock(), self._leeway):
                if self._online:
                    return State.OVERDRAFT if lease.zone == "overdraft" else State.OK
                return State.OFFLINE_WITHIN_GRACE
            if lease is None and self._denied is not None:
                if self._denied.code == "customer_cap_reached":
                    return State.DENIED_CUSTOMER_CAP
                return State.DENIED_HARD_LIMIT
            if lease is not None or self._online is False:
                return State.OFFLINE_PAST_GRACE
            return State.INACTIVE

    def licensed(self) -> bool:
        """Whether the software may run now: ok, overdraft, or offline within its grace."""
        return self.state.licensed

    @property
    def message(self) -> str:
        """A sentence for the end user about the current state."""
        state = self.state
        with self._lock:
            lease, denied, refused = self._lease, self._denied, self._refused
            said = self._message
        if state is State.OK:
            return said or "Licensed."
        if state is State.OVERDRAFT:
            return said or "Licensed on an overdraft seat, above the entitled seats."
        if state in (State.DENIED_CUSTOMER_CAP, State.DENIED_HARD_LIMIT) and denied is not None:
            return denied.message
        if state is State.REFUSED and refused is not None:
            return refused.message
        if state is State.OFFLINE_WITHIN_GRACE and lease is not None:
            return (
                "The license server cannot be reached; this copy stays licensed offline until "
                f"{_when(lease.valid_until)}."
            )
        if state is State.OFFLINE_PAST_GRACE:
            if lease is None:
                return "The license server cannot be reached, and this computer holds no lease."
            return (
                "The license server has not been reached in time: the offline grace ended at "
                f"{_when(lease.valid_until)}. Reconnect to keep working."
            )
        return "Not activated."

    @property
    def lease(self) -> Lease | None:
        """The last lease the portal granted (verified), whether or not it still holds."""
        with self._lock:
            return self._lease

    @property
    def seat_id(self) -> str | None:
        with self._lock:
            return self._seat_id

    def stored_lease(self) -> Lease | None:
        """The lease kept in `cache_dir` by this or an earlier run, if it holds now."""
        with self._lock:
            return self._stored_lease()

    # --- the calls --------------------------------------------------------------------------

    def activate(self) -> Granted | Denied:
        """Take a seat (or renew the one this fingerprint holds). Returns Granted or Denied;
        raises Unavailable when the portal cannot be reached (after retries), APIError
        subclasses when it refuses (InvalidLicenseKey, EntitlementUnusable, InvalidRequest), and
        InvalidLease if its token does not verify."""
        return self._activate()

    def heartbeat(self) -> Granted:
        """Renew the held seat's lease (a named seat's token too). SeatNotHeld when the portal
        released, expired or revoked it: `activate()` again."""
        seat_id = self.seat_id
        if seat_id is None:
            raise SeatNotHeld("No seat is held: activate first.", code="seat_not_held")
        return self._heartbeat(seat_id)

    def release(self, seat_id: str | None = None) -> None:
        """Give the seat back and stop keeping it (nothing to do if none is held); or the seat
        `seat_id`, one this license key holds (a support script's release of a seat taken
        elsewhere)."""
        if seat_id is None or seat_id == self.seat_id:
            self._stop_keeper()
        self._release(seat_id)

    def entitlement(self) -> EntitlementStatus:
        """The license key's entitlement: its usage and zone (`GET /api/v1/entitlement`)."""
        answer = self._request("GET", "/api/v1/entitlement")
        if answer.status != 200:
            raise self._refusal(answer)
        return EntitlementStatus.from_body(answer.body)

    def verify(self, token: str) -> Lease:
        """The lease `token` is, checked offline against the portal's keys (fetched first if
        it names a key not yet known); InvalidLease if it does not license this client now."""
        return verify_lease(
            token,
            self._keys.for_token(token),
            fingerprint=self.fingerprint,
            now=self._clock(),
            leeway=self._leeway,
        )

    # --- keeping the seat -------------------------------------------------------------------

    def start(self) -> State:
        """Activate and keep the seat in the background; returns the state. Never raises for
        what the portal answers or for an outage: the state says it (and the keeper keeps
        trying to reach the portal)."""
        failures, retry_after = 0, None
        try:
            self._activate()
        except Unavailable as exc:
            failures, retry_after = 1, exc.retry_after
        except InvalidLease as exc:
            logger.warning("overdraft_client: the portal's lease does not verify: %s", exc)
            failures = 1
        except APIError:
            pass  # refused: the state says so
        with self._lock:
            if self._keeper is None or not self._keeper.is_alive():
                self._stop.clear()
                self._keeper = threading.Thread(
                    target=self._keep,
                    args=(failures, retry_after),
                    name="overdraft-client-keeper",
                    daemon=True,  # the interpreter's exit is not held up; atexit releases
                )
                self._keeper.start()
        return self.state

    def close(self, *, release: bool = True) -> None:
        """Stop the keeper and (unless `release` is False) release the seat. Idempotent."""
        self._stop_keeper()
        if release and self.seat_id is not None:
            try:
                self._release(attempts=RELEASE_ATTEMPTS_AT_EXIT)
            except OverdraftError as exc:
                logger.warning("overdraft_client: could not release the seat at exit: %s", exc)
        if self._at_exit_registered:
            atexit.unregister(self._at_exit)
            self._at_exit_registered = False

    def __enter__(self) -> Client:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _stop_keeper(self) -> None:
        self._stop.set()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(self._timeout + 1)

    def _at_exit(self) -> None:
        self.close()

    def _keep(self, failures: int, retry_after: float | None) -> None:
        """The keeper's loop: wait, renew, and after a failure wait with backoff."""
        while True:
            wait = self._next_wait(failures, retry_after)
            if wait is None or self._nap(wait):
                return
            try:
                self._renew()
            except Unavailable as exc:
                failures, retry_after = failures + 1, exc.retry_after
                log = logger.warning if failures == 1 else logger.debug
                log("overdraft_client: %s %s", exc, self.message)
                continue
            except InvalidLease as exc:
                failures, retry_after = failures + 1, None
                logger.warning("overdraft_client: the portal's lease does not verify: %s", exc)
                continue
            except APIError as exc:  # refused (the state says so) or a seat lost twice over
                logger.warning("overdraft_client: %s", exc)
            except Exception:  # a keeper that died would leave the seat to lapse: go on
                logger.exception("overdraft_client: unexpected error in the keeper")
                failures, retry_after = failures + 1, None
                continue
            if failures:
                logger.warning("overdraft_client: the license server answers again: %s", self.state)
            failures, retry_after = 0, None

    def _nap(self, seconds: float) -> bool:
        """Wait `seconds` by the wall clock (in slices, so that a computer that slept through
        the due time renews on waking); True if the client was closed meanwhile."""
        due = self._clock() + seconds
        while (left := due - self._clock()) > 0:
            if self._stop.wait(min(left, MAX_NAP)):
                return True
        return self._stop.is_set()

    def _renew(self) -> None:
        seat_id = self.seat_id
        if seat_id is not None:
            try:
                self._heartbeat(seat_id, attempts=1)
                return
            except (SeatNotHeld, ActivationNotFound):
                pass  # reclaimed (say, while the portal was out of reach): take a seat again
        self._activate(attempts=1)

    def _next_wait(self, failures: int, retry_after: float | None) -> float | None:
        """Seconds until the keeper's next call; None when there is nothing to keep."""
        with self._lock:
            lease, denied, refused = self._lease, self._denied, self._refused
        if refused is not None:
            return None
        now = self._clock()
        if failures:  # the portal was out of reach: back off, but try again within the lease
            wait = self._backoff.delay(failures)
            lease_end = lease.lease_expires_at if lease is not None else None
            if lease_end is not None and lease_end > now:
                wait = min(wait, max(MIN_FLOATING_WAIT, (lease_end - now) * FLOATING_RENEWAL))
            return max(wait, retry_after or 0.0)
        if lease is None:
            if denied is not None and denied.retry_after is not None:
                return denied.retry_after + random.uniform(0, 1)  # a floating seat may free up
            return None
        jitter = 1 - random.uniform(0, JITTER)
        if lease.lease_expires_at is not None:
            left = lease.lease_expires_at - now
            return max(MIN_FLOATING_WAIT, left * FLOATING_RENEWAL * jitter)
        return max(MIN_NAMED_WAIT, (lease.valid_until - now) * NAMED_RENEWAL * jitter)

    # --- the exchanges ----------------------------------------------------------------------

    def _activate(self, *, attempts: int | None = None) -> Granted | Denied:
        body: dict[str, str] = {"fingerprint": self.fingerprint}
        if self.label is not None:
            body["label"] = self.label
        answer = self._request("POST", "/api/v1/activations", body, attempts=attempts)
        if answer.status in (200, 201):
            return self._granted(answer)
        if answer.status == 409:
            denied = Denied.from_body(answer.body)
            with self._lock:
                self._forget_seat()
                self._denied = denied
            return denied
        raise self._refusal(answer)

    def _heartbeat(self, seat_id: str, *, attempts: int | None = None) -> Granted:
        path = f"/api/v1/activations/{urllib.parse.quote(seat_id, safe='')}/heartbeat"
        answer = self._request("POST", path, attempts=attempts)
        if answer.status == 200:
            return self._granted(answer, activation=False)
        if answer.status in (404, 410):
            with self._lock:
                if self._seat_id == seat_id:
                    self._forget_seat()
            raise api_error(answer.status, answer.body)
        raise self._refusal(answer)

    def _release(self, seat_id: str | None = None, *, attempts: int | None = None) -> None:
        seat_id = seat_id or self.seat_id
        if seat_id is None:
            return
        path = f"/api/v1/activations/{urllib.parse.quote(seat_id, safe='')}"
        answer = self._request("DELETE", path, attempts=attempts)
        if answer.status not in (200, 204, 404, 410):  # 404, 410: it is not held anyway
            raise api_error(answer.status, answer.body)
        with self._lock:
            if self._seat_id == seat_id:
                self._forget_seat()
                self._denied = None

    def _granted(self, answer: transport.Answer, *, activation: bool = True) -> Granted:
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get("lease"), str):
            raise InvalidLease("the portal's answer carries no lease")
        lease = self.verify(body["lease"])
        if body.get("id") != lease.seat_id:
            raise InvalidLease("the lease names another seat")
        granted = granted_from(body, lease, created=answer.status == 201)
        with self._lock:
            self._lease, self._seat_id = lease, lease.seat_id
            self._online, self._denied, self._refused = True, None, None
            if activation:  # a heartbeat's message is about the lease, not for the user
                self._message = granted.message
            if self._release_at_exit and not self._at_exit_registered:
                atexit.register(self._at_exit)
                self._at_exit_registered = True
        if self._cache is not None:
            self._cache.write(self._cache.lease_path(self.fingerprint), {"token": lease.token})
        return granted

    def _refusal(self, answer: transport.Answer) -> APIError:
        """The error of an answer that will not change; the client is refused from now on."""
        error = api_error(answer.status, answer.body)
        with self._lock:
            self._online, self._refused = True, error
        return error

    def _forget_seat(self) -> None:
        self._lease = self._seat_id = None
        self._online = True
        if self._cache is not None:
            self._cache.delete(self._cache.lease_path(self.fingerprint))

    def _went_offline(self) -> None:
        with self._lock:
            self._online = False
            if self._lease is None:  # a lease kept on disk by an earlier run may still hold
                self._lease = self._stored_lease()
                self._seat_id = self._lease.seat_id if self._lease else None

    def _stored_lease(self) -> Lease | None:
        if self._cache is None:
            return None
        stored = self._cache.read(self._cache.lease_path(self.fingerprint))
        token = stored.get("token") if isinstance(stored, dict) else None
        if not isinstance(token, str):
            return None
        try:
            return verify_lease(
                token,
                self._keys.jwks,
                fingerprint=self.fingerprint,
                now=self._clock(),
                leeway=self._leeway,
            )
        except InvalidLease as exc:
            logger.info("overdraft_client: the stored lease does not hold: %s", exc)
            return None

    def _fetch_jwks(self) -> JWKS:
        answer = self._request("GET", "/.well-known/jwks.json", attempts=2)
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise api_error(answer.status, answer.body)
        return answer.body

    def _request(
        self, method: str, path: str, body: Any = None, *, attempts: int | None = None
    ) -> transport.Answer:
        """The portal's answer, retried with backoff while there is none or it is a 5xx or a
        429 (see overdraft_client.retry); Unavailable when the tries run out."""
        attempts = attempts or self._backoff.attempts
        headers = {"Authorization": f"License {self._license_key}"}
        failures = 0
        while True:
            try:
                answer = transport.send(
                    method, self.base_url + path, headers=headers, body=body, timeout=self._timeout
                )
            except transport.Unreachable as exc:
                problem = Unavailable(f"The license server cannot be reached ({exc}).")
            else:
                if not retryable(answer.status):
                    return answer
                content = answer.body if isinstance(answer.body, dict) else {}
                problem = Unavailable(
                    str(content.get("message") or f"The portal answered HTTP {answer.status}."),
                    code=str(content.get("code") or "unavailable"),
                    status=answer.status,
                    retry_after=answer.retry_after(self._clock()),
                )
            failures += 1
            too_long = problem.retry_after is not None and problem.retry_after > self._backoff.cap
            if failures >= attempts or too_long:
                self._went_offline()
                raise problem
            self._sleep(self._backoff.delay(failures, problem.retry_after))
