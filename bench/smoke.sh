#!/usr/bin/env bash
# A tiny run of each benchmark, to keep them working (CI). No figure is asserted: the
# machine is too small and too shared for that; docs/performance.md has the real runs.
set -euo pipefail
cd "$(dirname "$0")/.."
check() {  # the last line must be the JSON figures
  tail -n 1 | .venv/bin/python -c 'import json, sys; d = json.loads(sys.stdin.read()); print(json.dumps(d)[:400])'
}
bench/activations --entitlements 20 --seconds 1 --warmup 0 --connections 8 \
  --hot-connections 16 --race 200 --rates 20,40 | check
bench/usage --small 500 --large 5000 --runs 3 --rebuild | check
bench/calls --calls 5 | check
bench/webhooks --small | check
bench/volume --small | check
