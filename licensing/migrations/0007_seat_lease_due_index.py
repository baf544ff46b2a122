"""An index of the seats held by lease end, for the check every page and API read makes first:
is any seat of any entitlement due to expire? (`licensing.services.seats_expire_due`)

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so activations and heartbeats keep writing
seats while it builds (hence not atomic); a plain CREATE INDEX elsewhere (SQLite).
"""

from django.db import migrations, models

from licensing.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("licensing", "0006_entitlementterms"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="seat",
            index=models.Index(
                condition=models.Q(
                    ("lease_expires_at__isnull", False), ("released_at__isnull", True)
                ),
                fields=["lease_expires_at"],
                name="licensing_seat_lease_due",
            ),
        ),
    ]
