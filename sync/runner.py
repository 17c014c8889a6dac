"""Starting, claiming and running a primary sync; the schedule's dispatcher.

One primary sync per installation at a time: a unique index on ``SyncRun.active`` refuses a
second queued or running row, and a run is claimed with a conditional update, so a duplicated
or redelivered task is harmless. A run whose worker died (stale heartbeat) is resumed by the
next trigger; its steps are idempotent and its cursors only moved past written data.
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.accounts import update_plan_after_sync
from campaign_monitor import errors as cm_errors
from campaign_monitor.models import Connection
from maintenance import alerts
from salesforce import errors as sf_errors
from salesforce import schema
from salesforce.connection import sync_user_status
from settings_app.models import GeneralSettings, SyncSettings

from . import campaigns, changes, memberships, steps, tracking
from .context import Cancelled, Context
from .models import ScheduleState, SyncRun
from .schedule import installation_tz, next_run

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=5)  # no heartbeat for this long: the worker is gone


class SyncUnavailable(Exception):
    """The sync cannot start: something is not connected. The message says what."""


def _enqueue(run: SyncRun) -> None:
    from .tasks import run_changes, run_primary_sync  # the task module imports this one

    task = run_changes if run.kind == SyncRun.Kind.CHANGES else run_primary_sync
    transaction.on_commit(lambda: task.delay(run.pk))


def request_run(
    trigger: str, *, user=None, full: bool = False, kind: str = SyncRun.Kind.PRIMARY
) -> tuple[SyncRun, bool]:
    """Queue a run of a kind, or return the one of that kind already queued or running
    (False: not new). A running run whose worker died is queued again and resumes.
    """
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(kind=kind, trigger=trigger, full=full, requested_by=user)
            _enqueue(run)
        return run, True
    except IntegrityError:
        run = SyncRun.objects.get(kind=kind, active=True)
    stale = timezone.now() - STALE_AFTER
    if run.status == SyncRun.Status.RUNNING and (run.heartbeat_at or run.created_at) < stale:
        log.warning("Sync run %s lost its worker; resuming it", run.pk)
        _enqueue(run)
    return run, False


def _claim(run_id: int) -> bool:
    now = timezone.now()
    fresh = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED)
    if fresh.update(status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now):
        return True
    # Resume a run whose worker died: only if nobody has touched it for a while.
    lost = SyncRun.objects.filter(
        pk=run_id, status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    return bool(lost.update(heartbeat_at=now))


def ensure_ready() -> tuple[Connection, list, object]:
    """What a run needs, or SyncUnavailable saying plainly what is missing."""
    connection = Connection.current()
    if connection is None:
        raise SyncUnavailable("Campaign Monitor is not connected.")
    clients = list(connection.connected_clients())
    if not clients:
        raise SyncUnavailable("No Campaign Monitor client is connected.")
    status = sync_user_status()
    if status.problem:
        raise SyncUnavailable(status.problem)
    return connection, clients, status.connection


def _context(run: SyncRun) -> Context:
    connection, clients, salesforce = ensure_ready()
    return Context(run=run, cm=connection.api(), sf=salesforce.gateway(), clients=clients)


# What the campaign and tracking steps write to; the list objects have their own check.
CAMPAIGN_OBJECTS = ("Campaign", "CampaignMember", "CM_Email_Tracking__c")


def _schema_ready(ctx: Context, missing: list[schema.Component]) -> bool:
    """Campaign and tracking steps need their objects and fields in the org."""
    missing = [c for c in missing if c.object_name in CAMPAIGN_OBJECTS]
    if missing:
        ctx.message(
            "SF_SCHEMA_MISSING",
            f"cmsync's Salesforce schema is missing {len(missing)} parts; campaigns and "
            "tracking were skipped",
            record={"missing": [c.full_name for c in missing]},
            severity="warning",
            step="campaigns",
        )
    return not missing


def _primary_steps(ctx: Context) -> None:
    steps.retry_requested(ctx)
    for client in ctx.clients:
        steps.discover(ctx, client)
        steps.subscribers(ctx, client)
    steps.opt_out(ctx)
    missing = schema.missing(ctx.sf)
    memberships.sync_lists_and_memberships(ctx, missing)
    if _schema_ready(ctx, missing):
        for client in ctx.clients:
            campaigns.discover_campaigns(ctx, client)
        campaigns.link_campaigns(ctx)
        campaigns.statistics(ctx)
        tracking.import_tracking(ctx)
        tracking.retention(ctx)


def execute(run_id: int) -> SyncRun | None:
    """Run (or resume) one primary sync. Safe to call twice: the second call does nothing."""
    if not _claim(run_id):
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is None:  # a task outlived its run (a database reset, say)
            log.warning("Sync run %s does not exist; nothing to do", run_id)
        return run
    run = SyncRun.objects.get(pk=run_id)
    status, error = SyncRun.Status.SUCCEEDED, ""
    ctx = None
    try:
        ctx = _context(run)
        if run.kind == SyncRun.Kind.CHANGES:
            changes.process(ctx)
        else:
            _primary_steps(ctx)
    except Cancelled:
        status, error = (
            SyncRun.Status.CANCELLED,
            "Stopped at a safe point: cancelled or disconnected.",
        )
    except SyncUnavailable as exc:
        status, error = SyncRun.Status.FAILED, str(exc)
    except (cm_errors.AuthenticationError, sf_errors.AuthenticationError) as exc:
        side = (
            "Campaign Monitor" if isinstance(exc, cm_errors.CampaignMonitorError) else "Salesforce"
        )
        status, error = SyncRun.Status.FAILED, f"{side} refused cmsync's credentials: {exc}"
    except sf_errors.LimitExceededError as exc:
        status = SyncRun.Status.PARTIAL
        error = "Salesforce's daily API limit was reached; the next run continues from here."
        ctx.message("SF_LIMIT_EXHAUSTED", error, upstream=str(exc))
    except cm_errors.RateLimitedError as exc:
        status = SyncRun.Status.PARTIAL
        error = "Campaign Monitor kept refusing requests (rate limit); the next run continues."
        ctx.message("CM_RATE_LIMITED", error, upstream=str(exc))
    except (cm_errors.CampaignMonitorError, sf_errors.SalesforceError) as exc:
        status, error = SyncRun.Status.FAILED, f"The run stopped: {exc}"
    except Exception as exc:  # an unexpected bug must still leave a finished run row
        log.exception("Sync run %s crashed", run_id)
        status, error = SyncRun.Status.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}"
    errors_left = run.messages.filter(severity__in=["error", "warning"], retry_requested=False)
    if status == SyncRun.Status.SUCCEEDED and errors_left.exists():
        status = SyncRun.Status.PARTIAL
    if ctx is not None:
        run.cm_calls, run.sf_calls = ctx.cm.calls, ctx.sf.calls
    run.status, run.last_error = status, error
    run.finished_at = timezone.now()
    run.active = None
    run.step = ""
    run.save()
    if run.kind == SyncRun.Kind.PRIMARY:
        update_plan_after_sync()
    alerts.notify(run)
    if run.kind == SyncRun.Kind.CHANGES and status != SyncRun.Status.FAILED:
        changes.request_if_pending()  # arrived while this run was finishing
    return run


def cancel(run: SyncRun) -> None:
    """Drop a queued run; ask a running one to stop at its next checkpoint."""
    now = timezone.now()
    queued = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED)
    if not queued.update(
        status=SyncRun.Status.CANCELLED, active=None, finished_at=now, last_error="Cancelled."
    ):
        SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            cancel_requested=True
        )


def cancel_all() -> None:
    """Disconnecting: drop queued runs and ask a running one to stop at its next checkpoint."""
    now = timezone.now()
    SyncRun.objects.filter(status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.CANCELLED, active=None, finished_at=now, last_error="Disconnected."
    )
    SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(cancel_requested=True)


def reschedule(now=None) -> ScheduleState:
    """Store the next scheduled run from the current settings (after any change)."""
    now = now or timezone.now()
    state = ScheduleState.get_solo()
    state.next_run_at = next_run(SyncSettings.get_solo(), now)
    state.save(update_fields=["next_run_at"])
    return state


def dispatch_due(now=None) -> SyncRun | None:
    """Beat calls this every minute: start the scheduled run if one is due."""
    now = now or timezone.now()
    state = ScheduleState.get_solo()
    if state.next_run_at is None:
        reschedule(now)
        return None
    if now < state.next_run_at or Connection.current() is None:
        return None
    today = now.astimezone(installation_tz()).date()
    full = GeneralSettings.get_solo().full_daily_sync and state.last_full_day != today
    run, created = request_run(SyncRun.Trigger.SCHEDULE, full=full)
    if created and full:
        state.last_full_day = today
        state.save(update_fields=["last_full_day"])
    reschedule(now)
    return run
