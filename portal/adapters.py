"""The portal's django-allauth account adapter."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Accounts come from invitations; self-signup only where ACCOUNT_ALLOW_SIGNUP is on.

        An open signup would let a stranger claim an address before its invitation is sent
        (the invitee could then not set a password), and the signup form tells whether an
        address already has an account unless email verification is mandatory.
        """
        return bool(settings.ACCOUNT_ALLOW_SIGNUP)
