"""The form for one custom field mapping, checked against what Campaign Monitor and
Salesforce say the fields are (their types, options and whether the sync user may write)."""

from collections.abc import Sequence

from django import forms

from campaign_monitor.records import CustomField
from cmsync.forms import choice_field
from salesforce.gateway import FieldInfo, ObjectInfo

from ..models import FieldMapping
from . import types

# Salesforce fields offered at all: the types some Campaign Monitor type goes with.
OFFERED_TYPES = frozenset().union(*types.FROM_SF.values(), *types.TO_SF.values())


def sf_field_choices(info: ObjectInfo, cm_type: str = "") -> list[tuple[str, str]]:
    """The object's fields a mapping may use, by label, from Salesforce's describe; with
    ``cm_type``, only those a Salesforce → Campaign Monitor mapping of that type can read.
    The field mappings page and the import wizard's mapping step offer the same list."""
    fields = sorted(
        (
            f
            for f in info.fields.values()
            if f.type in OFFERED_TYPES
            and not (cm_type and types.pair_problem(cm_type, f, "to_cm", info.name))
        ),
        key=lambda f: (f.label.lower(), f.name),
    )
    return [("", "— not mapped —")] + [
        (f.name, f"{f.label} ({f.name}, {types.sf_type_label(f)})") for f in fields
    ]


class FieldMappingForm(forms.ModelForm):
    cm_key = forms.ChoiceField(label="Campaign Monitor field")
    direction = forms.ChoiceField(
        choices=FieldMapping.Direction.choices,
        widget=forms.RadioSelect,
        initial=FieldMapping.Direction.TO_CM,
        help_text="A field is mapped in one direction only. Salesforce → Campaign Monitor is "
        "applied when a Contact or Lead changes and by the import wizard; Campaign Monitor → "
        "Salesforce by the primary sync.",
    )
    contact_field = forms.ChoiceField(label="Contact field", required=False)
    lead_field = forms.ChoiceField(label="Lead field", required=False)

    class Meta:
        model = FieldMapping
        fields = [
            "cm_key",
            "direction",
            "contact_field",
            "lead_field",
            "default_value",
            "create_only",
        ]
        help_texts = {
            "default_value": "Used when the value it comes from is blank. It must fit the "
            "field's type: a number, a date as YYYY-MM-DD, or one of the options (several "
            "separated by ; for a multiple-choice field).",
            "create_only": "Salesforce → Campaign Monitor: only when the subscriber is added. "
            "Campaign Monitor → Salesforce: only when the Salesforce field is empty.",
        }

    def __init__(
        self,
        data=None,
        *,
        list_id: str,
        cm_fields: list[CustomField],
        describes: dict[str, ObjectInfo],
        instance: FieldMapping | None = None,
    ) -> None:
        super().__init__(data, instance=instance)
        self.list_id = list_id
        self.cm_fields = {f.key: f for f in cm_fields}
        self.describes = describes
        choices = [
            (f.key, f"{f.name} ({types.CM_TYPE_LABELS.get(f.data_type, f.data_type)})")
            for f in cm_fields
        ]
        if instance and instance.pk and instance.cm_key not in self.cm_fields:
            choices.append((instance.cm_key, f"{instance.cm_key} (no longer in Campaign Monitor)"))
        choice_field(self, "cm_key").choices = [("", "— choose a field —")] + choices
        choice_field(self, "contact_field").choices = sf_field_choices(describes["Contact"])
        choice_field(self, "lead_field").choices = sf_field_choices(describes["Lead"])

    def clean_cm_key(self) -> str:
        key = self.cleaned_data["cm_key"]
        if key not in self.cm_fields:
            raise forms.ValidationError("This field is not one of the list's custom fields.")
        taken = FieldMapping.objects.filter(list_id=self.list_id, cm_key=key)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("This field is already mapped; change that mapping.")
        return key

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        cm_field = self.cm_fields.get(data.get("cm_key") or "")
        direction = data.get("direction")
        if not data.get("contact_field") and not data.get("lead_field"):
            raise forms.ValidationError("Choose a Contact field, a Lead field or both.")
        if cm_field is None or not direction:
            return data
        chosen = {
            sobject: info
            for sobject, form_field in (("Contact", "contact_field"), ("Lead", "lead_field"))
            if (info := self._checked_field(sobject, form_field, cm_field, direction))
        }
        if data.get("default_value"):
            self._check_default(data["default_value"], cm_field, direction, chosen)
        return data

    def _checked_field(
        self, sobject: str, form_field: str, cm_field: CustomField, direction: str
    ) -> FieldInfo | None:
        name = self.cleaned_data.get(form_field)
        if not name:
            return None
        info = self.describes[sobject].field(name)
        assert info is not None  # the choice offered only this describe's fields
        problem = types.pair_problem(cm_field.data_type, info, direction, sobject)
        if problem:
            self.add_error(form_field, problem)
            return None
        if direction == FieldMapping.Direction.TO_SF:
            others = FieldMapping.objects.filter(list_id=self.list_id, direction=direction)
            others = others.exclude(pk=self.instance.pk) if self.instance.pk else others
            lookup = {f"{form_field}__iexact": info.name}
            other = others.filter(**lookup).first()
            if other is not None:
                self.add_error(
                    form_field,
                    f"{other.cm_key} already writes this {sobject} field; a field takes one "
                    "Campaign Monitor field.",
                )
                return None
        self.cleaned_data[form_field] = info.name  # Salesforce's own spelling
        return info

    def _check_default(
        self, default: str, cm_field: CustomField, direction: str, chosen: dict[str, FieldInfo]
    ) -> None:
        try:
            types.check_cm_value(cm_field.data_type, default, cm_field.options)
            if direction != FieldMapping.Direction.TO_SF:
                return
            values = (
                types.split_many(default) if cm_field.data_type == "MultiSelectMany" else [default]
            )
            for sobject, info in chosen.items():
                value = types.to_sf_value(info, values)
                allowed = info.picklist_values if info.restricted_picklist else ()
                picked: Sequence[object] = [value]
                if info.type == "multipicklist":
                    picked = str(value).split(";")
                unknown = [v for v in picked if allowed and v not in allowed]
                if unknown:
                    raise types.BadValue(
                        f"“{unknown[0]}” is not a value of the {sobject} field {info.label}."
                    )
        except types.BadValue as exc:
            self.add_error("default_value", str(exc))

    def save(self, commit: bool = True) -> FieldMapping:
        mapping = super().save(commit=False)
        mapping.list_id = self.list_id
        mapping.cm_type = self.cm_fields[mapping.cm_key].data_type
        if commit:
            mapping.save()
        return mapping
