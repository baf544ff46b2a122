"""`manage.py verify_statement FILE [--jwks FILE_OR_URL]`: check a signed statement offline.

Without `--jwks` the keys are this portal's (its database); with it, a JWKS file or URL (the
portal's `/.well-known/jwks.json`), so anyone can check a statement they were given. Exits 0
and prints the statement's period and figures when the signature checks out; exits 1 saying
why when it does not (a changed figure, an unknown key, not a signed document).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensing import signing


def _keyset(source: str | None) -> dict[str, Any]:
    if source is None:
        return signing.jwks()
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            return json.load(response)
    return json.loads(Path(source).read_text())


class Command(BaseCommand):
    help = "Check the signature of a statement file (the JSON the portal issues)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The statement's JSON, as downloaded.")
        parser.add_argument("--jwks", help="A JWKS file or URL (default: this portal's keys).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = Path(options["file"]).read_bytes()
            keyset = _keyset(options["jwks"])
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read: {exc}") from None
        try:
            payload = signing.verify(document, keyset)
        except signing.BadSignature as exc:
            raise CommandError(f"NOT VERIFIED: {exc}") from None
        kid = json.loads(document)["signature"]["kid"]
        period, figures = payload.get("period", {}), payload.get("figures", {})
        self.stdout.write(
            f"VERIFIED (key {kid}): {payload.get('customer', {}).get('name')} ·"
            f" {payload.get('product', {}).get('name')}, {period.get('label')}"
            f" ({period.get('start')} to {period.get('end')})"
            f"{' PROVISIONAL' if payload.get('provisional') else ''}"
        )
        for name, value in figures.items():
            self.stdout.write(f"  {name}: {value}")
