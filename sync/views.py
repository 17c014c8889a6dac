from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cmsync.access import require_perm
from maintenance.audit import record_action
from settings_app.models import SyncSettings

from . import runner
from .api import RunSerializer
from .context import COUNTERS
from .models import ScheduleState, SyncRun
from .schedule import next_run

VIEW = "sync.view_syncrun"
RUN = "sync.add_syncrun"
STEPS = [
    ("retry", "Retried records"),
    ("discover", "Lists"),
    ("subscribers", "Subscribers"),
    ("opt_out", "Email opt-out"),
    ("campaigns", "Campaigns"),
    ("tracking", "Email tracking"),
    ("retention", "Retention"),
]


def count_rows(run: SyncRun | None) -> list[dict]:
    """One row per step, in order, with the run's counts (zeros for steps not reached)."""
    if run is None:
        return []
    return [
        {
            "key": key,
            "title": title,
            "current": run.step == key,
            **{name: run.counts.get(key, {}).get(name, 0) for name in COUNTERS},
        }
        for key, title in STEPS
    ]


def sync_context(request: HttpRequest) -> dict:
    """The Sync tab's run section: last run, the active one, the next scheduled one."""
    if not request.user.has_perm(VIEW):
        return {}
    runs = SyncRun.objects.all()
    active = runs.filter(active=True).first()
    last = runs.exclude(status__in=SyncRun.ACTIVE).first()
    return {
        "can_view_runs": True,
        "can_sync_now": request.user.has_perm(RUN),
        "active_run": active,
        "active_rows": count_rows(active),
        "last_run": last,
        "last_rows": count_rows(last),
        "next_run_at": ScheduleState.get_solo().next_run_at
        or next_run(SyncSettings.get_solo(), timezone.now()),
    }


@login_required
@require_POST
def sync_now(request: HttpRequest) -> HttpResponse:
    require_perm(request, RUN)
    try:
        runner.ensure_ready()
        run, created = runner.request_run(SyncRun.Trigger.MANUAL, user=request.user)
    except runner.SyncUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("sync")
    if created:
        record_action(run, "sync", f"Sync now (run {run.pk})")
        messages.success(request, "Sync started. It runs in the background; progress shows here.")
    else:
        messages.info(request, f"A sync is already {run.get_status_display().lower()}.")
    return redirect("sync-run", run_id=run.pk)


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    require_perm(request, VIEW)
    run = get_object_or_404(SyncRun, pk=run_id)
    context = {"run": run, "rows": count_rows(run), "run_messages": run.messages.all()[:50]}
    return render(request, "sync/run.html", context)


@login_required
def run_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    require_perm(request, VIEW)
    return JsonResponse(RunSerializer(get_object_or_404(SyncRun, pk=run_id)).data)


@login_required
def run_history(request: HttpRequest) -> HttpResponse:
    require_perm(request, VIEW)
    page = Paginator(SyncRun.objects.select_related("requested_by"), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "sync/history.html", {"page": page})
