from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Q

from cmsync.forms import choice_field

from .codes import CODES
from .models import AlertSettings, Message


class MessageFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Email, record id or code"}),
    )
    code = forms.ChoiceField(required=False)
    severity = forms.ChoiceField(
        required=False, choices=[("", "All severities"), *Message.Severity.choices]
    )
    client = forms.ChoiceField(required=False, label="Client")
    run = forms.IntegerField(required=False, min_value=1, label="Run")

    def __init__(self, *args, messages, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        codes = [("", "All codes")] + [(code, code) for code in sorted(CODES)]
        choice_field(self, "code").choices = codes
        # order_by(): the messages' ordering would make every row distinct (one choice each)
        clients = (
            messages.exclude(client_id="").order_by().values_list("client_id", flat=True).distinct()
        )
        names = _client_names()
        choice_field(self, "client").choices = [("", "All clients")] + [
            (c, names.get(c, c)) for c in sorted(clients)
        ]

    def filter(self, messages):
        data = self.cleaned_data
        if data.get("q"):
            messages = messages.filter(_message_search(data["q"].strip()))
        if data.get("code"):
            messages = messages.filter(code=data["code"])
        if data.get("severity"):
            messages = messages.filter(severity=data["severity"])
        if data.get("client"):
            messages = messages.filter(client_id=data["client"])
        if data.get("run"):
            messages = messages.filter(run_id=data["run"])
        return messages


def _message_search(text: str) -> Q:
    """An email, a record id or a code: anywhere in the summary, the record cmsync tried to
    write, the upstream text or the code."""
    return (
        Q(code__icontains=text)
        | Q(summary__icontains=text)
        | Q(record__icontains=text)
        | Q(upstream_message__icontains=text)
    )


def _client_names() -> dict[str, str]:
    from campaign_monitor.models import ConnectedClient

    return dict(ConnectedClient.objects.values_list("client_id", "name"))


class ResetForm(forms.Form):
    delete_tracking = forms.BooleanField(
        required=False,
        label="Also delete the email tracking records cmsync created in Salesforce",
        help_text="They can be imported again from Campaign Monitor, within 'days to keep'.",
    )
    confirm = forms.BooleanField(
        label="I understand that the next sync will read everything again",
        error_messages={"required": "Tick the box to confirm the reset."},
    )


class RecipientsField(forms.ModelMultipleChoiceField):
    """People to email, each shown with the address the alert goes to."""

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.username} ({obj.email})"


class AlertForm(forms.ModelForm):
    class Meta:
        model = AlertSettings
        fields = ["mode", "recipients"]
        field_classes = {"recipients": RecipientsField}
        widgets = {"mode": forms.RadioSelect, "recipients": forms.CheckboxSelectMultiple}
        labels = {"mode": "Email alerts", "recipients": "Send to"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.exclude(email="").filter(is_active=True)
        recipients = self.fields["recipients"]
        assert isinstance(recipients, RecipientsField)  # Meta's field_classes
        recipients.queryset = users.order_by("username")

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns, typed
        if data.get("mode") != AlertSettings.Mode.NEVER and not data.get("recipients"):
            raise forms.ValidationError("Choose at least one person to email, or choose Never.")
        return data
