"""The portal's django-allauth account adapter."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import get_rates
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from licensing.services import Actor
from portal.sso import rules as sso_rules
from portal.sso import services as sso_services

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _duration_words(seconds: float) -> str:
    """300 -> "5 minutes", 3600 -> "1 hour", 90 -> "90 seconds": the largest whole unit."""
    for unit, size in _UNITS:
        count, rest = divmod(int(seconds), size)
        if count and not rest:
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{int(seconds)} seconds"


def lockout_message() -> str:
    """The login lockout, with how long to wait: the longest window of the `login_failed`
    limits (the per-account one in our settings), after which every limit has let go.

    The rates are read as allauth reads them (ACCOUNT_RATE_LIMITS over its defaults)."""
    rates = get_rates(app="allauth.account", action="login_failed")
    if not rates:
        return str(DefaultAccountAdapter.error_messages["too_many_login_attempts"])
    wait = _duration_words(max(rate.duration for rate in rates))
    return f"Too many failed login attempts. Try again in {wait}."


class AccountAdapter(DefaultAccountAdapter):
    @property
    def error_messages(self) -> dict[str, Any]:
        # A property, not a class attribute: the limits are settings, read when the error is.
        return {
            **DefaultAccountAdapter.error_messages,
            "too_many_login_attempts": lockout_message(),
        }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Accounts come from invitations; self-signup only where ACCOUNT_ALLOW_SIGNUP is on.

        An open signup would let a stranger claim an address before its invitation is sent
        (the invitee could then not set a password), and the signup form tells whether an
        address already has an account unless email verification is mandatory.
        """
        return bool(settings.ACCOUNT_ALLOW_SIGNUP)

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        """A password sign-in of someone whose single sign-on is enforced is refused (after
        the password was checked, so the page tells nothing about an address), unless a
        break-glass sign-in is open for them, which is recorded."""
        signal_kwargs = kwargs.get("signal_kwargs") or {}
        if not signal_kwargs.get("sociallogin"):
            route = sso_rules.sso_required(user)
            if route is not None:
                if not sso_rules.break_glass_open(user):
                    return render(
                        request,
                        "account/sso_refused.html",
                        {
                            "message": f"{route.name} signs you in through its identity provider:"
                            " passwords are not accepted.",
                            "route": route
                            if sso_rules.route_for_email(user.email) == route
                            else None,
                            "email": user.email,
                        },
                        status=403,
                    )
                sso_services.break_glass_used(user=user, ip=Actor.from_request(request).ip)
        response: HttpResponse | None = super().pre_login(request, user, **kwargs)
        return response
