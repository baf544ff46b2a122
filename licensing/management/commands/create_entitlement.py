import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from licensing import services
from licensing.models import Customer, Product


class Command(BaseCommand):
    help = (
        "Create an entitlement (and its customer and product if they do not exist) and print it"
        " as one JSON object with its license key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", required=True, help="Customer name.")
        parser.add_argument("--product", required=True, help="Product name.")
        parser.add_argument("--seats", required=True, type=int, help="Entitled seats.")
        parser.add_argument(
            "--hard-limit",
            type=int,
            default=None,
            help="Most seats that may be in use (default: no overdraft, equal to --seats).",
        )
        parser.add_argument(
            "--unlimited", action="store_true", help="Unlimited overdraft (no hard limit)."
        )
        parser.add_argument(
            "--lease-seconds",
            type=int,
            default=None,
            help="Floating seats that must heartbeat within this many seconds.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["unlimited"] and options["hard_limit"] is not None:
            raise CommandError("Give either --hard-limit or --unlimited, not both.")
        hard_limit = None if options["unlimited"] else options["hard_limit"]
        if hard_limit is None and not options["unlimited"]:
            hard_limit = options["seats"]
        try:
            with transaction.atomic():
                customer = Customer.objects.filter(name=options["customer"]).first()
                if customer is None:
                    customer = services.customer_create(name=options["customer"])
                product = Product.objects.filter(name=options["product"]).first()
                if product is None:
                    product = services.product_create(name=options["product"])
                entitlement = services.entitlement_create(
                    customer=customer,
                    product=product,
                    seats=options["seats"],
                    hard_limit=hard_limit,
                    lease_seconds=options["lease_seconds"],
                )
        except ValidationError as exc:
            messages = [
                f"{field}: {message}" if field != "__all__" else message
                for field, problems in getattr(
                    exc, "message_dict", {"__all__": exc.messages}
                ).items()
                for message in problems
            ]
            raise CommandError("; ".join(messages)) from None
        self.stdout.write(
            json.dumps(
                {
                    "id": str(entitlement.pk),
                    "license_key": entitlement.license_key,
                    "customer": {"id": str(customer.pk), "name": customer.name},
                    "product": {"id": str(product.pk), "name": product.name},
                    "seats": entitlement.seats,
                    "hard_limit": entitlement.hard_limit,
                    "lease_seconds": entitlement.lease_seconds,
                }
            )
        )
