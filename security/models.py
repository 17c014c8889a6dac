"""User overrides and client ownership."""

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models

from maintenance.audit import InAuditArea


class ClientOwnership(InAuditArea, models.Model):
    """Which connected clients a user may see and act on. No rows: every client."""

    audit_area = "security"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_clients"
    )
    client_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client_id"], name="one_ownership_per_client")
        ]
        permissions = [("manage_users", "Manage users, roles, overrides and client ownership")]

    def __str__(self) -> str:
        return f"{self.user} owns client {self.client_id}"


class UserOverride(InAuditArea, models.Model):
    """The Campaign Monitor person a console user signs in as with "Open Campaign Monitor"."""

    audit_area = "security"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cm_overrides"
    )
    client_id = models.CharField(max_length=64)
    person_email = models.EmailField("Campaign Monitor person")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client_id"], name="one_override_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.person_email} ({self.client_id})"


auditlog.register(ClientOwnership)
auditlog.register(UserOverride)
