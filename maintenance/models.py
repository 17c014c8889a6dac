from django.db import models
from django.utils import timezone

from .codes import CODES


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
    summary = models.CharField(max_length=300)
    upstream_message = models.TextField(blank=True)  # Salesforce's or Campaign Monitor's own
    record = models.JSONField(default=dict, blank=True)  # what cmsync tried to write
    created_at = models.DateTimeField(default=timezone.now)

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
