from django.apps import AppConfig


class CampaignMonitorConfig(AppConfig):
    name = "campaign_monitor"
    verbose_name = "Campaign Monitor"
