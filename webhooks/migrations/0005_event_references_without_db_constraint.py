# The events table becomes partitioned by month (licensing 0016): its unique keys then include
# the month, so nothing can reference an event by `seq` alone with a database constraint.
# Django's CASCADE still deletes deliveries and email notices with their event.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('licensing', '0015_offline_grace'),
        ('webhooks', '0004_endpoint_format'),
    ]

    operations = [
        migrations.AlterField(
            model_name='webhookdelivery',
            name='event',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='webhook_deliveries', to='licensing.event'),
        ),
        migrations.AlterField(
            model_name='emailnotice',
            name='event',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='email_notices', to='licensing.event'),
        ),
    ]
