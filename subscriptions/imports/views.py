"""The import wizard: a page per subscriber list (Standard role and up), one step a page.

source → people (campaign or conditions) → mapping → options → preview (start or schedule)
→ result. The steps edit one draft ImportJob; once started it is read-only.
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from campaign_monitor import errors as cm_errors
from cmsync import answers
from cmsync.access import require_perm, signed_in_user
from salesforce import errors as sf_errors
from salesforce.gateway import memo_describe
from security.access import visible_connected_clients
from settings_app import gates
from settings_app.models import GeneralSettings

from .. import criteria
from ..fields.mappings import to_cm_mappings
from ..models import ImportFailure, ImportJob
from . import work
from .forms import (
    JOURNEYS_WARNING,
    CampaignForm,
    ConditionsForm,
    MappingForm,
    OptionsForm,
    SourceForm,
)

VIEW = "subscriptions.view_importjob"
ADD = "subscriptions.add_importjob"
CHANGE = "subscriptions.change_importjob"
STEPS = [
    ("source", "Source"),
    ("people", "People"),
    ("mapping", "Mapping"),
    ("options", "Options"),
    ("preview", "Preview"),
]
FAILURES_PER_PAGE = 100
# Where answers open: the step's form, and the result page's status card.
STEP, RESULT = "import-step", "import-result"
SF_PROBLEMS = (work.ImportUnavailable, sf_errors.SalesforceError, cm_errors.CampaignMonitorError)


def _list_or_404(request: HttpRequest, list_id: str) -> tuple:
    """The visible connected client holding the list, and the list; 404 for anyone else's."""
    try:
        return work.list_of(list_id, visible_connected_clients(request.user))
    except work.ImportUnavailable:
        raise Http404("No such list") from None


def _job_or_404(request: HttpRequest, list_id: str, job_id: int) -> tuple:
    client, found = _list_or_404(request, list_id)
    job = get_object_or_404(ImportJob, pk=job_id, list_id=list_id, client_id=client.client_id)
    return client, found, job


def _draft_or_result(request, list_id, job_id):
    """A draft to edit (add permission), or a redirect to the result of a started one."""
    require_perm(request, ADD)
    client, found, job = _job_or_404(request, list_id, job_id)
    if not job.is_draft:
        return client, found, job, redirect("subscriptions-import-result", list_id, job.pk)
    return client, found, job, None


def _context(found: dict, job: ImportJob | None, step: str, **extra) -> dict:
    """The page's context with the step bar: steps already reached are links."""
    done = {"source", "people"} if job else set()
    if job and (job.campaign_id or job.source != ImportJob.Source.CAMPAIGN):
        done.add("mapping")
    if job and job.mapping:
        done |= {"options", "preview"}
    return {
        "list": found,
        "list_id": found["ListID"],
        "job": job,
        "steps": [
            {
                "url_name": f"subscriptions-import-{key}",
                "title": title,
                "current": key == step,
                "open": key in done,
            }
            for key, title in STEPS
        ],
        **extra,
    }


def _fields_url(list_id: str) -> str:
    try:
        return reverse("subscriptions-fields", kwargs={"list_id": list_id})
    except NoReverseMatch:
        return ""


# -- start and step 1: the source -------------------------------------------------------------


@login_required
def import_start(request: HttpRequest, list_id: str) -> HttpResponse:
    """The wizard's first page: choose the source. Without the Standard role, the list's past
    imports only."""
    require_perm(request, VIEW)
    client, found = _list_or_404(request, list_id)
    can_import = request.user.has_perm(ADD)
    form = SourceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require_perm(request, ADD)
        if form.is_valid():
            job = ImportJob.objects.create(
                list_id=list_id,
                client_id=client.client_id,
                created_by=signed_in_user(request),
                source=form.cleaned_data["source"],
            )
            return redirect("subscriptions-import-people", list_id, job.pk)
    recent = ImportJob.objects.filter(list_id=list_id).exclude(status=ImportJob.Status.DRAFT)
    context = _context(found, None, "source", form=form, can_import=can_import)
    context["recent"] = recent[:5]
    return render(request, "subscriptions/import_source.html", context)


@login_required
def import_source(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    client, found, job, done = _draft_or_result(request, list_id, job_id)
    if done:
        return done
    form = SourceForm(request.POST or None, initial={"source": job.source})
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["source"] != job.source:
            job.source = form.cleaned_data["source"]
            job.conditions, job.logic, job.campaign_id, job.member_statuses = [], "", "", []
            job.save()
        return redirect("subscriptions-import-people", list_id, job.pk)
    context = _context(found, job, "source", form=form, can_import=True)
    return render(request, "subscriptions/import_source.html", context)


# -- step 2: which people ---------------------------------------------------------------------


@login_required
def import_people(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    client, found, job, done = _draft_or_result(request, list_id, job_id)
    if done:
        return done
    context = _context(found, job, "people")
    try:
        gateway = work.salesforce_for(request.user)
        if job.source == ImportJob.Source.CAMPAIGN:
            return _campaign_step(request, job, gateway, context)
        return _conditions_step(request, job, gateway, context)
    except SF_PROBLEMS as exc:
        context["problem"] = str(exc)
        return render(request, "subscriptions/import_people.html", context)


def _campaign_step(request, job, gateway, context) -> HttpResponse:
    campaigns = gateway.campaign_names()
    by_campaign = gateway.member_statuses([c["Id"] for c in campaigns])
    statuses = {cid: [row["Label"] for row in rows] for cid, rows in by_campaign.items()}
    initial = {"campaign": job.campaign_id, "member_statuses": job.member_statuses}
    form = CampaignForm(
        request.POST or None, initial=initial, campaigns=campaigns, statuses=statuses
    )
    if request.method == "POST" and form.is_valid():
        job.campaign_id = form.cleaned_data["campaign"]
        job.campaign_name = form.names[job.campaign_id][:255]
        job.member_statuses = form.cleaned_data["member_statuses"]
        job.save()
        return redirect("subscriptions-import-mapping", job.list_id, job.pk)
    context |= {"form": form, "kind": "campaign"}
    return render(request, "subscriptions/import_people.html", context)


def _conditions_step(request, job, gateway, context) -> HttpResponse:
    describe = memo_describe(gateway)
    rows = max(len(job.conditions) + 2, 5)
    form = ConditionsForm(
        request.POST or None,
        initial=ConditionsForm.initial_for(job),
        describe=describe,
        sobject=job.sobject,
        rows=rows,
    )
    if request.method == "POST" and form.is_valid():
        job.conditions = form.cleaned_data["conditions"]
        job.logic = form.cleaned_data["logic"]
        job.save()
        return redirect("subscriptions-import-mapping", job.list_id, job.pk)
    context |= {"form": form, "kind": "conditions", "sobject": job.sobject}
    return render(request, "subscriptions/import_people.html", context)


# -- step 3: mapping --------------------------------------------------------------------------


@login_required
def import_mapping(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    client, found, job, done = _draft_or_result(request, list_id, job_id)
    if done:
        return done
    mappings = to_cm_mappings(list_id)
    sobjects = work.job_sobjects(job)
    context = _context(found, job, "mapping", fields_url=_fields_url(list_id))
    describes = {}
    if mappings:
        try:  # the list's field mappings page reads the same describes
            gateway = work.salesforce_for(request.user)
            describes = {sobject: gateway.describe(sobject) for sobject in sobjects}
        except SF_PROBLEMS as exc:
            context["problem"] = str(exc)
            return render(request, "subscriptions/import_mapping.html", context)
    form = MappingForm(
        request.POST or None,
        initial=MappingForm.initial_for(job, mappings, sobjects),
        mappings=mappings,
        describes=describes,
    )
    if request.method == "POST" and form.is_valid():
        job.mapping = {**job.mapping, **form.cleaned_data}
        job.save()
        return redirect("subscriptions-import-options", list_id, job.pk)
    context |= {"form": form, "sobjects": [d.label or s for s, d in describes.items()]}
    return render(request, "subscriptions/import_mapping.html", context)


# -- step 4: options --------------------------------------------------------------------------


@login_required
def import_options(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    client, found, job, done = _draft_or_result(request, list_id, job_id)
    if done:
        return done
    general = GeneralSettings.get_solo()
    form = OptionsForm(request.POST or None, initial=OptionsForm.initial_for(job), general=general)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job.refresh = data["refresh"]
        job.restart_journeys = bool(data.get("restart_journeys"))
        job.clear_blanks = data["clear_blanks"]
        job.scheduled_for = data["scheduled_for"]
        job.mapping.setdefault("name", "Name")
        job.mapping.setdefault("consent_to_track", "Unchanged")
        job.save()
        return redirect("subscriptions-import-preview", list_id, job.pk)
    context = _context(found, job, "options", form=form, general=general)
    return render(request, "subscriptions/import_options.html", context)


# -- step 5: preview, then start --------------------------------------------------------------


@login_required
def import_preview(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    client, found, job, done = _draft_or_result(request, list_id, job_id)
    if done:
        return done
    if request.method == "POST":
        return _start(request, job)
    context = _context(
        found,
        job,
        "preview",
        source=work.describe_source(job),
        journeys_warning=JOURNEYS_WARNING,
    )
    try:
        context["preview"] = work.preview(
            job, work.salesforce_for(request.user), work.campaign_monitor_for(job)
        )
    except criteria.InvalidCriteria as exc:
        context["problem"] = f"The conditions no longer fit Salesforce: {exc}"
    except SF_PROBLEMS as exc:
        context["problem"] = str(exc)
    return render(request, "subscriptions/import_preview.html", context)


def _start(request: HttpRequest, job: ImportJob) -> HttpResponse:
    """Start or schedule the draft, refusing options the general options no longer allow."""
    refusal = gates.import_refusal(
        GeneralSettings.get_solo(),
        resubscribe=job.refresh == ImportJob.Refresh.RESUBSCRIBE_DELETED,
        journeys=job.restart_journeys,
    )
    if job.scheduled_for and job.scheduled_for <= timezone.now():
        answers.error(request, "The scheduled time has passed: choose another one.", STEP)
        return redirect("subscriptions-import-options", job.list_id, job.pk)
    if refusal:
        answers.error(request, refusal, STEP)
        return redirect("subscriptions-import-options", job.list_id, job.pk)
    if work.start(job, when=job.scheduled_for):
        if job.status == ImportJob.Status.SCHEDULED:
            local = timezone.localtime(job.scheduled_for).strftime("%Y-%m-%d %H:%M")
            answers.success(request, f"Import scheduled for {local}.", RESULT)
        else:
            answers.success(request, "Import started.", RESULT)
    return redirect("subscriptions-import-result", job.list_id, job.pk)


@login_required
def import_discard(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    """Discard a draft: asks first (GET), deletes it (POST). A started import is not a draft:
    it goes to its result."""
    client, found, job, done = _draft_or_result(request, list_id, job_id)
    if done:
        return done
    if request.method != "POST":
        back = reverse("subscriptions-import-source", args=[list_id, job.pk])
        context = {
            "job": job,
            "list": found,
            "source": work.describe_source(job),
            "cancel_url": f"{back}#{STEP}",
        }
        return render(request, "subscriptions/import_discard.html", context)
    job.delete()
    answers.info(request, "Draft import discarded.", STEP)
    return answers.redirect_to(STEP, "subscriptions-import", list_id)


# -- result, history, cancel ------------------------------------------------------------------


@login_required
def import_result(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    require_perm(request, VIEW)
    client, found, job = _job_or_404(request, list_id, job_id)
    if job.is_draft and request.user.has_perm(ADD):
        return redirect("subscriptions-import-preview", list_id, job.pk)
    kind = request.GET.get("kind", "")
    failures = job.failures.all()
    if kind in ImportFailure.Kind.values:
        failures = failures.filter(kind=kind)
    page = Paginator(failures, FAILURES_PER_PAGE).get_page(request.GET.get("page"))
    totals = job.totals or {}
    context = {
        "list": found,
        "list_id": list_id,
        "job": job,
        "source": work.describe_source(job),
        "totals": totals,
        "options": totals.get("options") or work.options_in_force(job),
        "skips": [
            {
                "reason": reason,
                "words": words,
                "count": (totals.get("skipped") or {}).get(reason, 0),
            }
            for reason, words in work.SKIP_REASONS.items()
        ],
        "page": page,
        "kind": kind,
        "kinds": ImportFailure.Kind.choices,
        "can_cancel": job.is_active and request.user.has_perm(CHANGE),
        "journeys_warning": JOURNEYS_WARNING,
    }
    return render(request, "subscriptions/import_result.html", context)


@login_required
def import_history(request: HttpRequest, list_id: str) -> HttpResponse:
    require_perm(request, VIEW)
    client, found = _list_or_404(request, list_id)
    failures = (
        ImportFailure.objects.filter(job=OuterRef("pk"))
        .order_by()
        .values("job")
        .annotate(n=Count("pk"))
        .values("n")
    )
    jobs = ImportJob.objects.filter(list_id=list_id, client_id=client.client_id).annotate(
        not_imported=Coalesce(Subquery(failures), 0)  # in the page's query, not one per row
    )
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    context = {
        "list": found,
        "list_id": list_id,
        "page": page,
        "can_import": request.user.has_perm(ADD),
    }
    return render(request, "subscriptions/import_history.html", context)


@login_required
def import_cancel(request: HttpRequest, list_id: str, job_id: int) -> HttpResponse:
    """Cancel an import: asks first (GET), cancels (POST)."""
    require_perm(request, CHANGE)
    client, found, job = _job_or_404(request, list_id, job_id)
    if request.method != "POST":
        if not job.is_active:
            return redirect("subscriptions-import-result", list_id, job.pk)
        context = {
            "job": job,
            "list": found,
            "cancel_url": reverse("subscriptions-import-result", args=[list_id, job.pk]),
        }
        return render(request, "subscriptions/import_cancel.html", context)
    if work.cancel(job):
        answers.success(request, "Import cancelled.", RESULT)
    else:
        answers.info(request, "This import had already finished.", RESULT)
    return redirect("subscriptions-import-result", list_id, job.pk)
