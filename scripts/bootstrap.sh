#!/usr/bin/env bash
# Create ./.venv and install the project with its development tools and the Python client
# library in sdk/python (idempotent, quick when nothing changed). Sourced by the other scripts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# The Python client library (sdk/python) is installed editable from this checkout, so its path
# is part of the stamp along with both projects' dependencies.
stamp=.venv/.installed-$({ cat pyproject.toml sdk/python/pyproject.toml; pwd; } | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]" -e sdk/python
  rm -f .venv/.installed-* && touch "$stamp"
fi
