"""`manage.py rotate_signing_key`: a new key signs from now on; the old one stays published in
the JWKS, so what it signed stays verifiable (licensing.signing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from licensing import signing
from licensing.models import AuditEntry, SigningKey
from licensing.services import SYSTEM, audit_record


class Command(BaseCommand):
    help = "Rotate the portal's signing key (the old one keeps verifying what it signed)."

    def handle(self, *args: Any, **options: Any) -> None:
        previous = SigningKey.objects.filter(current=True).first()
        key = signing.rotate()
        audit_record(
            action=AuditEntry.Action.SIGNING_KEY_ROTATED,
            target=key,
            actor=SYSTEM,
            changes={"kid": [previous.kid if previous else None, key.kid]},
        )
        self.stdout.write(
            f"Signing with {key.kid} now" + (f"; {previous.kid} retired" if previous else "") + "."
        )
