"""Vendor API tokens: `Authorization: Bearer <token>` for account-team members.

Tokens are `odp_` plus 256 random bits; the database keeps only their SHA-256 hash and a short
visible prefix. A token works while it is not revoked and its owner is an active staff user,
so a person leaving the account team takes their tokens' access with them.
"""

from __future__ import annotations

from typing import Any, Final

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from licensing.models import ApiToken
from licensing.services.tokens import api_token_touch, hash_token

KEYWORD: Final = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; `request.user` is the owner, `request.auth` the token."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken]:
        header = authentication.get_authorization_header(request)
        if not header:
            raise exceptions.NotAuthenticated(
                "Send an API token as 'Authorization: Bearer <token>'.",
                code="not_authenticated",
            )
        try:
            parts = header.decode("utf-8").split()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The Authorization header is not valid UTF-8.", code="invalid_token"
            ) from None
        if len(parts) != 2 or parts[0].lower() != KEYWORD.lower():
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <token>'.",
                code="invalid_token",
            )
        api_token = (
            ApiToken.objects.select_related("user").filter(secret_hash=hash_token(parts[1])).first()
        )
        if api_token is None:
            raise exceptions.AuthenticationFailed(
                "This API token is not valid.", code="invalid_token"
            )
        if api_token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                "This API token was revoked.", code="invalid_token"
            )
        user = api_token.user
        if not (user.is_active and user.is_staff):
            raise exceptions.AuthenticationFailed(
                "This API token's owner is not on the account team.", code="invalid_token"
            )
        api_token_touch(api_token=api_token, now=timezone.now())
        return user, api_token

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'


class ReadOnlyToken(exceptions.APIException):
    status_code = 403
    default_detail = "This API token is read-only; use a read-write token to make changes."
    default_code = "read_only_token"


class TokenPermission(permissions.BasePermission):
    """Any valid token may read; only read-write tokens may change things."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        api_token = request.auth
        if not isinstance(api_token, ApiToken):
            raise exceptions.NotAuthenticated()
        if request.method not in permissions.SAFE_METHODS and api_token.read_only:
            raise ReadOnlyToken()
        return True
