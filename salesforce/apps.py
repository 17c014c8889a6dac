from django.apps import AppConfig


class SalesforceConfig(AppConfig):
    name = "salesforce"
