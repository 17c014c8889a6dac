from django.db import migrations


def create_row(apps, schema_editor):
    """The installation's alert settings exist from the start (not created by a page view)."""
    apps.get_model("maintenance", "AlertSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0001_initial")]

    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
