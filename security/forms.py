from datetime import datetime, time

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from cmsync.forms import choice_field

from .roles import ROLE_NAMES

ROLE_CHOICES = [("", "No access")] + [(r, r) for r in ROLE_NAMES]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=ROLE_CHOICES[1:], initial=ROLE_NAMES[-1])

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        users = get_user_model().objects
        if users.filter(email__iexact=email).exists() or users.filter(username=email).exists():
            raise forms.ValidationError("There is already a user with this email address.")
        return email


class ClientsForm(forms.Form):
    clients = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every client.",
    )

    def __init__(self, *args, choices, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "clients").choices = choices


class OverrideForm(forms.Form):
    person = forms.ChoiceField(required=False, label="Campaign Monitor person")

    def __init__(self, *args, people, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "person").choices = [("", "The connected user (Full access only)")] + [
            (p.email, f"{p.name} ({p.email})") for p in people
        ]


class KeyForm(forms.Form):
    name = forms.CharField(max_length=50, help_text="Which integration uses it, e.g. 'BI export'.")
    access = forms.ChoiceField(choices=[])
    expires = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key stops working at the start of this day.",
    )

    def __init__(self, *args, **kwargs) -> None:
        from .models import IntegrationKey

        super().__init__(*args, **kwargs)
        choice_field(self, "access").choices = IntegrationKey.Access.choices

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if get_user_model().objects.filter(username=f"api-key: {name}").exists():
            raise forms.ValidationError("There is already a key with this name.")
        return name

    def clean_expires(self) -> datetime | None:
        """The start of the chosen day in the console's time zone, which must be to come."""
        day = self.cleaned_data["expires"]
        if day is None:
            return None
        if day <= timezone.localdate():
            raise forms.ValidationError("Choose an expiry date after today.")
        return timezone.make_aware(datetime.combine(day, time.min))
