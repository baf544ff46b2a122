"""Indexes for the leads' candidates (licensing.selectors.lead_candidates): every entitlement's
rolled-up row of one day, the rolled-up days with overdraft or denials, and the hours with an
activation into overdraft or a denial. The last is on the usage buckets, which activations
write all the time: built with CREATE INDEX CONCURRENTLY on PostgreSQL (hence not atomic).
"""

from django.db import migrations, models

from licensing.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("licensing", "0017_usage_days"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="usagebucket",
            index=models.Index(
                condition=models.Q(
                    ("denials__gt", 0), ("overdraft_activations__gt", 0), _connector="OR"
                ),
                fields=["hour"],
                name="licensing_usagebucket_busy",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="usageday",
            index=models.Index(fields=["day"], name="licensing_usageday_day"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="usageday",
            index=models.Index(
                condition=models.Q(("denials__gt", 0), ("overdraft_hours__gt", 0), _connector="OR"),
                fields=["day"],
                name="licensing_usageday_busy",
            ),
        ),
    ]
