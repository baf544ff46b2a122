"""Set up (or change) a customer's single sign-on from the command line, as the account team's
page does: the provider's discovery document is fetched and checked first."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensing.models import Customer
from licensing.services import Actor
from portal.sso import rules, services


class Command(BaseCommand):
    help = "Connect a customer to its OpenID Connect provider (docs/sso.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", required=True, help="The customer's name or slug.")
        parser.add_argument("--issuer", required=True)
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--secret", default="", help="Empty: keep the saved one.")
        parser.add_argument("--domains", required=True, help="Comma-separated email domains.")
        parser.add_argument("--default-role", default="viewer", choices=["viewer", "admin"])
        parser.add_argument("--groups-claim", default="groups")
        parser.add_argument("--admin-group", default="")
        parser.add_argument("--enforce", action="store_true", help="Refuse passwords.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["customer"].strip()
        customer = (
            Customer.objects.filter(slug=name).first()
            or Customer.objects.filter(name__iexact=name).first()
        )
        if customer is None:
            raise CommandError(f"No customer is named {name!r}.")
        actor = Actor(None, "manage.py sso_connect")
        try:
            connection = services.connection_save(
                customer=customer,
                issuer=options["issuer"],
                client_id=options["client_id"],
                secret=options["secret"],
                domains=options["domains"],
                default_role=options["default_role"],
                groups_claim=options["groups_claim"],
                admin_group=options["admin_group"],
                actor=actor,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        services.connection_set_enforced(
            connection=connection, enforced=options["enforce"], actor=actor
        )
        callback = f"/accounts/oidc/{rules.provider_id_for(customer)}/login/callback/"
        self.stdout.write(
            f"{customer.name} signs in through {connection.issuer}"
            f"{' (passwords refused)' if options['enforce'] else ''}. Redirect URI to register"
            f" with the provider: <SITE_URL>{callback}"
        )
