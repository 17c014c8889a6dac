"""The import wizard's steps as small forms. Conditions become SOQL only through
``criteria.parse``; anything it refuses is a form error."""

from collections.abc import Callable, Iterable
from datetime import datetime

from django import forms
from django.utils import timezone

from cmsync.forms import choice_field
from salesforce.gateway import ObjectInfo
from settings_app import gates
from settings_app.models import GeneralSettings

from .. import criteria
from ..fields.forms import sf_field_choices
from ..models import FieldMapping, ImportJob
from .work import CONSENT_CHOICES, NAME_CHOICES

JOURNEYS_WARNING = (
    "Journeys that start when someone joins a list will run for every subscriber this import "
    "adds, so a bulk import may email everyone in it. Importing can also start a journey when "
    "a custom field it updates moves someone into a segment, whatever this setting."
)
RESUBSCRIBE_HELP = (
    "Only subscribers who were deleted from this list come back. Unsubscribed and bounced "
    "people never do: they are updated but stay as they are. People on the client's "
    "suppression list are not imported at all (the result lists them as suppressed)."
)
CONDITION_ROWS = 5  # empty rows offered; at most criteria.MAX_CONDITIONS in all


class SourceForm(forms.Form):
    source = forms.ChoiceField(
        label="Who to import",
        choices=ImportJob.Source.choices,
        widget=forms.RadioSelect,
    )


class CampaignForm(forms.Form):
    """A Salesforce campaign and the member statuses to import (none ticked: every member)."""

    campaign = forms.ChoiceField(label="Salesforce campaign")
    member_statuses = forms.MultipleChoiceField(
        label="Member status",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Import only members with these statuses; none ticked: every member.",
    )

    def __init__(self, *args, campaigns: list[dict], statuses: dict[str, list[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.names = {c["Id"]: c["Name"] for c in campaigns}
        self.statuses = statuses
        choice_field(self, "campaign").choices = [("", "Choose a campaign")] + list(
            self.names.items()
        )
        labels = sorted({label for labels in statuses.values() for label in labels})
        choice_field(self, "member_statuses").choices = [(label, label) for label in labels]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        campaign, chosen = data.get("campaign"), data.get("member_statuses") or []
        if campaign:
            missing = [s for s in chosen if s not in self.statuses.get(campaign, [])]
            if missing:
                self.add_error(
                    "member_statuses",
                    f"{self.names[campaign]} has no member status {', '.join(missing)}.",
                )
        return data


class ConditionsForm(forms.Form):
    """Up to ten conditions on Contact or Lead fields, and optional custom logic."""

    logic = forms.CharField(
        label="Custom logic",
        required=False,
        max_length=200,
        help_text="E.g. 1 AND (2 OR 3). Empty: every condition must hold.",
    )

    def __init__(
        self,
        *args,
        describe: Callable[[str], ObjectInfo],
        sobject: str,
        rows: int = CONDITION_ROWS,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.describe, self.sobject = describe, sobject
        self.row_count = min(max(rows, 1), criteria.MAX_CONDITIONS)
        operators = [("", "—")] + [(k, v[0]) for k, v in criteria.OPERATORS.items()]
        for n in range(1, self.row_count + 1):
            self.fields[f"field_{n}"] = forms.CharField(
                label=f"Field {n}",
                required=False,
                max_length=100,
                widget=forms.TextInput(attrs={"list": "sf-fields", "autocomplete": "off"}),
            )
            self.fields[f"operator_{n}"] = forms.ChoiceField(
                label=f"Operator {n}", required=False, choices=operators
            )
            self.fields[f"value_{n}"] = forms.CharField(
                label=f"Value {n}", required=False, max_length=255
            )

    @staticmethod
    def initial_for(job: ImportJob) -> dict:
        initial = {"logic": job.logic}
        for n, c in enumerate(job.conditions, start=1):
            initial |= {
                f"field_{n}": c.get("field", ""),
                f"operator_{n}": c.get("operator", ""),
                f"value_{n}": c.get("value", ""),
            }
        return initial

    def rows(self) -> list[tuple]:
        return [
            (n, self[f"field_{n}"], self[f"operator_{n}"], self[f"value_{n}"])
            for n in range(1, self.row_count + 1)
        ]

    def field_names(self) -> list[str]:
        """Suggestions for the field inputs: the object's fields (and a contact's account's)."""
        names = sorted(f.name for f in self.describe(self.sobject).fields.values())
        if self.sobject == "Contact":
            account = self.describe("Account").fields.values()
            names += sorted(f"Account.{f.name}" for f in account)
        return names

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        conditions = []
        for n in range(1, self.row_count + 1):
            field, operator = data.get(f"field_{n}", ""), data.get(f"operator_{n}", "")
            value = data.get(f"value_{n}", "")
            if not (field or operator or value):
                continue
            if not field or not operator:
                raise forms.ValidationError(f"Row {n}: choose a field and an operator.")
            conditions.append({"field": field.strip(), "operator": operator, "value": value})
        logic = (data.get("logic") or "").strip()
        if logic and not conditions:
            raise forms.ValidationError("Custom logic needs conditions.")
        try:
            parsed = criteria.parse(conditions, logic, self.describe, self.sobject)
        except criteria.InvalidCriteria as exc:
            raise forms.ValidationError(str(exc)) from exc
        # Stored as Salesforce spells the fields, with the values as typed.
        data["conditions"] = [
            {**raw, "field": c.field} for raw, c in zip(conditions, parsed.conditions, strict=True)
        ]
        data["logic"] = logic
        return data


class MappingForm(forms.Form):
    name = forms.ChoiceField(
        label="Subscriber name from",
        choices=list(NAME_CHOICES.items()),
        widget=forms.RadioSelect,
    )
    consent_to_track = forms.ChoiceField(
        label="Consent to track",
        choices=[(c, c) for c in CONSENT_CHOICES],
        widget=forms.RadioSelect,
        help_text="Unchanged keeps what Campaign Monitor has (No for new subscribers).",
    )

    def __init__(
        self,
        *args,
        mappings: Iterable[FieldMapping] = (),
        describes: dict[str, ObjectInfo] | None = None,
        **kwargs,
    ):
        """One choice per custom field and object read: the object's fields that can fill
        it, by label, from Salesforce's describe (as on the list's field mappings page)."""
        super().__init__(*args, **kwargs)
        self.mappings, self.describes = list(mappings), describes or {}
        for mapping in self.mappings:
            for sobject, info in self.describes.items():
                label = f"{mapping.cm_key} from {info.label or sobject} field"
                self.fields[self._name(mapping, sobject)] = forms.ChoiceField(
                    label=label,
                    required=False,
                    widget=forms.Select(attrs={"aria-label": label}),
                    choices=sf_field_choices(info, mapping.cm_type),
                    error_messages={
                        "invalid_choice": f"“%(value)s” is not a {info.label or sobject} field "
                        f"that can fill {mapping.cm_key}."
                    },
                )

    @staticmethod
    def _name(mapping: FieldMapping, sobject: str) -> str:
        return f"{sobject.lower()}_{mapping.pk}"

    @classmethod
    def initial_for(cls, job: ImportJob, mappings: list[FieldMapping], sobjects) -> dict:
        """What the job chose before, else the list's own mappings."""
        chosen = job.mapping.get("fields") or {}
        initial = {
            "name": job.mapping.get("name", "Name"),
            "consent_to_track": job.mapping.get("consent_to_track", "Unchanged"),
        }
        for mapping in mappings:
            for sobject in sobjects:
                field = (chosen.get(mapping.cm_key) or {}).get(sobject, mapping.sf_field(sobject))
                initial[cls._name(mapping, sobject)] = field
        return initial

    def rows(self) -> list[tuple[FieldMapping, list]]:
        """Each custom field with its choices, one per object, for the template's table."""
        return [
            (mapping, [self[self._name(mapping, sobject)] for sobject in self.describes])
            for mapping in self.mappings
        ]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        data["fields"] = {
            mapping.cm_key: {
                sobject: data.pop(self._name(mapping, sobject), "") or ""
                for sobject in self.describes
            }
            for mapping in self.mappings
        }
        return data


class OptionsForm(forms.Form):
    """Refresh type, journeys, blanks, and when. Re-subscribing and journeys are offered, and
    accepted, only while their general option is on."""

    refresh = forms.ChoiceField(
        label="Refresh type", choices=ImportJob.Refresh.choices, widget=forms.RadioSelect
    )
    restart_journeys = forms.BooleanField(
        label="Trigger 'joins a list' journeys", required=False, help_text=JOURNEYS_WARNING
    )
    clear_blanks = forms.BooleanField(
        label="Clear blank values",
        required=False,
        help_text="A mapped Salesforce field that is empty clears the custom field in "
        "Campaign Monitor (otherwise the value there is kept).",
    )
    when = forms.ChoiceField(
        label="Run",
        choices=[("now", "Now"), ("later", "At a set time")],
        widget=forms.RadioSelect,
    )
    scheduled_for = forms.DateTimeField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text="In the installation's time zone.",
    )

    def __init__(self, *args, general: GeneralSettings, **kwargs):
        super().__init__(*args, **kwargs)
        self.general = general
        if gates.resubscribe_allowed(general):
            self.fields["refresh"].help_text = RESUBSCRIBE_HELP
        else:
            choice_field(self, "refresh").choices = [ImportJob.Refresh.choices[0]]
        if not gates.journeys_allowed(general):
            del self.fields["restart_journeys"]

    @staticmethod
    def initial_for(job: ImportJob) -> dict:
        when = job.scheduled_for and timezone.localtime(job.scheduled_for)
        return {
            "refresh": job.refresh,
            "restart_journeys": job.restart_journeys,
            "clear_blanks": job.clear_blanks,
            "when": "later" if when else "now",
            "scheduled_for": when,
        }

    def clean_refresh(self):
        refresh = self.cleaned_data["refresh"]
        if refresh == ImportJob.Refresh.RESUBSCRIBE_DELETED:
            if not gates.resubscribe_allowed(self.general):
                raise forms.ValidationError(gates.switched_off(gates.RESUBSCRIBING))
        return refresh

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        if self.data.get("restart_journeys") and not gates.journeys_allowed(self.general):
            raise forms.ValidationError(gates.switched_off(gates.JOURNEYS))
        if data.get("when") == "later":
            moment: datetime | None = data.get("scheduled_for")
            if moment is None:
                self.add_error("scheduled_for", "Enter when the import should run.")
            elif moment <= timezone.now():
                self.add_error("scheduled_for", "Choose a time in the future.")
        else:
            data["scheduled_for"] = None
        return data
