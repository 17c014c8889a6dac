"""The installation's connection to one Campaign Monitor account and the clients it syncs."""

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedTextField

from maintenance.audit import InAuditArea

from .client import ApiKey, CampaignMonitorClient
from .records import OAuthTokens


class Connection(InAuditArea, models.Model):
    audit_area = "sync"

    class AuthType(models.TextChoices):
        API_KEY = "api_key", "API key"
        OAUTH = "oauth", "OAuth"

    class AccountType(models.TextChoices):
        AGENCY = "agency", "Agency"
        DIRECT = "direct", "Direct"

    # One connection per installation: a second row cannot be written.
    singleton = models.BooleanField(default=True, unique=True, editable=False)
    base_url = models.URLField("API base URL", max_length=200)
    auth_type = models.CharField(max_length=10, choices=AuthType.choices)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    # Secrets: encrypted at rest, never logged, never shown back in full.
    api_key = EncryptedTextField(blank=True, null=True, default="")
    access_token = EncryptedTextField(blank=True, null=True, default="")
    refresh_token = EncryptedTextField(blank=True, null=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return f"Campaign Monitor connection ({self.get_account_type_display().lower()} account)"

    @classmethod
    def current(cls) -> "Connection | None":
        return cls.objects.first()

    @property
    def secret_hint(self) -> str:
        """Enough of the key or token to recognise it, never enough to use it."""
        secret = self.api_key or self.access_token or ""
        return f"…{secret[-4:]}" if len(secret) > 8 else "…"

    def api(self, **kwargs) -> CampaignMonitorClient:
        """A client with these credentials; refreshed OAuth tokens are saved as they come."""
        if self.auth_type == self.AuthType.API_KEY:
            return CampaignMonitorClient(ApiKey(self.api_key), base_url=self.base_url, **kwargs)
        tokens = OAuthTokens(self.access_token, self.refresh_token, self.token_expires_at)
        return CampaignMonitorClient(
            tokens, base_url=self.base_url, on_token_refresh=self.save_tokens, **kwargs
        )

    def save_tokens(self, tokens: OAuthTokens) -> None:
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        self.token_expires_at = tokens.expires_at
        self.save(update_fields=["access_token", "refresh_token", "token_expires_at"])

    def connected_clients(self) -> models.QuerySet:
        return self.clients.filter(connected=True)


class ConnectedClient(InAuditArea, models.Model):
    """A client of the connected account; ``connected`` ones are synced."""

    audit_area = "sync"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="clients")
    client_id = models.CharField("client id", max_length=64)
    name = models.CharField(max_length=200)
    connected = models.BooleanField(default=False)
    # [{"ListID": ..., "Name": ...}] as last read from Campaign Monitor.
    lists = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name", "client_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "client_id"], name="one_row_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class ListOptions(InAuditArea, models.Model):
    """Per-list choices of the admin, kept by Campaign Monitor list id (lists come and go
    with the connected clients; the options stay if a list is connected again)."""

    audit_area = "sync"

    list_id = models.CharField("list id", max_length=64, unique=True)
    # Storage-conscious orgs: no CM_List_Membership__c records for this list.
    prevent_member_sync = models.BooleanField("prevent member sync", default=False)

    class Meta:
        verbose_name = "list options"
        verbose_name_plural = "list options"

    def __str__(self) -> str:
        return f"Options of list {self.list_id}"


# Secrets never enter the audit log.
auditlog.register(Connection, exclude_fields=["api_key", "access_token", "refresh_token"])
auditlog.register(ConnectedClient, include_fields=["connected"])
auditlog.register(ListOptions)
