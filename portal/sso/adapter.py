"""The portal's django-allauth social-account adapter: its providers are the stricter ones of
`portal.sso.provider`, and a sign-in goes through `services.sso_sign_in` (the rules, the
just-in-time membership) before allauth logs the person in."""

from __future__ import annotations

import logging
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest
from django.shortcuts import render

from licensing.services import Actor
from portal.sso import rules, services
from portal.sso.provider import Provider

logger = logging.getLogger(__name__)


def refusal(request: HttpRequest, message: str) -> ImmediateHttpResponse:
    return ImmediateHttpResponse(
        render(request, "account/sso_refused.html", {"message": message}, status=403)
    )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_provider(self, request: HttpRequest, provider: Any, client_id: Any = None) -> Any:
        found = super().get_provider(request, provider, client_id=client_id)
        if found.id == Provider.id:
            return Provider(request, app=found.app)
        return found

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # People are made in pre_social_login (just in time), never by allauth's signup form.
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        provider_id = sociallogin.account.provider
        route = rules.route_for_provider(provider_id)
        claims = sociallogin.account.extra_data.get("id_token") or {}
        if route is None:
            raise refusal(request, "This single sign-on connection no longer exists.")
        try:
            user = services.sso_sign_in(
                route=route, claims=claims, ip=Actor.from_request(request).ip
            )
        except rules.SsoRefused as exc:
            logger.warning("single sign-on through %s refused: %s", provider_id, exc)
            raise refusal(request, str(exc)) from None
        if sociallogin.is_existing:
            if sociallogin.user.pk != user.pk:
                raise refusal(request, "This identity belongs to another account.")
            sociallogin.user = user  # refreshed: roles may have changed
        else:
            sociallogin.user = user
            sociallogin.account.user = user
            sociallogin.account.save()

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        logger.warning(
            "single sign-on through %s failed: %s %s",
            getattr(getattr(provider, "app", None), "provider_id", provider),
            error,
            exception,
        )
        if error == "cancelled":
            return
        raise refusal(
            request,
            "The sign-in could not be completed: the answer from your identity provider did"
            " not pass the portal's checks. Try again from the login page; if it keeps"
            " failing, tell your IT team or your account manager.",
        )
