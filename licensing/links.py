"""Absolute links to the portal's pages, for emails and chat messages (notifications,
invitations).

Every link is built from the one configured address of the site, `SITE_URL`, never from the
request that happened to cause the email: a worker has no request, and a request's Host header
is the client's to choose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse

if TYPE_CHECKING:
    from licensing.models import Entitlement


def absolute(path: str) -> str:
    """`path` (from the site's root, as `reverse()` gives it) on the portal's public address."""
    return settings.SITE_URL + path


def chart_url(entitlement: Entitlement) -> str:
    """The entitlement's page, with its usage chart (emails and Slack/Teams messages)."""
    return absolute(
        reverse(
            "customer:entitlement",
            kwargs={"slug": entitlement.customer.slug, "entitlement_id": entitlement.pk},
        )
    )
