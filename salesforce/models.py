"""Salesforce connections: each console user may connect their own Salesforce user; the
installation's sync user is the console user whose connection the primary sync uses."""

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.utils import timezone
from encrypted_fields.fields import EncryptedTextField

from cmsync.memo import MemoizedSingleton
from maintenance.audit import InAuditArea

from . import auth, errors
from .gateway import SalesforceGateway

SECRETS = ["client_secret", "refresh_token", "access_token", "private_key", "password"]


def _secret() -> EncryptedTextField:
    return EncryptedTextField(blank=True, null=True, default="")


class SalesforceSettings(InAuditArea, MemoizedSingleton):
    """The connected app cmsync signs in through, the sync user and the schema's last check."""

    audit_area = "sync"

    login_url = models.URLField("login URL", default="https://login.salesforce.com")
    client_id = models.CharField("consumer key", max_length=255, blank=True)
    client_secret = _secret()
    sync_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # What the last check of cmsync's schema in the org found missing (full names).
    schema_missing = models.JSONField(default=list, blank=True)
    # The page layout items (buttons, fields, related lists) the last check found missing.
    layouts_missing = models.JSONField(default=list, blank=True)
    # What the last check found missing of cmsync's permission sets and the sync user's
    # assignment (permissions.status, in words).
    permissions_missing = models.JSONField(default=list, blank=True)
    # The objects whose custom tab the last check found in the org (tabs.py).
    tabs_installed = models.JSONField(default=list, blank=True)
    schema_checked_at = models.DateTimeField(null=True, blank=True)
    # Audited: when cmsync last created parts of its schema in the org.
    schema_installed_at = models.DateTimeField(null=True, blank=True)
    # The secret in the Outbound Message endpoint's URL (generated; shown once).
    outbound_secret = _secret()

    class Meta:
        verbose_name = "Salesforce settings"

    def __str__(self) -> str:
        return "Salesforce settings"

    @property
    def app_configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def sync_connection(self) -> "SalesforceConnection | None":
        if self.sync_user_id is None:
            return None
        return SalesforceConnection.objects.filter(user_id=self.sync_user_id).first()


class SalesforceConnection(InAuditArea, models.Model):
    audit_area = "sync"

    class AuthType(models.TextChoices):
        OAUTH = "oauth", "OAuth"
        JWT = "jwt", "JWT bearer"
        CLIENT_CREDENTIALS = "client_credentials", "Client credentials"
        PASSWORD = "password", "Username and password (legacy)"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="salesforce_connection"
    )
    auth_type = models.CharField(max_length=20, choices=AuthType.choices)
    login_url = models.URLField(max_length=255)
    instance_url = models.URLField(max_length=255)
    client_id = models.CharField(max_length=255)
    username = models.CharField(max_length=255, blank=True)  # JWT bearer and password flows
    client_secret = _secret()
    refresh_token = _secret()
    access_token = _secret()
    private_key = _secret()
    password = _secret()
    org_id = models.CharField("org id", max_length=18, blank=True)
    sf_user_id = models.CharField("Salesforce user id", max_length=18, blank=True)
    sf_username = models.CharField("Salesforce username", max_length=255, blank=True)
    sf_name = models.CharField("Salesforce user", max_length=255, blank=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    # Set when Salesforce refused to renew the session: the admin must connect again.
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Salesforce connection of {self.user} ({self.sf_username or self.auth_type})"

    def authenticate(self) -> auth.Tokens:
        """A new session from the stored credentials, by this connection's flow."""
        if self.auth_type == self.AuthType.OAUTH:
            return auth.refresh(
                self.login_url, self.client_id, self.client_secret, self.refresh_token
            )
        if self.auth_type == self.AuthType.JWT:
            return auth.jwt_bearer(self.login_url, self.client_id, self.username, self.private_key)
        if self.auth_type == self.AuthType.CLIENT_CREDENTIALS:
            return auth.client_credentials(self.login_url, self.client_id, self.client_secret)
        return auth.password_login(
            self.login_url, self.client_id, self.client_secret, self.username, self.password
        )

    def renew(self) -> str:
        """Renew the session; a refusal marks the connection revoked and is raised."""
        try:
            tokens = self.authenticate()
        except errors.AuthenticationError as exc:
            self.revoked_at = timezone.now()
            self.last_error = str(exc)
            self.save(update_fields=["revoked_at", "last_error"])
            raise
        self.access_token = tokens.access_token
        if tokens.refresh_token:
            self.refresh_token = tokens.refresh_token
        self.save(update_fields=["access_token", "refresh_token"])
        return tokens.access_token

    def gateway(self, **kwargs) -> SalesforceGateway:
        if self.revoked_at:
            raise errors.AuthenticationError(
                f"The Salesforce connection of {self.user} was revoked: {self.last_error}"
            )
        return SalesforceGateway(self.instance_url, self.access_token, refresh=self.renew, **kwargs)


auditlog.register(
    SalesforceSettings,
    exclude_fields=[
        "client_secret",
        "outbound_secret",
        "schema_missing",
        "layouts_missing",
        "permissions_missing",
        "tabs_installed",  # what a check found; the tab changes themselves are audited
        "schema_checked_at",
    ],
)
auditlog.register(SalesforceConnection, exclude_fields=SECRETS)
