from django import forms
from django.conf import settings


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
        help_text="Leave as it is unless you connect to a test server.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["base_url"].initial = settings.CAMPAIGN_MONITOR_BASE_URL

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].rstrip("/")


class ChooseClientsForm(forms.Form):
    clients = forms.MultipleChoiceField(
        label="Clients to connect",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one client to connect."},
    )

    def __init__(self, *args, connection, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rows = connection.clients.all()
        self.fields["clients"].choices = [(c.client_id, c.name) for c in rows]
        self.fields["clients"].initial = [c.client_id for c in rows if c.connected]
