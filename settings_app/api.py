"""Settings over the API: GET and PATCH through the console's own forms, so both validate
identically. PATCH needs If-Match with the ETag of the version read (no silent overwrites);
risky changes need ``"confirmed": true``, as the console asks before saving them."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from cmsync.api import (
    PreconditionFailed,
    PreconditionRequired,
    check_if_match,
    error_response,
    with_etag,
)

from .forms import (
    CampaignSettingsForm,
    GeneralSettingsForm,
    MemberStatusMappingFormSet,
    SettingsForm,
    SyncSettingsForm,
)
from .models import MemberStatusMapping

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag from the last GET: the change is refused (412) if it is stale.",
)


def represent(form_class, instance) -> dict:
    """The settings as the console shows them: one key per form field."""
    form = form_class(instance=instance)
    data = {name: form[name].value() for name in form.fields}
    if form_class is CampaignSettingsForm:
        data["auto_create_since"] = instance.auto_create_since
        data["mapping"] = [
            {"activity": m.activity, "label": m.label, "responded": m.responded}
            for m in MemberStatusMapping.load()
        ]
    return data


def _form_data(form_class, instance, changes: dict) -> dict:
    """The console form's data: what is stored now, with the requested changes on top."""
    current = represent(form_class, instance)
    current.pop("mapping", None)
    current.pop("auto_create_since", None)
    unknown = set(changes) - set(current) - {"mapping", "confirmed"}
    if unknown:
        raise ValidationError({name: ["Unknown setting."] for name in sorted(unknown)})
    data = {**current, **{k: v for k, v in changes.items() if k in current}}
    return {k: v for k, v in data.items() if v is not None}


def _mapping_data(rows) -> dict:
    """The console formset's data for the mapping, with the requested rows changed."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValidationError({"mapping": ["A list of {activity, label, responded} objects."]})
    stored = {m.activity: m for m in MemberStatusMapping.load()}
    activities = [row.get("activity") for row in rows]
    if len(activities) != len(set(activities)):
        raise ValidationError({"mapping": ["Each activity can be mapped only once."]})
    if unknown := [a for a in activities if a not in stored]:
        raise ValidationError({"mapping": [f"Unknown activity: {a}" for a in unknown]})
    changes = {row["activity"]: row for row in rows}
    data = {"form-TOTAL_FORMS": len(stored), "form-INITIAL_FORMS": len(stored)}
    for i, mapping in enumerate(stored.values()):
        row = changes.get(mapping.activity, {})
        data[f"form-{i}-id"] = mapping.pk
        data[f"form-{i}-label"] = row.get("label", mapping.label)
        data[f"form-{i}-responded"] = bool(row.get("responded", mapping.responded))
    return data


def _errors(form, formset=None) -> dict:
    errors = {name: list(messages) for name, messages in form.errors.items()}
    if "__all__" in errors:
        errors["non_field_errors"] = errors.pop("__all__")
    if formset is not None:
        if formset.non_form_errors():
            errors["mapping"] = list(formset.non_form_errors())
        for sub in formset.forms:
            for name, messages in sub.errors.items():
                errors.setdefault("mapping", []).extend(
                    f"{sub.instance.activity}: {name}: {m}" for m in messages
                )
    return errors


class SettingsView(APIView):
    form_class: type[SettingsForm]
    permissions: dict

    @property
    def model(self):
        return self.form_class._meta.model

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """The settings, one key per console field, with an ETag header."""
        return with_etag(represent(self.form_class, self.model.get_solo()))

    @extend_schema(
        parameters=[IF_MATCH],
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiTypes.OBJECT,
            412: error_response(PreconditionFailed.default_detail),
            428: error_response(PreconditionRequired.default_detail),
        },
    )
    def patch(self, request):
        """Change some settings; validated exactly as the console's form validates them.

        As in the console, switching ``show_tabs`` also adds or removes cmsync's tabs in
        Salesforce when the caller may manage Salesforce components and Salesforce is
        reachable; otherwise the next Install of the components does it."""
        instance = self.model.get_solo()
        check_if_match(request, represent(self.form_class, instance))
        changes = request.data
        if not isinstance(changes, dict):
            raise ValidationError({"non_field_errors": ["Send the changes as a JSON object."]})
        form = self.form_class(_form_data(self.form_class, instance, changes), instance=instance)
        formset = None
        if self.form_class is CampaignSettingsForm and "mapping" in changes:
            formset = MemberStatusMappingFormSet(
                _mapping_data(changes["mapping"]), queryset=MemberStatusMapping.load()
            )
        if not form.is_valid() or (formset is not None and not formset.is_valid()):
            raise ValidationError(_errors(form, formset))
        risky = form.risky_changes()
        if risky and changes.get("confirmed") is not True:
            raise ValidationError(
                {"confirmed": [f'Confirm with "confirmed": true. {w}' for w in risky]}
            )
        with transaction.atomic():
            form.save()
            if formset is not None:
                formset.save()
        form.follow_ups(request.user)  # as the console does; audited, shown in Maintenance
        return with_etag(represent(self.form_class, self.model.get_solo()))


def _perms(model_name: str) -> dict:
    return {
        "GET": f"settings_app.view_{model_name}",
        "PATCH": f"settings_app.change_{model_name}",
    }


class SyncSettingsView(SettingsView):
    form_class = SyncSettingsForm
    permissions = _perms("syncsettings")


class GeneralSettingsView(SettingsView):
    form_class = GeneralSettingsForm
    permissions = _perms("generalsettings")


class CampaignSettingsView(SettingsView):
    form_class = CampaignSettingsForm
    permissions = _perms("campaignsettings")
