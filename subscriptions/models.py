"""Per-list ways of getting Salesforce people into a Campaign Monitor list, and fields across.

All three are kept by Campaign Monitor list id, like ``campaign_monitor.ListOptions``.
Conditions are stored as data ([{"field", "operator", "value"}]) and turned into SOQL only
by ``subscriptions.criteria``, which checks every field against Salesforce's describe and
quotes every value: user text never reaches SOQL as text.
"""

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.utils import timezone

from cmsync import jobs
from maintenance.audit import InAuditArea


class SubscriptionRule(InAuditArea, models.Model):
    """An automatic subscription: when a Contact or Lead matches, add it to (or remove it
    from) the list. One rule per action and list, so at most four per list."""

    audit_area = "sync"

    class Action(models.TextChoices):
        ADD_CONTACT = "add_contact", "Add contact"
        REMOVE_CONTACT = "remove_contact", "Remove contact"
        ADD_LEAD = "add_lead", "Add lead"
        REMOVE_LEAD = "remove_lead", "Remove lead"

    # A retrospective run is a job (cmsync.jobs) whose columns are the retro_* ones below.
    RetroStatus = jobs.Status

    list_id = models.CharField("list id", max_length=64)
    action = models.CharField(max_length=20, choices=Action.choices)
    # [{"field": "LeadSource" or "Account.Industry", "operator": "equals", "value": "Web"}]
    conditions = models.JSONField(default=list)
    # Empty: every condition must hold (AND). Otherwise e.g. "1 AND (2 OR 3)".
    logic = models.CharField("custom logic", max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The last retrospective run: when it was asked for, how far it got, and what it did
    # ({"matched", "written", "unchanged", "failed", "skipped": {reason: n}, "error", ...}).
    retro_status = models.CharField(
        "retrospective run", max_length=10, choices=RetroStatus.choices, blank=True
    )
    retro_requested_at = models.DateTimeField(null=True, blank=True)
    retro_heartbeat_at = models.DateTimeField(null=True, blank=True)
    retro_finished_at = models.DateTimeField(null=True, blank=True)
    retro_result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["list_id", "action"]
        constraints = [
            models.UniqueConstraint(fields=["list_id", "action"], name="one_rule_per_action")
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on list {self.list_id}"

    @property
    def sobject(self) -> str:
        return "Contact" if self.action.endswith("contact") else "Lead"

    @property
    def adds(self) -> bool:
        return self.action.startswith("add")

    @property
    def retro_busy(self) -> bool:
        return self.retro_status in (self.RetroStatus.QUEUED, self.RetroStatus.RUNNING)


class FieldMapping(InAuditArea, models.Model):
    """A list's custom field and the Contact and Lead fields it goes to or comes from."""

    audit_area = "sync"

    class Direction(models.TextChoices):
        TO_CM = "to_cm", "Salesforce → Campaign Monitor"
        TO_SF = "to_sf", "Campaign Monitor → Salesforce"

    list_id = models.CharField("list id", max_length=64)
    # Campaign Monitor's key ("[Country]") and data type (Text, Number, Date, MultiSelectOne,
    # MultiSelectMany, Country, USState), as the list's custom fields report them.
    cm_key = models.CharField("Campaign Monitor field", max_length=100)
    cm_type = models.CharField(max_length=20)
    contact_field = models.CharField("Contact field", max_length=80, blank=True)
    lead_field = models.CharField("Lead field", max_length=80, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    default_value = models.CharField(max_length=255, blank=True)
    # Only written when the subscriber (or the Salesforce record's field) is new/empty.
    create_only = models.BooleanField("create only", default=False)

    class Meta:
        ordering = ["list_id", "cm_key"]
        constraints = [
            models.UniqueConstraint(fields=["list_id", "cm_key"], name="one_mapping_per_field")
        ]

    def __str__(self) -> str:
        return f"{self.cm_key} ({self.get_direction_display()})"

    @property
    def key(self) -> str:
        """The key without brackets, as subscriber records and CustomFields writes use it."""
        return self.cm_key.strip("[]")

    def sf_field(self, sobject: str) -> str:
        return self.contact_field if sobject == "Contact" else self.lead_field


class PushedFields(models.Model):
    """The custom field values cmsync last sent a list's subscriber from Salesforce, so a
    Salesforce change that leaves the mapped values as they were sends nothing, and a value
    blanked in Salesforce is cleared only where cmsync put it."""

    list_id = models.CharField(max_length=64)
    email_lc = models.CharField(max_length=254)
    values = models.JSONField(default=list)  # [[key, value], ...] sorted
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["list_id", "email_lc"], name="one_push_per_subscriber")
        ]

    def __str__(self) -> str:
        return f"Fields sent to {self.email_lc} on {self.list_id}"


class ImportJob(jobs.Job):
    """One use of the import wizard: where people come from, how they map, and the result."""

    class Source(models.TextChoices):
        CAMPAIGN = "campaign", "Members of a Salesforce campaign"
        CONTACTS = "contacts", "Contacts matching conditions"
        LEADS = "leads", "Leads matching conditions"

    class Refresh(models.TextChoices):
        ADD_UPDATE = "add_update", "Add and update"
        RESUBSCRIBE_DELETED = "resubscribe_deleted", "Add, update and re-subscribe deleted"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partly succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # The job states are cmsync.jobs.Status's, with Draft and Scheduled before them.
    # Waiting or working: may be cancelled, shown with live progress.
    ACTIVE = (Status.SCHEDULED, Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.PARTIAL, Status.FAILED, Status.CANCELLED)

    list_id = models.CharField("list id", max_length=64)
    client_id = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=Source.choices)
    campaign_id = models.CharField("Salesforce campaign", max_length=18, blank=True)
    campaign_name = models.CharField(max_length=255, blank=True)  # as it was when chosen
    member_statuses = models.JSONField(default=list, blank=True)  # empty: every status
    conditions = models.JSONField(default=list, blank=True)
    logic = models.CharField("custom logic", max_length=200, blank=True)
    # {"name": "Name", "consent_to_track": "Yes"|"No"|"Unchanged", "fields": {cm_key: sf field}}
    mapping = models.JSONField(default=dict, blank=True)
    refresh = models.CharField(max_length=20, choices=Refresh.choices, default=Refresh.ADD_UPDATE)
    restart_journeys = models.BooleanField(default=False)
    clear_blanks = models.BooleanField("clear blank values", default=False)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # started_at, finished_at, heartbeat_at (saved after every batch) and last_error: jobs.Job.
    # {"found", "allowed", "skipped": {"opted_out": n, ...}, "submitted", "new", "existing",
    #  "failed", "suppressed", "resubscribed", "batches", "options": {what was in force}}
    totals = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_for"])]

    def __str__(self) -> str:
        return f"Import {self.pk} into list {self.list_id}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def sobject(self) -> str:
        """The object the conditions are about (campaigns: their members)."""
        return {"contacts": "Contact", "leads": "Lead"}.get(self.source, "CampaignMember")


class ImportFailure(models.Model):
    """One address Campaign Monitor (or cmsync's checks) refused, with the reason."""

    class Kind(models.TextChoices):
        SKIPPED = "skipped", "Skipped by cmsync"
        REFUSED = "refused", "Refused by Campaign Monitor"
        # Campaign Monitor's Code 204: on the client's suppression list, which imports into a
        # list that unsubscribes from all the client's lists never get past.
        SUPPRESSED = "suppressed", "On the suppression list"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="failures")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REFUSED)
    # The Contact or Lead (skipped people; Campaign Monitor only knows the address).
    record_id = models.CharField("Salesforce record", max_length=18, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # Campaign Monitor's code (e.g. "204") or cmsync's reason ("opted_out", SKIP_REASONS).
    code = models.CharField(max_length=40)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.email}: {self.message}"


# Retrospective runs are audited as actions (maintenance.audit.record_action), not as
# field changes of their bookkeeping.
auditlog.register(
    SubscriptionRule,
    exclude_fields=[
        "updated_at",
        "retro_status",
        "retro_requested_at",
        "retro_heartbeat_at",
        "retro_finished_at",
        "retro_result",
    ],
)
auditlog.register(FieldMapping)
