from django.db import migrations

# The original console's defaults: each activity sets the status of the same name;
# opening and clicking count as a response.
DEFAULTS = [
    ("sent", "Sent", False),
    ("opened", "Opened", True),
    ("clicked", "Clicked", True),
    ("unsubscribed", "Unsubscribed", False),
    ("bounced", "Bounced", False),
]


def create_defaults(apps, schema_editor):
    mapping = apps.get_model("settings_app", "MemberStatusMapping")
    for activity, label, responded in DEFAULTS:
        mapping.objects.get_or_create(
            activity=activity, defaults={"label": label, "responded": responded}
        )


class Migration(migrations.Migration):
    dependencies = [("settings_app", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
