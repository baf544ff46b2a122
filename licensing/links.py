"""Absolute links to the portal's pages, for emails (notifications, invitations).

Every link is built from the one configured address of the site, `SITE_URL`, never from the
request that happened to cause the email: a worker has no request, and a request's Host header
is the client's to choose.
"""

from django.conf import settings


def absolute(path: str) -> str:
    """`path` (from the site's root, as `reverse()` gives it) on the portal's public address."""
    return settings.SITE_URL + path
