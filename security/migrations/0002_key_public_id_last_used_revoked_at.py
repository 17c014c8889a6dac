"""API keys get an opaque public id (for URLs: the primary key carries the key's hash), the
time they were last used, and the time they were revoked.

A unique UUID column on a table that may have rows: added nullable, filled row by row, then
made unique and required (Django's documented way)."""

import uuid

from django.db import migrations, models


def give_each_key_a_public_id(apps, schema_editor) -> None:
    IntegrationKey = apps.get_model("security", "IntegrationKey")
    for key in IntegrationKey.objects.filter(public_id=None):
        key.public_id = uuid.uuid4()
        key.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="integrationkey",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_key_a_public_id, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="integrationkey",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="integrationkey",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="integrationkey",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
