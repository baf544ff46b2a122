"""Leave free space in each page of the entitlement table (PostgreSQL only).

Every seat change rewrites its entitlement's row (`seats_used`). With room on the row's own page
PostgreSQL makes that a HOT update: no new index entries, old versions pruned in place. Packed
pages (the default fillfactor of 100) push updates of a busy entitlement onto other pages,
each adding entries to the table's indexes, so a hot entitlement's license-key lookup wades
through dead entries (docs/performance.md). The table holds one row per entitlement, so the
space costs little.
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE licensing_entitlement SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE licensing_entitlement RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("licensing", "0004_auditentry")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
