import socket
from urllib.parse import urlsplit

from django import forms
from django.conf import settings

from cmsync import endpoints
from cmsync.forms import choice_field


def demo_emulator_listening() -> bool:
    """Demo mode: plain HTTP to this machine is allowed and something listens at the demo
    emulator's address (a TCP connect to 127.0.0.1, nothing sent)."""
    if not settings.ALLOW_INSECURE_LOOPBACK:
        return False
    parts = urlsplit(settings.CAMPAIGN_MONITOR_DEMO_BASE_URL)
    if parts.hostname not in endpoints.LOOPBACK_HOSTS:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=0.5):
            return True
    except OSError:
        return False


def default_base_url() -> str:
    """The Connect form's API address: the local emulator's in demo mode, so its direct
    account's key works as it is; else Campaign Monitor's (CAMPAIGN_MONITOR_BASE_URL)."""
    if demo_emulator_listening():
        return settings.CAMPAIGN_MONITOR_DEMO_BASE_URL
    return settings.CAMPAIGN_MONITOR_BASE_URL


class ConnectForm(forms.Form):
    api_key = forms.CharField(
        label="API key",
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="In Campaign Monitor: Account settings → API keys. Use a full-access user's key.",
    )
    base_url = forms.URLField(
        label="API address",
        max_length=200,
        assume_scheme="https",
        help_text="Leave as it is unless you connect to a test server. The key is only sent "
        "to https:// addresses.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["base_url"].initial = default_base_url()
        if self.fields["base_url"].initial != settings.CAMPAIGN_MONITOR_BASE_URL:
            self.fields["base_url"].help_text = (
                "Demo mode: the local Campaign Monitor emulator. For a real account use "
                f"{settings.CAMPAIGN_MONITOR_BASE_URL}."
            )

    def clean_base_url(self) -> str:
        """The key is only sent over HTTPS (plain HTTP to this machine with
        ALLOW_INSECURE_LOOPBACK): checked before anything is sent."""
        try:
            return endpoints.check(self.cleaned_data["base_url"], "Campaign Monitor")
        except endpoints.EndpointRefused as exc:
            raise forms.ValidationError(str(exc)) from exc


class ChooseClientsForm(forms.Form):
    clients = forms.MultipleChoiceField(
        label="Clients to connect",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one client to connect."},
    )

    def __init__(self, *args, connection, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rows = connection.clients.all()
        choice_field(self, "clients").choices = [(c.client_id, c.name) for c in rows]
        self.fields["clients"].initial = [c.client_id for c in rows if c.connected]
