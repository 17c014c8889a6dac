from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.utils import timezone

from cmsync.memo import MemoizedSingleton
from security.access import visible_clients

from .audit import InAuditArea
from .codes import CODES


class MessageQuerySet(models.QuerySet):
    def visible_to(self, user) -> "MessageQuerySet":
        """The messages ``user`` may see, retry and delete: those of the clients they own.

        A message of no client may concern any client, so only users who see every client
        (no client ownership) see it.
        """
        clients = visible_clients(user)
        return self if clients is None else self.filter(client_id__in=clients)


class Message(models.Model):
    """A record the sync could not write, or a problem it met: the first stop when
    troubleshooting."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error"
        WARNING = "warning", "Warning"
        INFO = "info", "Info"

    code = models.CharField(max_length=40)  # one of maintenance.codes.CODES
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.ERROR)
    run = models.ForeignKey(
        "sync.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    client_id = models.CharField(max_length=64, blank=True)
    step = models.CharField(max_length=20, blank=True)  # the sync step that met it
    summary = models.CharField(max_length=300)
    upstream_message = models.TextField(blank=True)  # Salesforce's or Campaign Monitor's own
    # What cmsync tried to write: {"sobject", "operation", "fields"} for a Salesforce record.
    record = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by Retry: the next run writes this record again before anything else.
    retry_requested = models.BooleanField(default=False)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["code", "created_at"])]
        permissions = [
            ("retry_message", "Retry the records of maintenance messages"),
            ("reset_data", "Reset cmsync's stored sync data"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.summary}"

    @property
    def help(self):
        return CODES[self.code]

    @property
    def retryable(self) -> bool:
        """Only a Salesforce write that cmsync recorded whole can be written again."""
        return CODES[self.code].retryable and bool(self.record.get("operation"))


class AlertSettings(InAuditArea, MemoizedSingleton):
    """Who is emailed about runs, and when."""

    audit_area = "maintenance"

    class Mode(models.TextChoices):
        NEVER = "never", "Never"
        ON_ERROR = "on_error", "Only on error"
        ALWAYS = "always", "Always"

    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ON_ERROR)
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True)

    class Meta:
        verbose_name = "alert settings"

    def __str__(self) -> str:
        return "Alert settings"


auditlog.register(AlertSettings, m2m_fields={"recipients"})


class Heartbeat(models.Model):
    """When a Celery process last showed it was alive: ``beat`` (stamped by beat as it sends
    its every-minute tasks) or ``worker:<node name>`` (stamped from each worker's own event
    loop). The Maintenance tab, ``manage.py health`` and the alerts read them
    (maintenance/heartbeats.py)."""

    name = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"
