from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cmsync import answers
from cmsync.access import require_perm
from sync import preview

from .forms import (
    CampaignSettingsForm,
    GeneralSettingsForm,
    MemberStatusMappingFormSet,
)
from .models import MemberStatusMapping

PREVIEW = "sync.add_syncrun"  # starting a preview: as starting a sync


def settings_page(
    request: HttpRequest,
    form_class,
    template: str,
    *,
    with_mapping: bool = False,
    extra_context: dict | None = None,
    anchor: str = "settings-form",
) -> HttpResponse:
    """Show one settings form; on POST validate everything, confirm risky changes, save.

    Nothing is saved unless every form on the page is valid and every risky change is
    confirmed; django-auditlog records each changed field. Every answer (saved, errors,
    please confirm) shows inside the form's card, and the page opens there (``anchor``).
    """
    model_name = form_class._meta.model._meta.model_name
    require_perm(request, f"settings_app.view_{model_name}")
    can_change = request.user.has_perm(f"settings_app.change_{model_name}")
    instance = form_class._meta.model.get_solo()
    data = None
    if request.method == "POST":
        require_perm(request, f"settings_app.change_{model_name}")
        data = request.POST
    form = form_class(data, instance=instance)
    formset = (
        MemberStatusMappingFormSet(data, queryset=MemberStatusMapping.load())
        if with_mapping
        else None
    )

    confirm: list[str] = []
    can_preview = False
    if data is not None and form.is_valid() and (formset is None or formset.is_valid()):
        proposed = preview.proposed_from(form)
        if data.get("preview") and proposed:
            # "Preview the effect" on a confirmation: a preview with these values, unsaved.
            require_perm(request, PREVIEW)
            from sync.views import start_preview  # sync's views build on these pages

            return start_preview(request, proposed)
        confirm = [] if data.get("confirmed") else form.risky_changes()
        can_preview = bool(confirm and proposed and request.user.has_perm(PREVIEW))
        if not confirm:
            with transaction.atomic():
                form.save()
                if formset is not None:
                    formset.save()
            answers.success(request, f"{instance} saved.", anchor)
            for change in form.follow_ups(request.user):
                (answers.success if change.done else answers.warning)(
                    request, change.message, anchor
                )
            return answers.redirect_to(anchor, request.path)

    context = {
        "form": form,
        "formset": formset,
        "can_change": can_change,
        "confirm": confirm,
        "can_preview": can_preview,
        "anchor": anchor,
    }
    context.update(extra_context or {})
    return render(request, template, context)


@login_required
def general_settings(request: HttpRequest) -> HttpResponse:
    return settings_page(request, GeneralSettingsForm, "settings_app/general.html")


@login_required
def campaign_settings(request: HttpRequest) -> HttpResponse:
    return settings_page(
        request, CampaignSettingsForm, "settings_app/campaigns.html", with_mapping=True
    )
