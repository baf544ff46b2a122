import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from licensing import demo


class Command(BaseCommand):
    help = (
        "Load demo customers, users and six months of seat-usage history (the 100/120 story)."
        " Safe to run again: customers that exist are kept unless --reset is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo customers' data and build it again, with history up to now.",
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="Where the portal will be served, for the printed instructions.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        summary = demo.load(reset=options["reset"])
        elapsed = time.monotonic() - started
        write = self.stdout.write
        if summary.created_customers:
            write(
                self.style.SUCCESS(
                    f"Loaded demo data in {elapsed:.1f}s: {', '.join(summary.created_customers)}"
                    f" ({summary.buckets} hours of usage, {summary.denials} denials,"
                    f" {summary.statements} signed monthly statements)."
                )
            )
        if summary.kept_customers:
            write(
                f"Kept existing demo customers: {', '.join(summary.kept_customers)}"
                " (--reset rebuilds them with history up to now)."
            )
        base = options["url"].rstrip("/")
        write("")
        write(f'Open {base}/ and log in with the password "{demo.DEMO_PASSWORD}":')
        width = max(len(login.email) for login in summary.logins)
        for login in summary.logins:
            write(f"  {login.email:<{width}}  {login.description}")
        key = summary.license_keys.get("Acme Corp")
        if key:
            write("")
            write(f"Acme Corp's license key (100 seats, hard limit 120): {key}")
            write(
                f"  curl -X POST {base}/api/v1/activations"
                f' -H "Authorization: License {key}"'
                ' -H "Content-Type: application/json" -d \'{"fingerprint": "my-laptop"}\''
            )
