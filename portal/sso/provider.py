"""django-allauth's OpenID Connect provider, stricter.

allauth (65.x) sends no nonce, skips the ID token's signature when the token came straight
from the token endpoint, and trusts whatever issuer the discovery document names. Here every
sign-in carries a nonce kept in the single-use state and checked once; the ID token is
required and its signature always checked against the provider's keys; its issuer must be the
one saved with the connection, and so must the discovery document's.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from allauth.core.internal.deferred import jwt
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.core.cache import cache

from portal.sso import rules

# Asymmetric signatures only: an HMAC "signed" with the public key proves nothing.
ALGORITHMS: Final = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
NONCE_SECONDS: Final = 3600


class Adapter(OpenIDConnectOAuth2Adapter):
    state: dict[str, Any] | None = None

    def expected_issuer(self) -> str:
        route = rules.route_for_provider(self.provider_id)
        if route is None:
            raise OAuth2Error("This single sign-on connection no longer exists.")
        return route.issuer

    @property
    def openid_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().openid_config
        if config.get("issuer") != self.expected_issuer():
            raise OAuth2Error("The provider's discovery document names another issuer.")
        return config

    def complete_login(self, request: Any, app: Any, token: Any, **kwargs: Any) -> Any:
        raw = kwargs["response"].get("id_token")
        if not raw:
            raise OAuth2Error("The provider sent no ID token.")
        claims = decode_id_token(
            raw,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.expected_issuer(),
            audience=app.client_id,
        )
        check_nonce(claims, expected=(self.state or {}).get("nonce"))
        return self.get_provider().sociallogin_from_response(request, {"id_token": claims})


def decode_id_token(raw: str, *, keys_url: str, issuer: str, audience: str) -> dict[str, Any]:
    """The claims of a signed ID token for `audience` from `issuer`, or OAuth2Error."""
    try:
        _alg, key = jwtkit.fetch_key(raw, keys_url, jwtkit.lookup_kid_jwk)
        claims: dict[str, Any] = jwt.decode(
            raw,
            key=key,
            algorithms=ALGORITHMS,
            issuer=issuer,
            audience=audience,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise OAuth2Error(f"Invalid ID token: {exc}") from exc
    return claims


def check_nonce(claims: dict[str, Any], *, expected: str | None) -> None:
    """The nonce sent with this sign-in, back in its ID token, seen for the first time."""
    nonce = claims.get("nonce")
    if not expected or not nonce:
        raise OAuth2Error("The ID token carries no nonce.")
    if not secrets.compare_digest(str(nonce), expected):
        raise OAuth2Error("The ID token's nonce is not this sign-in's.")
    if not cache.add(f"sso:nonce:{nonce}", True, timeout=NONCE_SECONDS):
        raise OAuth2Error("The ID token's nonce was used already.")


class Provider(OpenIDConnectProvider):
    oauth2_adapter_class = Adapter

    def get_pkce_params(self) -> dict[str, Any]:
        # Always: a code stolen on its way back is useless without the verifier.
        from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge

        return dict(generate_code_challenge())

    def redirect(
        self, request: Any, process: Any, next_url: Any = None, data: Any = None, **kwargs: Any
    ) -> Any:
        nonce = secrets.token_urlsafe(24)
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        auth_params["nonce"] = nonce
        if login_hint := kwargs.pop("login_hint", ""):
            auth_params["login_hint"] = login_hint
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


class CallbackView(OAuth2CallbackView):
    """allauth's callback, handing the (single-use) state to the adapter for the nonce."""

    def _get_state(self, request: Any, provider: Any) -> Any:
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response
