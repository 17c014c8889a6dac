"""The primary sync's state: runs, per-stream cursors, the local copy of subscriber states."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from encrypted_fields.fields import EncryptedTextField
from solo.models import SingletonModel

from cmsync import jobs


class SyncRun(jobs.Job):
    """One run: a primary sync (Campaign Monitor → Salesforce), a batch of reactions to
    Salesforce changes (Salesforce → Campaign Monitor), or a batch of Campaign Monitor list
    webhook events (Campaign Monitor → Salesforce). What started it, how it went, what it
    read and wrote."""

    class Kind(models.TextChoices):
        PRIMARY = "primary", "Primary sync"
        CHANGES = "changes", "Salesforce changes"
        CM_EVENTS = "cm_events", "Campaign Monitor changes"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Sync now"
        API = "api", "API"
        POLL = "poll", "Change poll"
        OUTBOUND = "outbound", "Outbound Message"
        WEBHOOK = "webhook", "Campaign Monitor webhook"

    Status = jobs.Status
    ACTIVE = jobs.ACTIVE

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PRIMARY)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # True while queued or running, NULL after: a unique index allows one active run per kind.
    active = models.BooleanField(null=True, default=True, editable=False)
    full = models.BooleanField("full sync", default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    # started_at, finished_at, heartbeat_at and last_error: jobs.Job.
    # When its task last reached the broker; None: never (the broker was down). A queued run
    # whose task is lost is sent again by the every-minute dispatcher.
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Raised by every claim: a worker writes only while the run still carries its claim, so
    # a stale worker woken after another took the run over stops without writing.
    generation = models.PositiveIntegerField(default=0, editable=False)
    step = models.CharField(max_length=20, blank=True)
    # {"subscribers": {"read": 0, "written": 0, "unchanged": 0, "failed": 0}, ...}
    counts = models.JSONField(default=dict, blank=True)
    cm_calls = models.PositiveIntegerField("Campaign Monitor API calls", default=0)
    sf_calls = models.PositiveIntegerField("Salesforce API calls", default=0)
    sf_api_remaining = models.PositiveIntegerField(null=True, blank=True)
    sf_api_used = models.PositiveIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # This run read every Contact and Lead into KnownPerson (sync/people.py): its workers
    # look people up there, whichever machine they run on.
    people_read = models.BooleanField(default=False, editable=False)
    # Who pressed Cancel (console or API); the run page says "Cancelled by <name>".
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["kind", "active"], name="one_active_run_per_kind")
        ]

    def __str__(self) -> str:
        return f"Sync run {self.pk} ({self.get_status_display()})"

    @property
    def duration(self) -> timedelta | None:
        """How long a finished run took (the time-left estimate is based on it)."""
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def total_written(self) -> int:
        return sum(step.get("written", 0) for step in self.counts.values())

    @property
    def total_failed(self) -> int:
        return sum(step.get("failed", 0) for step in self.counts.values())

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class Cursor(models.Model):
    """How far one stream has been read and written, e.g. ``subscribers:<list>:active``."""

    stream = models.CharField(max_length=200, unique=True)
    position = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stream} @ {self.position:%Y-%m-%d %H:%M}"


class SubscriberState(models.Model):
    """An email's state on one Campaign Monitor list, as last read."""

    client_id = models.CharField(max_length=64)
    list_id = models.CharField(max_length=64)
    email = models.CharField(max_length=254)
    email_lc = models.CharField(max_length=254, db_index=True)
    state = models.CharField(max_length=12)  # active, unconfirmed, unsubscribed, bounced, deleted
    state_date = models.DateTimeField()
    # When the address first joined the list (Campaign Monitor's ListJoinedDate).
    joined_date = models.DateTimeField(null=True, blank=True)
    # Set when the state changed; cleared once the opt-out step has dealt with the email.
    opt_out_pending = models.BooleanField(default=True)
    # Set when the state changed; cleared once the membership step has written it to Salesforce.
    membership_pending = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["list_id", "email_lc"], name="one_state_per_list")
        ]
        indexes = [
            models.Index(fields=["opt_out_pending", "email_lc"]),
            models.Index(fields=["membership_pending", "list_id", "email_lc"]),
            # billing's active count after every run reads this index, not the table
            models.Index(fields=["state", "list_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.email} is {self.state} on {self.list_id}"


class KnownPerson(models.Model):
    """A Contact or Lead with an email, as a run that asks about many emails (a full or first
    sync) read it after storing its subscriber states (sync/people.py): the run looks people
    up here rather than asking Salesforce 200 emails at a time in every step. Replaced by the
    next such run; other runs ask Salesforce."""

    email_lc = models.CharField(max_length=254, db_index=True)
    sobject = models.CharField(max_length=8)  # Contact or Lead
    sf_id = models.CharField(max_length=18)
    email = models.CharField(max_length=254)
    last_modified = models.DateTimeField()
    has_opted_out = models.BooleanField()

    def __str__(self) -> str:
        return f"{self.sobject} {self.sf_id}"


class SuppressedEmail(models.Model):
    """An address on a connected client's suppression list, as last read (in full, each run)."""

    client_id = models.CharField(max_length=64)
    email = models.CharField(max_length=254)
    email_lc = models.CharField(max_length=254)
    date = models.DateTimeField(null=True, blank=True)
    # Set when the address came onto the list; cleared once the opt-out step has dealt with it.
    opt_out_pending = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_id", "email_lc"], name="one_suppression")
        ]
        indexes = [models.Index(fields=["opt_out_pending", "email_lc"])]

    def __str__(self) -> str:
        return f"{self.email} is suppressed for {self.client_id}"


class ScheduleState(SingletonModel):
    """The schedule as data: when the next scheduled run is due (computed from the settings)."""

    next_run_at = models.DateTimeField(null=True, blank=True)
    # The installation-local day of the last "full daily sync", so only the first run is full.
    last_full_day = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Next scheduled run: {self.next_run_at}"


class CampaignLink(models.Model):
    """A sent Campaign Monitor campaign, and the Salesforce Campaign it is linked to."""

    cm_campaign_id = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    sent_date = models.DateTimeField()
    sf_campaign_id = models.CharField(max_length=18, blank=True)
    # The statistics last written to Salesforce, so unchanged ones are not written again.
    statistics = models.JSONField(default=dict, blank=True)
    # "Sent" has no date filter upstream: recipients are imported once per campaign.
    recipients_imported = models.BooleanField(default=False)

    class Meta:
        ordering = ["sent_date"]

    def __str__(self) -> str:
        return self.name


class TrackedEvent(models.Model):
    """Keys of recently written tracking events: re-reads of a cursor's overlap are checked
    here instead of in Salesforce. Pruned after a couple of days."""

    key = models.CharField(max_length=40, unique=True)
    event_date = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key


class SalesforceChange(models.Model):
    """A change to a Contact, Lead or Account seen in Salesforce (by the poll or an Outbound
    Message), waiting for, or done by, a run of kind "Salesforce changes"."""

    class Source(models.TextChoices):
        POLL = "poll", "Change poll"
        OUTBOUND = "outbound", "Outbound Message"

    source = models.CharField(max_length=10, choices=Source.choices)
    sobject = models.CharField(max_length=20)  # Contact, Lead, Account
    record_id = models.CharField(max_length=18)
    email = models.CharField(max_length=254, blank=True)
    # None when the source did not say (an Outbound Message without the field, an Account).
    opted_out = models.BooleanField(null=True)
    deleted = models.BooleanField(default=False)
    modstamp = models.DateTimeField(null=True, blank=True)
    # Changes sharing a batch were written by one Salesforce transaction (bulk triggers).
    batch = models.CharField(max_length=80)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["processed_at", "received_at"])]

    def __str__(self) -> str:
        what = "deleted" if self.deleted else "changed"
        return f"{self.sobject} {self.record_id} {what}"


class WatchedRecord(models.Model):
    """What cmsync last knew of a Contact or Lead that is opted out or deleted in Salesforce.

    Reactions fire on a *transition* against this row (opt-out ticked, record deleted), so a
    change seen twice acts once, and a value cmsync wrote itself (recorded here before the
    write) does not bounce back as a reaction.
    """

    record_id = models.CharField(max_length=18, unique=True)
    sobject = models.CharField(max_length=20)
    email_lc = models.CharField(max_length=254, blank=True)
    opted_out = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    # The SystemModstamp of the last change applied: an older one arriving late is stale.
    modstamp = models.DateTimeField(null=True, blank=True)
    # The primary sync is writing HasOptedOutOfEmail = expect_opted_out: until the change
    # showing it is seen (or the time passes), the record's other value is cmsync's own past.
    expect_opted_out = models.BooleanField(null=True)
    expect_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.sobject} {self.record_id}"


class ChangeWatch(SingletonModel):
    """The state of change detection: its baseline, the last poll and what it found."""

    # When the opted-out baseline was read; None means take it at the next poll.
    baseline_at = models.DateTimeField(null=True, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_poll_found = models.PositiveIntegerField(default=0)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return "Change detection"


class CampaignMonitorEvent(models.Model):
    """An event of a Campaign Monitor list webhook (Subscribe, Update, Deactivate), waiting
    for, or done by, a run of kind "Campaign Monitor changes". Stored as sent: its date is
    account-local and becomes UTC when the run reads it with the account's time zone."""

    # sha1 of the list id and the event as sent: the same event delivered twice is one row.
    key = models.CharField(max_length=40, unique=True)
    list_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=12)  # Subscribe, Update, Deactivate
    email = models.CharField(max_length=254)
    old_email = models.CharField(max_length=254, blank=True)
    state = models.CharField(max_length=20, blank=True)  # as sent: Unsubscribed, Deleted, ...
    date = models.CharField("date (account-local, as sent)", max_length=20)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="cm_events"
    )
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["processed_at", "received_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.email} on {self.list_id}"


class ListWebhook(models.Model):
    """cmsync's webhook on one connected list: whether it is in place, and what it sent."""

    class State(models.TextChoices):
        ACTIVE = "active", "Registered"
        REMOVED = "removed", "Not registered"
        FAILED = "failed", "Failed"

    list_id = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    webhook_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.REMOVED)
    # Why it is not registered, or what Campaign Monitor answered when it failed.
    detail = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "list_id"]

    def __str__(self) -> str:
        return f"Webhook of list {self.name or self.list_id} ({self.get_state_display()})"


class WebhookWatch(SingletonModel):
    """The installation's webhook endpoint: its secret and the last batch it took."""

    # The secret in the endpoint's URL (/campaign-monitor/webhook/<secret>/), generated.
    secret = EncryptedTextField(blank=True, null=True, default="")
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_refused_at = models.DateTimeField(null=True, blank=True)
    last_refusal = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return "Campaign Monitor webhooks"


class Lease(models.Model):
    """A named lock shared by every cmsync process, held for a short section of work.

    Runs of different kinds (the primary sync, Campaign Monitor events) may run at the same
    time, and both decide opt-outs and memberships from the stored subscriber states; see
    ``sync.leases``. A holder that dies leaves a lease that expires by itself."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at:%H:%M:%S}"


class WorkItem(models.Model):
    """One independent piece of a primary sync (sync/spread.py): a list's subscriber states,
    a client's suppression list, a range of campaigns' statistics, a campaign's tracking.
    Any worker claims it with a conditional update, beats while working it, and marks it
    done with its counts; the run's counts are its own plus the sum of its items'."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Claimed"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="items")
    phase = models.CharField(max_length=20)
    key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The run's generation its worker claimed it under: a worker of an older claim on the run
    # writes nothing more, and the run's new claimant takes such an item back at once.
    generation = models.PositiveIntegerField(default=0)
    # Raised by every claim of the item: the fence of the worker working it now.
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=120, blank=True)  # host:pid
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"subscribers": {"read": 0, "written": 0, "unchanged": 0, "failed": 0}, ...}
    counts = models.JSONField(default=dict, blank=True)
    cm_calls = models.PositiveIntegerField(default=0)
    sf_calls = models.PositiveIntegerField(default=0)
    # A failed item: the run's status it leads to (failed, partial) and the sentence.
    outcome = models.CharField(max_length=10, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "phase", "key"], name="one_item_per_key")
        ]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"{self.phase} {self.key} of run {self.run_id} ({self.status})"
