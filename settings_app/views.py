from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse

from cmsync import answers
from cmsync.access import require_perm
from sync import preview

from . import pending
from .forms import (
    CampaignSettingsForm,
    GeneralSettingsForm,
    MemberStatusMappingFormSet,
    SettingsForm,
    SyncSettingsForm,
)
from .models import MemberStatusMapping

PREVIEW = "sync.add_syncrun"  # starting a preview: as starting a sync


@dataclass(frozen=True)
class Section:
    """A settings page: its form, URL name, the card its answers open at, its title."""

    form_class: type[SettingsForm]
    url: str
    anchor: str
    title: str
    with_mapping: bool = False


SECTIONS = {
    "sync": Section(SyncSettingsForm, "sync", "sync-settings", "sync settings"),
    "general": Section(GeneralSettingsForm, "general", "settings-form", "general options"),
    "campaigns": Section(
        CampaignSettingsForm, "campaigns", "settings-form", "campaign settings", with_mapping=True
    ),
}


def _section_of(form_class) -> str:
    return next(name for name, s in SECTIONS.items() if s.form_class is form_class)


def _forms(section: Section, data) -> tuple:
    """The section's form (and mapping formset) bound to ``data`` over what is stored."""
    form = section.form_class(data, instance=section.form_class._meta.model.get_solo())
    formset = (
        MemberStatusMappingFormSet(data, queryset=MemberStatusMapping.load())
        if section.with_mapping
        else None
    )
    return form, formset


def _valid(form, formset) -> bool:
    return form.is_valid() and (formset is None or formset.is_valid())


def _save(request: HttpRequest, form, formset, anchor: str) -> None:
    """Save a valid, confirmed change and say so (with what it did outside cmsync)."""
    with transaction.atomic():
        form.save()
        if formset is not None:
            formset.save()
    answers.success(request, f"{form.instance} saved.", anchor)
    for change in form.follow_ups(request.user):
        (answers.success if change.done else answers.warning)(request, change.message, anchor)


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

    Nothing is saved unless every form on the page is valid and every change that needs a
    yes (``SettingsForm.confirmations``) is confirmed on its confirmation page
    (``confirm_settings``); django-auditlog records each changed field. Every other answer
    (saved, errors) shows inside the form's card, and the page opens there (``anchor``).
    """
    model_name = form_class._meta.model._meta.model_name
    require_perm(request, f"settings_app.view_{model_name}")
    can_change = request.user.has_perm(f"settings_app.change_{model_name}")
    data = None
    if request.method == "POST":
        require_perm(request, f"settings_app.change_{model_name}")
        data = request.POST
    section = SECTIONS[_section_of(form_class)]
    form, formset = _forms(section, data)

    if data is not None and _valid(form, formset):
        if not data.get("confirmed") and form.confirmations(formset):
            change_id = pending.stash(request, _section_of(form_class), form_class, data)
            return redirect("settings-confirm", change_id=change_id)
        _save(request, form, formset, anchor)
        return answers.redirect_to(anchor, request.path)

    context = {
        "form": form,
        "formset": formset,
        "can_change": can_change,
        "anchor": anchor,
    }
    context.update(extra_context or {})
    return render(request, template, context)


@login_required
def confirm_settings(request: HttpRequest, change_id: str) -> HttpResponse:
    """A settings change that needs a yes: GET says what it will do (to Salesforce, in
    plain words) and changes nothing; POST saves it, or with ``preview`` starts a preview
    of it (sync/preview.py) whose page leads back here. Only the session that made the
    change sees it; a change made against settings changed since is refused."""
    change = pending.get(request, change_id)
    if change is None:
        answers.info(
            request,
            "That change is no longer waiting for confirmation (it was saved, replaced or "
            "refused). Nothing more was saved.",
            "sync-settings",
        )
        return answers.redirect_to("sync-settings", "sync")
    section = SECTIONS[change["section"]]
    model_name = section.form_class._meta.model._meta.model_name
    require_perm(request, f"settings_app.change_{model_name}")
    form, formset = _forms(section, pending.data_of(change))
    back = f"{reverse(section.url)}#{section.anchor}"
    if change["version"] != pending.version(section.form_class) or not _valid(form, formset):
        pending.drop(request, change_id)
        answers.error(
            request,
            f"The {section.title} were changed after you pressed Save, so your change was "
            "not saved. Make it again on the current settings.",
            section.anchor,
        )
        return HttpResponseRedirect(back)
    proposed = preview.proposed_from(form, formset)
    can_preview = bool(proposed) and request.user.has_perm(PREVIEW)
    if request.method == "POST" and request.POST.get("preview"):
        if not can_preview:
            require_perm(request, PREVIEW)
            answers.error(request, "This change has no effect a preview can show.", "confirm")
            return redirect("settings-confirm", change_id=change_id)
        from sync.views import request_preview  # sync's views build on these pages

        queued = request_preview(request, proposed, anchor="confirm")
        if queued is None:
            return redirect("settings-confirm", change_id=change_id)
        run, created = queued
        if not created:  # another preview, of other values: this one waits for it
            answers.info(
                request,
                f"Another preview is {run.get_status_display().lower()} (run {run.pk}); "
                "Preview the effect can start when it has finished.",
                "confirm",
            )
            return redirect("settings-confirm", change_id=change_id)
        pending.link_preview(request, change_id, run.pk)
        return redirect("sync-run", run_id=run.pk)
    if request.method == "POST":
        _save(request, form, formset, section.anchor)
        pending.drop(request, change_id)
        return HttpResponseRedirect(back)
    context = {
        "title": section.title,
        "confirm": form.confirmations(formset),
        "can_preview": can_preview,
        "cancel_url": back,
        "preview_run": change.get("run"),
    }
    return render(request, "settings_app/confirm.html", context)


@login_required
def general_settings(request: HttpRequest) -> HttpResponse:
    return settings_page(request, GeneralSettingsForm, "settings_app/general.html")


@login_required
def campaign_settings(request: HttpRequest) -> HttpResponse:
    return settings_page(
        request, CampaignSettingsForm, "settings_app/campaigns.html", with_mapping=True
    )
