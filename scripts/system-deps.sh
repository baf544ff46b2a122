#!/usr/bin/env bash
# Install the Debian packages the portal and its tests need when they are missing: Redis,
# headless Chromium, WeasyPrint's Pango and HarfBuzz (statements as PDF) and a font, and
# poppler's pdftoppm (the PDF test looks at the first page). PostgreSQL 15's server binaries
# are expected on the machine (initdb, pg_ctl); if they are missing too, Debian's postgresql
# package provides them.
set -euo pipefail
missing=()
# The shared libraries the dynamic linker knows (ldconfig lives in /sbin, off a user's PATH).
libs=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
has_lib() { [[ $libs == *"$1"* ]]; }
has_lib libpango-1.0.so.0 || missing+=(libpango-1.0-0)
has_lib libpangoft2-1.0.so.0 || missing+=(libpangoft2-1.0-0)
has_lib libharfbuzz.so.0 || missing+=(libharfbuzz0b)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list 2>/dev/null | head -n 1)" ]; then
  missing+=(fonts-dejavu-core)
fi
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Missing system packages: ${missing[*]}. Install them (sudo apt-get install ${missing[*]})." >&2
  exit 1
fi
echo "Installing ${missing[*]} ..." >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
