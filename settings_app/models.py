"""The installation's settings: one row each for sync, general and campaign settings.

Defaults follow the original console: hourly sync, every tracking type imported, opt-out
sync on, triggers active, campaign statuses never touched until the admin chooses.
"""

from auditlog.registry import auditlog
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from cmsync.memo import MemoizedSingleton
from maintenance.audit import InAuditArea

WEEKDAYS = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
]
WEEKDAY_CODES = [code for code, _ in WEEKDAYS]

TRACKING_TYPES = [
    ("sent", "Sent"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("unsubscribed", "Unsubscribed"),
    ("bounced", "Bounced"),
]

# Salesforce's CampaignMember.Status picklist values are at most 40 characters.
STATUS_LABEL_MAX_LENGTH = 40


class SyncSettings(InAuditArea, MemoizedSingleton):
    audit_area = "sync"

    class Frequency(models.TextChoices):
        NEVER = "never", "Never"
        HOURLY = "hourly", "Hourly"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        CUSTOM = "custom", "Custom"

    frequency = models.CharField(
        "import frequency",
        max_length=10,
        choices=Frequency.choices,
        default=Frequency.HOURLY,
    )
    hour = models.PositiveSmallIntegerField(
        "hour of the day",
        default=2,
        validators=[MaxValueValidator(23)],
        help_text="Daily, Weekly and Custom runs start at this hour (installation's time zone).",
    )
    weekday = models.CharField("day of the week", max_length=3, choices=WEEKDAYS, default="mon")
    custom_days = models.CharField(
        "days of the week (Custom)",
        max_length=27,
        blank=True,
        default="",
        help_text="Comma-separated day codes, Monday first, e.g. 'mon,wed,fri'.",
    )
    import_tracking = models.BooleanField("import email tracking data", default=True)
    track_sent = models.BooleanField("import sent", default=True)
    track_opened = models.BooleanField("import opened", default=True)
    track_clicked = models.BooleanField("import clicked", default=True)
    track_unsubscribed = models.BooleanField("import unsubscribed", default=True)
    track_bounced = models.BooleanField("import bounced", default=True)
    days_to_keep = models.PositiveIntegerField(
        "days to keep in Salesforce",
        default=365,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    change_poll_minutes = models.PositiveSmallIntegerField(
        "check Salesforce for changes every (minutes)",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="How often cmsync looks for Contact, Lead and Account changes to react to.",
    )
    cm_webhooks = models.BooleanField(
        "apply Campaign Monitor changes to Salesforce as they happen",
        default=True,
        help_text="Register a webhook on each connected list, so unsubscribes, subscribes and "
        "edits reach Salesforce within seconds instead of at the next primary sync.",
    )

    class Meta:
        verbose_name = "sync settings"
        verbose_name_plural = "sync settings"

    def __str__(self) -> str:
        return "Sync settings"

    @property
    def custom_day_list(self) -> list[str]:
        return [code for code in self.custom_days.split(",") if code]

    @property
    def tracking_types(self) -> list[str]:
        """The enabled tracking types, empty when tracking import is off."""
        if not self.import_tracking:
            return []
        return [code for code, _ in TRACKING_TYPES if getattr(self, f"track_{code}")]


class GeneralSettings(InAuditArea, MemoizedSingleton):
    audit_area = "general"

    sync_email_opt_out = models.BooleanField(
        "sync Salesforce 'Email Opt Out' with Campaign Monitor", default=True
    )
    prevent_opted_out_in_lists = models.BooleanField(
        "prevent opted-out contacts or leads being added to lists", default=True
    )
    unsubscribe_on_opt_out = models.BooleanField(
        "unsubscribe contacts or leads when 'Email Opt Out' is ticked", default=True
    )
    show_tabs = models.BooleanField("show tabs on the Campaign Monitor layout", default=True)
    resubscribe_deleted_via_import = models.BooleanField(
        "re-subscribe deleted subscribers via the import wizard", default=False
    )
    delete_subscriber_on_record_delete = models.BooleanField(
        "set subscriber to Deleted when the contact or lead is deleted", default=False
    )
    trigger_list_journeys = models.BooleanField(
        "trigger 'joins a list' journeys when adding subscribers", default=False
    )
    enable_account_trigger = models.BooleanField(
        "enable the Salesforce account trigger", default=False
    )
    disable_triggers = models.BooleanField(
        "disable account, contact and lead triggers", default=False
    )
    disable_bulk_triggers = models.BooleanField("disable bulk triggers", default=False)
    full_daily_sync = models.BooleanField("perform a full daily sync", default=False)

    class Meta:
        verbose_name = "general settings"
        verbose_name_plural = "general settings"

    def __str__(self) -> str:
        return "General settings"


class CampaignSettings(InAuditArea, MemoizedSingleton):
    audit_area = "campaigns"

    class MemberStatusMode(models.TextChoices):
        NEVER = "never", "Never"
        ALWAYS = "always", "Always"
        ONCE = "once", "Once only"

    update_statistics = models.BooleanField("update Salesforce campaign statistics", default=True)
    auto_create_campaigns = models.BooleanField("auto-create Salesforce campaigns", default=False)
    # Auto-create is not retrospective: only campaigns after this moment get a Campaign.
    auto_create_since = models.DateTimeField("auto-create on since", null=True, blank=True)
    member_status_mode = models.CharField(
        "campaign member status update",
        max_length=10,
        choices=MemberStatusMode.choices,
        default=MemberStatusMode.NEVER,
    )
    auto_create_statuses = models.BooleanField(
        "auto-create missing campaign statuses", default=True
    )

    class Meta:
        verbose_name = "campaign settings"
        verbose_name_plural = "campaign settings"

    def __str__(self) -> str:
        return "Campaign settings"

    def save(self, *args, **kwargs) -> None:
        if self.auto_create_campaigns and self.auto_create_since is None:
            self.auto_create_since = timezone.now()
        elif not self.auto_create_campaigns:
            self.auto_create_since = None
        super().save(*args, **kwargs)


class MemberStatusMapping(InAuditArea, models.Model):
    """Which Salesforce campaign member status a Campaign Monitor activity sets."""

    audit_area = "campaigns"

    activity = models.CharField(max_length=12, choices=TRACKING_TYPES, unique=True)
    label = models.CharField("Salesforce member status", max_length=STATUS_LABEL_MAX_LENGTH)
    responded = models.BooleanField("counts as responded", default=False)

    # The original console's defaults: each activity sets the status of the same name;
    # opening and clicking count as a response.
    DEFAULT_RESPONDED = {"opened", "clicked"}

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_activity_display()} → {self.label}"

    @classmethod
    def load(cls) -> models.QuerySet:
        """The mapping, one row per activity, created with the defaults where missing."""
        rows = cls.objects.all()
        if len(rows) < len(TRACKING_TYPES):
            for code, name in TRACKING_TYPES:
                cls.objects.get_or_create(
                    activity=code,
                    defaults={"label": name, "responded": code in cls.DEFAULT_RESPONDED},
                )
            rows = cls.objects.all()
        return rows


for model in (SyncSettings, GeneralSettings, CampaignSettings, MemberStatusMapping):
    auditlog.register(model)
