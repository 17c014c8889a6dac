"""User overrides, client ownership and API keys."""

import uuid

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

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


class IntegrationKey(AbstractAPIKey):
    """An API key for an integration: stored hashed (djangorestframework-api-key), shown once.

    Each key acts as a user of its own ("api-key: <name>") with the role its access gives,
    so role permissions and the audit log work for keys exactly as for people.
    """

    class Access(models.TextChoices):
        READ = "read", "Read-only"
        STANDARD = "standard", "Read-write: Standard (Sync now, retry)"
        FULL = "full", "Read-write: Full access"

    access = models.CharField(max_length=10, choices=Access.choices, default=Access.READ)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integration_key"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The library's primary key is "<prefix>.<hash of the key>": never put it in a URL or a
    # page. Console links name a key by this opaque id instead.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Written by the API's authentication at most once a minute per key (api_auth.py).
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"

    @property
    def anchor(self) -> str:
        """The key's place on the User security tab (its row's id), for links and answers."""
        return f"key-{self.public_id}"

    @property
    def state(self) -> str:
        """What the console shows for the key: "Revoked", "Expired" or "Active"."""
        if self.revoked:
            return "Revoked"
        return "Expired" if self.has_expired else "Active"
