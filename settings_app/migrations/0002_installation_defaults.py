from django.db import migrations

TRACKING_TYPES = ["sent", "opened", "clicked", "unsubscribed", "bounced"]
RESPONDED = {"opened", "clicked"}


def create_defaults(apps, schema_editor):
    """The installation's settings rows, so the audit log starts with real changes only.

    The models also create these on first use (``get_solo``, ``MemberStatusMapping.load``).
    """
    for name in ("SyncSettings", "GeneralSettings", "CampaignSettings"):
        apps.get_model("settings_app", name).objects.get_or_create(pk=1)
    mapping = apps.get_model("settings_app", "MemberStatusMapping")
    for code in TRACKING_TYPES:
        mapping.objects.get_or_create(
            activity=code, defaults={"label": code.capitalize(), "responded": code in RESPONDED}
        )


class Migration(migrations.Migration):
    dependencies = [("settings_app", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
