from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from campaign_monitor.lists import CHANGE_LISTS, VIEW_LISTS, list_rows
from campaign_monitor.models import Connection
from cmsync import answers
from cmsync.access import require_perm
from maintenance.audit import record_action
from maintenance.export import csv_response
from salesforce.connection import sync_user_status
from salesforce.models import SalesforceSettings
from salesforce.views import salesforce_context
from security.access import visible_connected_clients
from settings_app import pending
from settings_app.forms import SyncSettingsForm
from settings_app.models import TRACKING_TYPES, CampaignSettings, GeneralSettings, SyncSettings
from settings_app.views import SECTIONS, settings_page

from . import cm_events, inbox, outbound, preview, progress, runner, webhooks
from .api import RunSerializer
from .context import COUNTERS
from .forms import ListOptionsForm
from .models import ChangeWatch, ListWebhook, ScheduleState, SyncRun, WebhookWatch
from .schedule import next_run
from .step_titles import CHANGE_STEPS, CM_EVENT_STEPS, STEPS, step_title  # noqa: F401

VIEW = "sync.view_syncrun"
RUN = "sync.add_syncrun"
ENDPOINT = "salesforce.change_salesforcesettings"
CHANGES_SHOWN = 200  # of a "Salesforce changes" run, on its page


def count_rows(run: SyncRun | None) -> list[dict]:
    """One row per step, in order, with the run's counts (zeros for steps not reached)."""
    if run is None:
        return []
    by_kind: dict[str, list[tuple[str, str]]] = {
        SyncRun.Kind.CHANGES: CHANGE_STEPS,
        SyncRun.Kind.CM_EVENTS: CM_EVENT_STEPS,
    }
    steps = by_kind.get(run.kind, STEPS)
    return [
        {
            "key": key,
            "title": title,
            "current": run.step == key,
            **{name: run.counts.get(key, {}).get(name, 0) for name in (*COUNTERS, "skipped")},
        }
        for key, title in steps
    ]


def sync_context(request: HttpRequest) -> dict:
    """The Sync tab's run section: last run, the active one, the next scheduled one."""
    if not request.user.has_perm(VIEW):
        return {}
    runs = SyncRun.objects.filter(kind=SyncRun.Kind.PRIMARY)
    active = runs.filter(active=True).first()
    last = runs.exclude(status__in=SyncRun.ACTIVE).first()
    blocked = runner.not_ready_reason()
    scheduled = ScheduleState.get_solo().next_run_at or next_run(
        SyncSettings.get_solo(), timezone.now()
    )
    return {
        **change_detection(request),
        **campaign_monitor_changes(),
        "can_view_runs": True,
        "can_sync_now": request.user.has_perm(RUN),
        "first_sync": first_sync(),
        "sync_blocked": blocked,
        "sync_blocked_help": blocked_help(blocked, request.user),
        "active_run": active,
        "active_rows": count_rows(active),
        "active_estimate": estimate(active),
        "last_run": last,
        "last_rows": count_rows(last),
        # Nothing is scheduled while a side is disconnected (dispatch.reschedule agrees).
        "next_run_at": None if blocked else scheduled,
    }


def blocked_help(blocked: str, user) -> dict:
    """What to do first when the sync cannot run, said next to the disabled Sync now: the fix,
    one short sentence why, and a link to the card where it is fixed (when this user sees that
    card). The run's own error keeps the full reason (runner.ensure_ready)."""
    if not blocked:
        return {}
    if blocked == runner.CM_NOT_CONNECTED:
        return _help(
            "Connect Campaign Monitor first.",
            "",
            "#campaign-monitor" if user.has_perm("campaign_monitor.view_connection") else "",
            "Connect it in the Campaign Monitor card",
        )
    if blocked.startswith("No Campaign Monitor client"):
        return _help(
            "Choose a Campaign Monitor client first.",
            "No client's lists are synced yet.",
            reverse("cm-clients") if user.has_perm("campaign_monitor.change_connection") else "",
            "Choose clients",
        )
    link = "#sf-sync-user" if user.has_perm("salesforce.view_salesforcesettings") else ""
    status = sync_user_status()
    if status.user is None:
        return _help(
            "Set the Salesforce sync user first.",
            "The sync writes to Salesforce as that person.",
            link,
            "Set it in the Salesforce card",
        )
    if status.connection is not None and status.connection.revoked_at:
        return _help(
            "Connect Salesforce again first.",
            f"Salesforce no longer accepts the connection of the sync user, {status.user}.",
            link,
            "Connect again or choose another sync user in the Salesforce card",
        )
    return _help(
        "Connect Salesforce first.",
        f"The sync user, {status.user}, has no Salesforce connection.",
        link,
        "Connect it or choose another sync user in the Salesforce card",
    )


def _help(fix: str, why: str, url: str, link: str) -> dict:
    return {"fix": fix, "why": why, "url": url, "link": link if url else ""}


def estimate(run: SyncRun | None) -> str:
    """ "About 3 minutes left, based on the last run (run 12)." for a running primary
    sync with a finished one before it; "" otherwise."""
    if run is None or run.kind != SyncRun.Kind.PRIMARY or run.status != SyncRun.Status.RUNNING:
        return ""
    previous = progress.previous_run(run)
    left = progress.remaining(run, previous, [key for key, _ in STEPS])
    return progress.describe(left, previous)


def change_detection(request: HttpRequest) -> dict:
    """The Sync tab's "Reacting to Salesforce changes" panel."""
    secret = SalesforceSettings.get_solo().outbound_secret or ""
    last = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES).first()
    return {
        "watch": ChangeWatch.get_solo(),
        "general": GeneralSettings.get_solo(),
        "poll_minutes": SyncSettings.get_solo().change_poll_minutes,
        "changes_pending": inbox.pending(),
        "last_changes_run": last,
        "outbound_hint": f"…{secret[-4:]}" if secret else "",
        "can_manage_endpoint": request.user.has_perm(ENDPOINT),
    }


def campaign_monitor_changes() -> dict:
    """The Sync tab's "Campaign Monitor changes" panel: the setting, each list's webhook,
    the last event received, the last run."""
    return {
        "cm_webhooks_on": SyncSettings.get_solo().cm_webhooks,
        "cm_webhooks_unreachable": webhooks.unreachable_reason(),
        "list_webhooks": ListWebhook.objects.all(),
        "webhook_watch": WebhookWatch.get_solo(),
        "cm_events_pending": cm_events.pending(),
        "last_cm_events_run": SyncRun.objects.filter(kind=SyncRun.Kind.CM_EVENTS).first(),
    }


@login_required
def outbound_endpoint(request: HttpRequest) -> HttpResponse:
    """Generate the Outbound Message endpoint's secret; its URL is shown this once.

    Replacing an endpoint revokes the old URL, so that asks first (GET), like every
    destructive action; the first one has nothing to replace and is made at once (POST)."""
    require_perm(request, ENDPOINT)
    current = SalesforceSettings.get_solo().outbound_secret or ""
    if request.method != "POST":
        if not current:
            return answers.redirect_to("changes", "sync")
        context = {
            "hint": f"…{current[-4:]}",
            "last_received": ChangeWatch.get_solo().last_outbound_at,
            "cancel_url": f"{reverse('sync')}#changes",
        }
        return render(request, "sync/outbound_replace.html", context)
    secret = outbound.new_secret()
    url = request.build_absolute_uri(reverse("sync-outbound", args=[secret]))
    record_action(
        SalesforceSettings.get_solo(), "sync", "New Outbound Message endpoint URL generated"
    )
    answers.success(
        request,
        f"Outbound Message endpoint: {url} — copy it into the Outbound Message in Salesforce "
        "now; it is not shown again (generate a new one if it is lost).",
        "changes",
    )
    return answers.redirect_to("changes", "sync")


@csrf_exempt
@require_POST
def outbound_message(request: HttpRequest, secret: str) -> HttpResponse:
    """Salesforce posts Outbound Messages here; no session, the URL's secret is the key."""
    if not outbound.secret_matches(secret):
        return HttpResponse("Unknown endpoint.", status=403, content_type="text/plain")
    try:
        outbound.handle(request.body)
    except outbound.Refused as exc:
        return HttpResponse(exc.fault(), status=exc.status, content_type="text/xml; charset=utf-8")
    return HttpResponse(outbound.ACK, content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_POST
def cm_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    """Campaign Monitor posts list webhook batches here; no session, the URL's secret is the
    key. Stored, then 200 at once; refused with nothing stored."""
    try:
        new = webhooks.handle(secret, request.body)
    except webhooks.Refused as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
    return JsonResponse({"received": new})


def first_sync() -> bool:
    """No primary sync has finished with its writes yet (a new connection): the first one
    reads everything and writes to Salesforce, so Sync now asks first."""
    done = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)
    return not SyncRun.objects.filter(kind=SyncRun.Kind.PRIMARY, status__in=done).exists()


def first_sync_effects() -> list[str]:
    """What the first sync writes to Salesforce with the saved settings, in plain words."""
    general = GeneralSettings.get_solo()
    sync = SyncSettings.get_solo()
    campaigns = CampaignSettings.get_solo()
    found = []
    if general.sync_email_opt_out:
        found.append(
            "Ticks 'Email Opt Out' on every contact and lead whose email is unsubscribed from "
            "all of its Campaign Monitor lists, and clears it where the email is active on at "
            "least one list."
        )
    found.append(
        "Creates a subscriber list record for each connected list and a list membership for "
        "each subscriber found as a contact or lead (except on lists with Prevent member sync)."
    )
    if sync.tracking_types:
        names = dict(TRACKING_TYPES)
        types = ", ".join(names[code].lower() for code in sync.tracking_types)
        found.append(
            f"Imports the email tracking ({types}) of campaigns sent in the last "
            f"{sync.days_to_keep} days as email tracking records."
        )
    if campaigns.auto_create_campaigns:
        found.append(
            "Creates a Salesforce campaign for each campaign sent since auto-create was "
            "switched on."
        )
    if campaigns.update_statistics:
        found.append("Copies each linked campaign's statistics onto its Salesforce campaign.")
    if campaigns.member_status_mode != CampaignSettings.MemberStatusMode.NEVER:
        found.append(
            "Adds people with activity to linked campaigns and sets their member status "
            f"(member status update “{campaigns.get_member_status_mode_display()}”)."
        )
    return found


@login_required
def sync_now(request: HttpRequest) -> HttpResponse:
    """Sync now (POST). The first sync on a new connection asks first (GET, from the tab's
    button), saying what it will write to Salesforce and offering Preview beside it."""
    require_perm(request, RUN)
    if request.method != "POST":
        blocked = runner.not_ready_reason()
        if blocked:
            answers.error(request, blocked, "primary-sync")
        if blocked or not first_sync():
            return answers.redirect_to("primary-sync", "sync")
        context = {
            "effects": first_sync_effects(),
            "cancel_url": f"{reverse('sync')}#primary-sync",
        }
        return render(request, "sync/first_sync.html", context)
    try:
        runner.ensure_ready()
        run, created = runner.request_run(SyncRun.Trigger.MANUAL, user=request.user)
    except runner.SyncUnavailable as exc:
        answers.error(request, str(exc), "primary-sync")
        return answers.redirect_to("primary-sync", "sync")
    except runner.BrokerUnavailable as exc:
        record_action(exc.run, "sync", f"Sync now (run {exc.run.pk}, queued: broker unreachable)")
        answers.error(request, str(exc), "primary-sync")
        return answers.redirect_to("primary-sync", "sync")
    if created:
        record_action(run, "sync", f"Sync now (run {run.pk})")
        messages.success(request, "Sync started. It runs in the background; progress shows here.")
    else:
        messages.info(request, f"A sync is already {run.get_status_display().lower()}.")
    return redirect("sync-run", run_id=run.pk)


@login_required
@require_POST
def sync_preview(request: HttpRequest) -> HttpResponse:
    """Preview: the primary sync's reading and deciding, nothing written (sync/preview.py)."""
    require_perm(request, RUN)
    return start_preview(request, {})


def start_preview(request: HttpRequest, proposed: dict) -> HttpResponse:
    """Queue a preview (with ``proposed`` settings, if any) and show its page; the one that
    is already queued or running is shown instead."""
    queued = request_preview(request, proposed, anchor="primary-sync")
    if queued is None:
        return answers.redirect_to("primary-sync", "sync")
    run, created = queued
    if not created:
        messages.info(request, f"A preview is already {run.get_status_display().lower()}.")
    return redirect("sync-run", run_id=run.pk)


def request_preview(
    request: HttpRequest, proposed: dict, *, anchor: str
) -> tuple[SyncRun, bool] | None:
    """Queue a preview with ``proposed`` settings (audited, "Preview started" said): the run
    and whether it is new (False: the preview already queued or running). None when it
    cannot run, with the reason placed at ``anchor``."""
    try:
        runner.ensure_ready()
        run, created = runner.request_run(
            SyncRun.Trigger.MANUAL, user=request.user, kind=SyncRun.Kind.PREVIEW, proposed=proposed
        )
    except (runner.SyncUnavailable, runner.BrokerUnavailable) as exc:
        answers.error(request, str(exc), anchor)
        return None
    if created:
        record_action(run, "sync", f"Preview (run {run.pk})")
        messages.success(
            request, "Preview started. Nothing is written; what it would change shows here."
        )
    return run, created


@login_required
def run_changes_csv(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    """Every change a preview would make, as CSV (streamed)."""
    require_perm(request, VIEW)
    run = get_object_or_404(SyncRun, pk=run_id, kind=SyncRun.Kind.PREVIEW)
    return csv_response(f"cmsync-preview-{run.pk}.csv", preview.CSV_HEADER, preview.csv_rows(run))


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    require_perm(request, VIEW)
    run = get_object_or_404(SyncRun, pk=run_id)
    context = {
        "run": run,
        "rows": count_rows(run),
        "run_messages": run.messages.visible_to(request.user)[:50],
        "can_cancel": run.is_active and request.user.has_perm(RUN),
        "estimate": estimate(run),
    }
    if run.kind == SyncRun.Kind.CHANGES:
        total = run.changes.count()
        context.update(
            run_changes=run.changes.all()[:CHANGES_SHOWN],
            changes_total=total,
            changes_more=total > CHANGES_SHOWN,
        )
    if run.kind == SyncRun.Kind.PREVIEW:
        context.update(
            proposed=preview.describe_proposed(run.proposed),
            preview_entries=[] if run.is_active else preview.summary(run),
            preview_samples=preview.SAMPLES,
            **waiting_change(request, run),
        )
    if run.kind == SyncRun.Kind.CM_EVENTS:
        total = run.cm_events.count()
        context.update(
            run_events=run.cm_events.all()[:CHANGES_SHOWN],
            events_total=total,
            events_more=total > CHANGES_SHOWN,
        )
    return render(request, "sync/run.html", context)


def waiting_change(request: HttpRequest, run: SyncRun) -> dict:
    """The unsaved settings change this preview shows, when this session made it: the way
    back to save it (its confirmation page) or cancel it (its settings page)."""
    change_id = pending.for_run(request, run.pk)
    change = pending.get(request, change_id) if change_id else None
    if change is None:
        return {}
    section = SECTIONS[change["section"]]
    return {
        "pending_change": change_id,
        "pending_cancel": f"{reverse(section.url)}#{section.anchor}",
    }


@login_required
def run_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    require_perm(request, VIEW)
    run = get_object_or_404(SyncRun, pk=run_id)
    data = dict(RunSerializer(run, context={"request": request}).data)
    data["estimate"] = estimate(run)  # the console's extra: "" when there is no basis
    data["cancel_note"] = cancel_note(run)
    data["started_display"] = started_display(run)
    return JsonResponse(data)


def started_display(run: SyncRun) -> str:
    """When a worker took the run, as the run summary shows it; until then, the wait."""
    if run.started_at is None:
        return "waiting for a worker"
    return date_format(timezone.localtime(run.started_at), "j M Y, H:i:s")


def cancel_note(run: SyncRun) -> str:
    """Who cancelled the run, and whether it has stopped yet, for the run page."""
    if not (run.cancel_requested or run.status == SyncRun.Status.CANCELLED):
        return ""
    who = run.cancelled_by.get_username() if run.cancelled_by else ""
    if run.status == SyncRun.Status.CANCELLED:
        return f"Cancelled by {who}." if who else ""
    return f"Cancel requested{f' by {who}' if who else ''}: it stops at the next safe point."


@login_required
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    """Cancel a queued or running sync: asks first (GET), cancels (POST), audited. A running
    run stops at its next safe point; the run page says who cancelled it."""
    require_perm(request, RUN)
    run = get_object_or_404(SyncRun, pk=run_id)
    if not run.is_active:
        answers.info(request, f"This run is already {run.get_status_display().lower()}.", "run")
        return answers.redirect_to("run", "sync-run", run_id=run.pk)
    if request.method == "POST":
        runner.cancel(run, user=request.user)
        record_action(run, "sync", f"Sync run {run.pk} cancelled")
        run.refresh_from_db()
        answers.success(request, cancel_note(run) or "Cancelled.", "run")
        return answers.redirect_to("run", "sync-run", run_id=run.pk)
    context = {"run": run, "cancel_url": reverse("sync-run", args=[run.pk])}
    return render(request, "sync/cancel.html", context)


@login_required
def run_history(request: HttpRequest) -> HttpResponse:
    require_perm(request, VIEW)
    runs = SyncRun.objects.select_related("requested_by")
    kind = request.GET.get("kind", "")
    if kind in SyncRun.Kind.values:
        runs = runs.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    context = {"page": page, "kind": kind, "kinds": SyncRun.Kind.choices}
    return render(request, "sync/history.html", context)


@login_required
def sync_tab(request: HttpRequest) -> HttpResponse:
    """The Sync tab: both connections, the sync settings, the last run and Sync now."""
    connections = {
        "connection": Connection.current(),
        "can_manage_connection": request.user.has_perm("campaign_monitor.change_connection"),
        "can_view_connection": request.user.has_perm("campaign_monitor.view_connection"),
        **salesforce_context(request),
        **sync_context(request),
    }
    return settings_page(
        request,
        SyncSettingsForm,
        "sync/tab.html",
        extra_context=connections,
        anchor="sync-settings",
    )


LISTS_FORM = "settings-form"  # the list options form: its answers open there


@login_required
def list_options(request: HttpRequest) -> HttpResponse:
    """The connected clients' lists (those the user may see), each with "Prevent member
    sync": no List Membership records in Salesforce for that list while it is on."""
    require_perm(request, VIEW_LISTS)
    data = None
    if request.method == "POST":
        require_perm(request, CHANGE_LISTS)
        data = request.POST
    rows = list_rows(visible_connected_clients(request.user))
    form = ListOptionsForm(data, rows=rows)
    if data is not None and form.is_valid():
        changed = form.save()
        if changed:
            names = ", ".join(row.name for row in changed)
            answers.success(request, f"List options saved: {names}.", LISTS_FORM)
        else:
            answers.info(request, "Nothing was changed.", LISTS_FORM)
        return answers.redirect_to(LISTS_FORM, "sync-lists")
    context = {
        "anchor": LISTS_FORM,
        "form": form,
        "rows": list(zip(rows, form["prevent_member_sync"], strict=True)),
        "can_change": request.user.has_perm(CHANGE_LISTS),
    }
    return render(request, "sync/lists.html", context)
