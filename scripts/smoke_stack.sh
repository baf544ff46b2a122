#!/usr/bin/env bash
# Smoke test of the production-shaped stack (CI): start ./scripts/stack on free ports in a
# throwaway folder, wait for /readyz, create an entitlement (2 seats, hard limit 3) and a
# vendor-wide webhook endpoint pointing at a local receiver, activate seats through gunicorn
# until one is denied, check the worker delivered signed webhooks, the JSON log line and the
# metrics, then stop the stack and check it stopped cleanly. Prints PASS or FAIL; everything it
# started is stopped (and its folder removed) whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
STARTED=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/smoke-stack.XXXXXX")
chmod 755 "$WORK"  # the PostgreSQL cluster inside runs as `postgres` when we are root
STACK_PID=
RECEIVER_PID=
RESULT=FAIL

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
say() { printf '[smoke] %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

WEB_PORT=$(free_port)
PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
RECEIVER_PORT=$(free_port)
BASE="http://127.0.0.1:$WEB_PORT"

stop_stack() {
  # SIGTERM to the stack script only: it must stop the supervised processes, Redis and PostgreSQL.
  [ -n "$STACK_PID" ] || return 0
  kill -TERM "$STACK_PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$STACK_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$STACK_PID" 2>/dev/null; then
    say "the stack did not stop within 30 s; killing its process group"
    kill -KILL -- "-$STACK_PID" 2>/dev/null || true
    return 1
  fi
  wait "$STACK_PID" 2>/dev/null || true
  STACK_PID=
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_stack || rc=1
  # Belt and braces after a failure: the stack's own PostgreSQL and Redis, by their pid files.
  if [ -s "$WORK/stack/postgres/data/postmaster.pid" ]; then
    kill -TERM "$(head -n 1 "$WORK/stack/postgres/data/postmaster.pid")" 2>/dev/null || true
  fi
  if [ -s "$WORK/stack/redis.pid" ]; then kill -TERM "$(cat "$WORK/stack/redis.pid")" 2>/dev/null || true; fi
  if [ -n "$RECEIVER_PID" ]; then kill -TERM "$RECEIVER_PID" 2>/dev/null || true; wait "$RECEIVER_PID" 2>/dev/null || true; fi
  if [ "$rc" != 0 ] || [ "$RESULT" != PASS ]; then
    say "stack log (last 60 lines):"
    tail -n 60 "$WORK/stack.log" >&2 2>/dev/null || true
    RESULT=FAIL
    [ "$rc" != 0 ] || rc=1
  fi
  sleep 0.5
  rm -rf "$WORK"
  echo "SMOKE STACK: $RESULT ($(( $(date +%s) - STARTED )) s)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A webhook receiver: records each POST (headers and body) as a JSON line, answers 204.
"$PY" - "$RECEIVER_PORT" "$WORK/received.jsonl" >"$WORK/receiver.log" 2>&1 <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, path = int(sys.argv[1]), sys.argv[2]

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open(path, "a") as out:
            out.write(json.dumps({"headers": dict(self.headers), "body": body}) + "\n")
        self.send_response(204)
        self.end_headers()

ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
PY
RECEIVER_PID=$!

say "starting the stack on $BASE (PostgreSQL $PG_PORT, Redis $REDIS_PORT)"
# setsid: the stack gets a process group of its own, so a last-resort kill reaches only it.
env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL -u SECRET_KEY -u SECRET_KEY_FILE \
  -u GUNICORN_BIND -u SECURE_SSL_REDIRECT \
  STACK_DIR="$WORK/stack" PORT="$WEB_PORT" STACK_PGPORT="$PG_PORT" STACK_REDIS_PORT="$REDIS_PORT" \
  WEBHOOKS_ALLOW_PRIVATE_URLS=1 WEB_CONCURRENCY=2 CELERY_CONCURRENCY=2 LOG_FORMAT=json \
  setsid ./scripts/stack >"$WORK/stack.log" 2>&1 &
STACK_PID=$!

ready=0
for _ in $(seq 180); do
  kill -0 "$STACK_PID" 2>/dev/null || fail "the stack exited before it was ready"
  if curl -sf -m 2 "$BASE/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.5
done
[ "$ready" = 1 ] || fail "/readyz did not answer 200 within 90 s"
say "ready after $(( $(date +%s) - STARTED )) s"
curl -sf -m 2 "$BASE/healthz" >/dev/null || fail "/healthz did not answer 200"

# The same settings the stack runs with (database, secret key, ...), for manage.py.
set -a
# shellcheck disable=SC1091
. "$WORK/stack/stack.env"
set +a
"$PY" manage.py shell -c "
from licensing import services
from webhooks import services as webhook_services
product = services.product_create(name='Smoke Product')
customer = services.customer_create(name='Smoke Customer')
entitlement = services.entitlement_create(customer=customer, product=product, seats=2, hard_limit=3)
endpoint = webhook_services.endpoint_create(
    customer=None,
    url='http://127.0.0.1:$RECEIVER_PORT/hook',
    event_types=['seat.activated', 'seat.denied', 'entitlement.overdraft_started',
                 'entitlement.hard_limit_reached'],
)
print(entitlement.license_key, entitlement.pk, endpoint.secret)
" >"$WORK/created" 2>"$WORK/created.err" || { cat "$WORK/created.err" >&2; fail "could not create the entitlement and endpoint"; }
read -r LICENSE_KEY ENTITLEMENT_ID SECRET < <(tail -n 1 "$WORK/created")

# Seats 1-2 ok, 3 overdraft, 4 denied (409), all through gunicorn.
results=""
for n in 1 2 3 4; do
  body=$(curl -s -m 10 -o - -w ' %{http_code}' -X POST "$BASE/api/v1/activations" \
    -H "Authorization: License $LICENSE_KEY" -H "Content-Type: application/json" \
    -H "X-Request-ID: smoke-activation-$n" -d "{\"fingerprint\": \"smoke-host-$n\"}")
  status=$(printf '%s' "${body% *}" | "$PY" -c 'import json, sys; print(json.load(sys.stdin).get("status"))')
  results="$results ${body##* }:$status"
done
say "activations:$results"
[ "$results" = " 201:ok 201:ok 201:overdraft 409:denied" ] || fail "unexpected activation results:$results"

# The worker fans the events out and delivers them; wait for the denial to arrive, signed.
delivered=0
for _ in $(seq 60); do
  if [ -s "$WORK/received.jsonl" ] && grep -q 'seat.denied' "$WORK/received.jsonl"; then delivered=1; break; fi
  sleep 0.5
done
[ "$delivered" = 1 ] || fail "no seat.denied webhook reached the receiver within 30 s"
"$PY" - "$WORK/received.jsonl" "$SECRET" "$ENTITLEMENT_ID" <<'PY' || fail "webhook check failed"
import json, sys
from standardwebhooks.webhooks import Webhook

path, secret, entitlement_id = sys.argv[1:]
received = [json.loads(line) for line in open(path)]
verifier = Webhook(secret)
types = set()
for item in received:
    headers = {k.lower(): v for k, v in item["headers"].items()}
    assert headers.get("webhook-signature", "").startswith("v1,"), headers
    payload = verifier.verify(item["body"], headers)  # raises on a bad signature
    if payload["data"].get("entitlement_id") == entitlement_id:
        types.add(payload["type"])
expected = {"seat.activated", "seat.denied", "entitlement.overdraft_started",
            "entitlement.hard_limit_reached"}
missing = expected - types
print(f"[smoke] {len(received)} webhooks received, signatures valid, types {sorted(types)}",
      file=sys.stderr)
assert not missing, f"missing webhook types: {sorted(missing)}"
PY

# One JSON log line per API request, with the request id and the activation result.
for _ in $(seq 20); do grep -q '"request_id": "smoke-activation-4"' "$WORK/stack.log" && break; sleep 0.25; done
grep '"request_id": "smoke-activation-4"' "$WORK/stack.log" | grep -q '"activation_result": "denied"' \
  || fail "no JSON log line with request_id smoke-activation-4 and activation_result denied"

# Metrics from the database and, summed over both gunicorn workers, request latencies.
metrics=$(curl -sf -m 5 "$BASE/metrics") || fail "/metrics did not answer"
grep -q '^portal_activations_total{result="denied"} [1-9]' <<<"$metrics" || fail "no denied activations in /metrics"
grep -q '^portal_webhook_deliveries{status="succeeded"} [1-9]' <<<"$metrics" || fail "no delivered webhooks in /metrics"
grep -q '^portal_http_request_duration_seconds_count{method="POST",view="api:activation-create"} 4.0' <<<"$metrics" \
  || fail "request latency histogram does not count the 4 activations"

# A worker that dies is restarted on its own, and gunicorn keeps answering meanwhile.
worker_started() {  # the pid of the latest worker the supervisor started
  grep -oE 'supervise +\| worker started \(pid [0-9]+' "$WORK/stack.log" | tail -n 1 | grep -oE '[0-9]+$' || true
}
worker_ready() { grep -cE '^worker +\| .*celery@[^ ]* ready\.' "$WORK/stack.log" || true; }
old_worker=$(worker_started)
ready_before=$(worker_ready)
[ -n "$old_worker" ] || fail "no 'worker started' line in the stack log"
kill -KILL "$old_worker"
restarted=0
for _ in $(seq 60); do
  curl -sf -m 2 "$BASE/healthz" >/dev/null || fail "/healthz failed after the worker was killed"
  new_worker=$(worker_started)
  if [ "$new_worker" != "$old_worker" ] && kill -0 "$new_worker" 2>/dev/null \
    && [ "$(worker_ready)" -gt "$ready_before" ]; then restarted=1; break; fi
  sleep 0.25
done
[ "$restarted" = 1 ] || fail "no new worker ready within 15 s of killing worker $old_worker"
say "worker $old_worker killed with SIGKILL; worker $new_worker took over, /healthz kept answering"

say "stopping the stack"
stop_stack || fail "the stack did not stop cleanly"
grep -qE 'supervise +\| worker stopped' "$WORK/stack.log" && grep -qE 'supervise +\| web stopped' "$WORK/stack.log" \
  && grep -qE 'supervise +\| beat stopped' "$WORK/stack.log" && grep -q 'PostgreSQL stopped' "$WORK/stack.log" \
  && grep -q 'Redis stopped' "$WORK/stack.log" || fail "not every process reported stopping"
if curl -s -m 1 "$BASE/healthz" >/dev/null 2>&1; then fail "gunicorn still answers after the stop"; fi
RESULT=PASS
