"""`manage.py create_api_token --email USER [--read-only] [--name N]`: print a token once."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensing.services import api_token_create


class Command(BaseCommand):
    help = "Create a vendor API token for an account-team (staff) user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The staff user the token acts for.")
        parser.add_argument("--name", default="API token", help="What uses the token.")
        parser.add_argument(
            "--read-only", action="store_true", help="The token may read but not change."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"No user has the email {options['email']!r}.")
        try:
            api_token, token = api_token_create(
                user=user, name=options["name"], read_only=options["read_only"]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        access = "read-only" if api_token.read_only else "read-write"
        self.stderr.write(
            f"Created {access} token {api_token.name!r} for {user.email}. "
            "It is shown only now; store it safely."
        )
        self.stdout.write(token)
