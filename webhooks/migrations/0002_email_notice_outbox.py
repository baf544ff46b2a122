# EmailNotice becomes the outbox of its email: the rendered bodies, whom it reached, when it was
# sent (null until then), the attempts and the next one. Rows written before this migration
# were sent when they were written, so they keep their `sent_at`, were created then, and reached
# all their recipients.

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def existing_notices_were_sent(apps, schema_editor):
    EmailNotice = apps.get_model("webhooks", "EmailNotice")
    EmailNotice.objects.update(created_at=F("sent_at"), sent_to=F("recipients"))


def unsent_notices_count_as_sent(apps, schema_editor):
    # Going back, `sent_at` is required again; the old code could not retry them anyway.
    EmailNotice = apps.get_model("webhooks", "EmailNotice")
    EmailNotice.objects.filter(sent_at__isnull=True).update(sent_at=F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('licensing', '0005_event_customer_without_db_constraint'),
        ('webhooks', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='emailnotice',
            options={'ordering': ['-created_at']},
        ),
        migrations.RemoveIndex(
            model_name='emailnotice',
            name='webhooks_notice_latest',
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='attempts',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='html',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='last_error',
            field=models.CharField(blank=True, editable=False, max_length=500),
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='sent_to',
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
        migrations.AddField(
            model_name='emailnotice',
            name='text',
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name='emailnotice',
            name='sent_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(existing_notices_were_sent, unsent_notices_count_as_sent, elidable=True),
        migrations.AddIndex(
            model_name='emailnotice',
            index=models.Index(fields=['entitlement', 'kind', '-created_at'], name='webhooks_notice_latest'),
        ),
        migrations.AddIndex(
            model_name='emailnotice',
            index=models.Index(condition=models.Q(('sent_at__isnull', True)), fields=['next_attempt_at'], name='webhooks_notice_due'),
        ),
    ]
