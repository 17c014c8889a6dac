"""The three roles (Django groups) and what each may do. Kept in sync after every migrate.

Full access: everything. Standard: Sync now, retry messages, the import wizard, read
everything; no settings, rules, mappings, security or billing changes. Limited: read-only.
"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

FULL, STANDARD, LIMITED = "Full access", "Standard", "Limited"
ROLE_NAMES = [FULL, STANDARD, LIMITED]

READ = [
    "settings_app.view_syncsettings",
    "settings_app.view_generalsettings",
    "settings_app.view_campaignsettings",
    "settings_app.view_memberstatusmapping",
    "campaign_monitor.view_connection",
    "campaign_monitor.view_listoptions",
    "salesforce.view_salesforcesettings",
    "sync.view_syncrun",
    "maintenance.view_message",
    "auditlog.view_logentry",
    "security.view_clientownership",
    "billing.view_billingaccount",
    "subscriptions.view_importjob",
    "subscriptions.view_subscriptionrule",
    "subscriptions.view_fieldmapping",
]
# Standard users run the import wizard (the original console's rule), not rules or mappings.
OPERATE = [
    "sync.add_syncrun",
    "maintenance.retry_message",
    "subscriptions.add_importjob",
    "subscriptions.change_importjob",
]
CHANGE = [
    "settings_app.change_syncsettings",
    "settings_app.change_generalsettings",
    "settings_app.change_campaignsettings",
    "settings_app.change_memberstatusmapping",
    "campaign_monitor.change_connection",
    "campaign_monitor.change_listoptions",
    "salesforce.change_salesforcesettings",
    "maintenance.delete_message",
    "maintenance.reset_data",
    "security.manage_users",
    "billing.change_billingaccount",
    "subscriptions.add_subscriptionrule",
    "subscriptions.change_subscriptionrule",
    "subscriptions.delete_subscriptionrule",
    "subscriptions.add_fieldmapping",
    "subscriptions.change_fieldmapping",
    "subscriptions.delete_fieldmapping",
]

PERMISSIONS = {
    FULL: READ + OPERATE + CHANGE,
    STANDARD: READ + OPERATE,
    LIMITED: READ,
}


def _permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def ensure_roles(**kwargs) -> None:
    """Create the groups and give each exactly its permissions (post_migrate)."""
    # Apps later in INSTALLED_APPS get their permissions after this app's post_migrate.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, names in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(name) for name in names])


def role_of(user) -> str:
    """The user's role name, or "" (a superuser counts as Full access)."""
    if user.is_superuser:
        return FULL
    names = {group.name for group in user.groups.all()}  # prefetched on lists of users
    return next((role for role in ROLE_NAMES if role in names), "")


def set_role(user, role: str) -> None:
    user.groups.remove(*Group.objects.filter(name__in=ROLE_NAMES))
    if role:
        user.groups.add(Group.objects.get(name=role))
