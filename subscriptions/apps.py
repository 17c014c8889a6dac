from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """Getting Salesforce people into Campaign Monitor lists: the import wizard, subscription
    rules and custom field mappings (per list)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "subscriptions"
