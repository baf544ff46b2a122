"""Let one person sign in with a password for a while although single sign-on is enforced for
them: the break-glass path for when a provider (the vendor's own too) is down."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensing.services import Actor
from portal.models import User
from portal.sso import services


class Command(BaseCommand):
    help = "Allow a password sign-in for EMAIL for MINUTES although single sign-on is enforced."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--minutes", type=int, default=settings.SSO_BREAK_GLASS_MINUTES)

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"No account has the address {options['email']}.")
        try:
            grant = services.break_glass_grant(
                user=user,
                minutes=options["minutes"],
                actor=Actor(None, "manage.py sso_break_glass"),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        hint = "" if user.has_usable_password() else " (no password yet: “Forgot your password?”)"
        self.stdout.write(
            f"{user.email} may sign in with a password until"
            f" {grant.expires_at:%Y-%m-%d %H:%M} UTC{hint}."
        )
