"""Every read of the licensing domain that is more than a `get`.

Pages and APIs call these; chart data for the portal and the vendor API comes from one
usage-series selector, so both answer the same numbers.
"""

from __future__ import annotations

# --- usage series, figures and seats (customer pages) -----------------------------------------


# --- customers overview, expansion leads, event log (account team) ----------------------------
