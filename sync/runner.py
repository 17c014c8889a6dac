"""Starting, claiming and running a primary sync; the schedule's dispatcher.

One primary sync per installation at a time: a unique index on ``SyncRun.active`` refuses a
second queued or running row, and a run is claimed with a conditional update, so a duplicated
or redelivered task is harmless. Each claim raises the run's generation, and a worker writes
only while the run carries its generation: one whose claim was taken over stops without
writing. The every-minute dispatcher sends again the task of a queued run that never reached
the broker, and of a running run whose heartbeat went stale (its worker died); its steps are
idempotent and its cursors only moved past written data.
"""

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from billing.accounts import update_plan_after_sync
from campaign_monitor import errors as cm_errors
from campaign_monitor.models import ConnectedClient, Connection
from maintenance import alerts
from salesforce import errors as sf_errors
from salesforce import permissions, schema
from salesforce.connection import sync_user_status
from salesforce.models import SalesforceConnection
from settings_app.models import GeneralSettings, SyncSettings

from . import campaigns, changes, cm_events, memberships, steps, tracking, webhooks
from .context import Cancelled, Context, Superseded
from .models import ScheduleState, SyncRun
from .schedule import installation_tz, next_run

log = logging.getLogger(__name__)

# A working run beats at least every context.BEAT_EVERY; this long without one, its worker is
# gone (killed, paused, cut off) and the dispatcher hands the run to another.
STALE_AFTER = timedelta(minutes=2)
# A queued run's task may sit behind a busy worker; after this long it is sent again (a
# duplicate is harmless: only one claim wins).
RESEND_AFTER = timedelta(minutes=5)
# Sending a task waits this little for an unreachable broker: Sync now answers at once.
SEND_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
FINISH_ATTEMPTS = 3
CM_NOT_CONNECTED = "Campaign Monitor is not connected."


class SyncUnavailable(Exception):
    """The sync cannot start: something is not connected. The message says what."""


class BrokerUnavailable(Exception):
    """The run is queued, but its task could not reach the broker; the dispatcher sends it
    once the broker is back."""

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        super().__init__(
            "cmsync could not reach its task queue, so the sync has not started. It stays "
            "queued and starts within a minute of the queue coming back."
        )


def _send(run: SyncRun) -> bool:
    """Send the run's task to the broker now; False (logged) when the broker is unreachable."""
    from .tasks import run_changes, run_cm_events, run_primary_sync  # they import this module

    task = {SyncRun.Kind.CHANGES: run_changes, SyncRun.Kind.CM_EVENTS: run_cm_events}.get(
        run.kind, run_primary_sync
    )
    try:
        task.apply_async((run.pk,), retry=True, retry_policy=SEND_RETRY)
    except (BrokerError, OSError) as exc:
        log.warning("Sync run %s: the broker is unreachable (%s); it stays queued", run.pk, exc)
        return False
    SyncRun.objects.filter(pk=run.pk).update(enqueued_at=timezone.now())
    return True


def _enqueue(run: SyncRun) -> bool | None:
    """Send once the row is committed: whether it was sent, or None when that waits for an
    outer transaction to commit (the dispatcher covers a send that then fails)."""
    sent: list[bool] = []
    transaction.on_commit(lambda: sent.append(_send(run)))
    return sent[0] if sent else None


def _lost(run: SyncRun, now) -> bool:
    """A run whose task is not coming: never sent, sent long ago, or its worker went quiet."""
    if run.status == SyncRun.Status.QUEUED:
        return run.enqueued_at is None or run.enqueued_at < now - RESEND_AFTER
    return (run.heartbeat_at or run.created_at) < now - STALE_AFTER


def request_run(
    trigger: str,
    *,
    user=None,
    full: bool = False,
    kind: str = SyncRun.Kind.PRIMARY,
    send: bool = True,
) -> tuple[SyncRun, bool]:
    """Queue a run of a kind, or return the one of that kind already queued or running
    (False: not new). A run whose task was lost is sent again. ``send=False`` leaves the
    task to the caller (``sync_now --wait`` runs it in its own process).

    Raises BrokerUnavailable when the broker cannot take the task: the run stays queued.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    kind=kind, trigger=trigger, full=full, requested_by=user
                )
            created = True
            break
        except IntegrityError:
            active = SyncRun.objects.filter(kind=kind, active=True).first()
            if active is None and attempt < 2:
                continue  # the active run finished between the two statements: ask again
            if active is None:
                raise
            run, created = active, False
            if not _lost(run, timezone.now()):
                return run, False
            log.warning("Sync run %s lost its task or its worker; sending it again", run.pk)
            break
    if send and _enqueue(run) is False:
        raise BrokerUnavailable(run)
    return run, created


def recover(now=None) -> list[int]:
    """The dispatcher's first duty: send again every active run whose task is lost."""
    now = now or timezone.now()
    resent = []
    for run in SyncRun.objects.filter(active=True):
        if _lost(run, now):
            log.warning("Sync run %s lost its task or its worker; sending it again", run.pk)
            if _send(run):
                resent.append(run.pk)
    return resent


def _claim(run_id: int) -> int | None:
    """Take the run (queued, or running with a stale heartbeat); the claim's generation."""
    now = timezone.now()
    row = SyncRun.objects.filter(pk=run_id).values("status", "generation").first()
    if row is None:
        return None
    mine = row["generation"] + 1
    same = SyncRun.objects.filter(pk=run_id, generation=row["generation"])
    fresh = same.filter(status=SyncRun.Status.QUEUED)
    if fresh.update(
        status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now, generation=mine
    ):
        return mine
    # Resume a run whose worker died or went quiet: only if nobody has touched it for a while.
    quiet = Q(heartbeat_at__lt=now - STALE_AFTER) | Q(heartbeat_at=None)
    lost = same.filter(quiet, status=SyncRun.Status.RUNNING)
    if lost.update(heartbeat_at=now, generation=mine):
        log.warning("Sync run %s: taken over from a worker gone quiet", run_id)
        return mine
    return None


def ensure_ready() -> tuple[Connection, list[ConnectedClient], SalesforceConnection]:
    """What a run needs, or SyncUnavailable saying plainly what is missing."""
    cm = Connection.current()
    if cm is None:
        raise SyncUnavailable(CM_NOT_CONNECTED)
    clients = list(cm.connected_clients())
    if not clients:
        raise SyncUnavailable("No Campaign Monitor client is connected.")
    status = sync_user_status()
    if status.problem or status.connection is None:  # no problem comes with a connection
        raise SyncUnavailable(status.problem or "Salesforce is not connected.")
    return cm, clients, status.connection


def not_ready_reason() -> str:
    """Why no sync can start now ("" when one can), in words for the Sync tab; database
    reads only, so the tab and the every-minute dispatcher can ask cheaply."""
    try:
        ensure_ready()
    except SyncUnavailable as exc:
        return str(exc)
    return ""


def _context(run: SyncRun, generation: int) -> Context:
    cm, clients, salesforce = ensure_ready()
    return Context(
        run=run,
        cm=cm.api(),
        sf=salesforce.gateway(),
        clients=clients,
        generation=generation,
    )


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


def _access_ready(ctx: Context, blocked: list[str]) -> bool:
    """Installed is not enough: the sync user must be allowed to read and write it
    (cmsync's permission set, assigned by Install)."""
    blocked = [name for name in blocked if name.split(".")[0] in CAMPAIGN_OBJECTS]
    if blocked:
        ctx.message(
            "SF_NO_ACCESS",
            f"The sync user cannot use {len(blocked)} of cmsync's objects and fields in "
            "Salesforce; campaigns and tracking were skipped",
            record={"inaccessible": blocked},
            severity="warning",
            step="campaigns",
        )
    return not blocked


def _primary_steps(ctx: Context) -> None:
    steps.retry_requested(ctx)
    for client in ctx.clients:
        steps.discover(ctx, client)
    keep_webhooks(ctx)
    for client in ctx.clients:
        steps.subscribers(ctx, client)
        steps.suppressions(ctx, client)
    steps.opt_out(ctx)
    # What the sync user may use: a describe as that user (its permission sets decide).
    missing, blocked = permissions.unusable(ctx.sf)
    memberships.sync_lists_and_memberships(ctx, missing, blocked)
    if _schema_ready(ctx, missing) and _access_ready(ctx, blocked):
        for client in ctx.clients:
            campaigns.discover_campaigns(ctx, client)
        campaigns.link_campaigns(ctx)
        campaigns.statistics(ctx)
        tracking.import_tracking(ctx)
        tracking.retention(ctx)


def keep_webhooks(ctx: Context) -> None:
    """The cheap check of each primary sync: cmsync's webhooks in place on every list (one
    call a list when nothing is missing); see sync/webhooks.py."""
    ctx.begin("webhooks")
    rows = webhooks.reconcile(ctx.cm, ctx.clients, run=ctx.run)
    active = sum(row.state == row.State.ACTIVE for row in rows)
    failed = sum(row.state == row.State.FAILED for row in rows)
    ctx.count("webhooks", read=len(rows), written=active, failed=failed)
    ctx.checkpoint()


def execute(run_id: int) -> SyncRun | None:
    """Run (or resume) one primary sync. Safe to call twice: the second call does nothing."""
    generation = _claim(run_id)
    if generation is None:
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is None:  # a task outlived its run (a database reset, say)
            log.warning("Sync run %s does not exist; nothing to do", run_id)
        return run
    run = SyncRun.objects.get(pk=run_id)
    status, error = SyncRun.Status.SUCCEEDED, ""
    ctx = None
    try:
        ctx = _context(run, generation)
        if run.kind == SyncRun.Kind.CHANGES:
            changes.process(ctx)
        elif run.kind == SyncRun.Kind.CM_EVENTS:
            cm_events.process(ctx)
        else:
            _primary_steps(ctx)
    except Superseded:
        log.warning("Sync run %s was taken over by another worker; this one stops", run_id)
        return SyncRun.objects.get(pk=run_id)
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
        if ctx is not None:  # None: refused while the run was being set up
            ctx.message("SF_LIMIT_EXHAUSTED", error, upstream=str(exc))
    except cm_errors.RateLimitedError as exc:
        status = SyncRun.Status.PARTIAL
        error = "Campaign Monitor kept refusing requests (rate limit); the next run continues."
        if ctx is not None:
            ctx.message("CM_RATE_LIMITED", error, upstream=str(exc))
    except (cm_errors.CampaignMonitorError, sf_errors.SalesforceError) as exc:
        status, error = SyncRun.Status.FAILED, f"The run stopped: {exc}"
    except DatabaseError as exc:
        log.exception("Sync run %s lost its database", run_id)
        status = SyncRun.Status.FAILED
        error = f"cmsync's database failed during the run ({type(exc).__name__}); the next run "
        error += "continues from what was saved."
    except Exception as exc:  # an unexpected bug must still leave a finished run row
        log.exception("Sync run %s crashed", run_id)
        status, error = SyncRun.Status.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}"
    if ctx is not None:
        run.cm_calls, run.sf_calls = ctx.cm.calls, ctx.sf.calls
    if not _finish(run, generation, status, error):
        return SyncRun.objects.get(pk=run_id)
    if run.kind == SyncRun.Kind.PRIMARY:
        update_plan_after_sync()
    alerts.notify(run)
    if run.kind == SyncRun.Kind.CHANGES and status != SyncRun.Status.FAILED:
        changes.request_if_pending()  # arrived while this run was finishing
    if run.kind == SyncRun.Kind.CM_EVENTS and status != SyncRun.Status.FAILED:
        cm_events.request_if_pending()
    return run


def _finish(run: SyncRun, generation: int, status: str, error: str) -> bool:
    """Store the outcome, on a fresh database connection if the old one broke; False when
    another worker owns the run now (it finishes it)."""
    for attempt in range(1, FINISH_ATTEMPTS + 1):
        try:
            return _store_outcome(run, generation, status, error)
        except DatabaseError:
            if connection.in_atomic_block or attempt == FINISH_ATTEMPTS:
                raise
            log.warning("Sync run %s: finishing on a fresh database connection", run.pk)
            connection.close()
            time.sleep(attempt)
    raise AssertionError("unreachable")


def _store_outcome(run: SyncRun, generation: int, status: str, error: str) -> bool:
    errors_left = run.messages.filter(severity__in=["error", "warning"], retry_requested=False)
    if status == SyncRun.Status.SUCCEEDED and errors_left.exists():
        status = SyncRun.Status.PARTIAL
    run.status, run.last_error = status, error
    run.finished_at = timezone.now()
    run.active = None
    run.step = ""
    return bool(
        SyncRun.objects.filter(pk=run.pk, generation=generation).update(
            status=run.status,
            last_error=run.last_error,
            finished_at=run.finished_at,
            active=None,
            step="",
            counts=run.counts,
            cm_calls=run.cm_calls,
            sf_calls=run.sf_calls,
        )
    )


def cancel(run: SyncRun, user=None) -> None:
    """Drop a queued run; ask a running one to stop at its next checkpoint. ``user`` is who
    pressed Cancel (shown on the run page)."""
    now = timezone.now()
    queued = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED)
    if not queued.update(
        status=SyncRun.Status.CANCELLED,
        active=None,
        finished_at=now,
        last_error="Cancelled.",
        cancelled_by=user,
    ):
        SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            cancel_requested=True, cancelled_by=user
        )


def cancel_all() -> None:
    """Disconnecting: drop queued runs and ask a running one to stop at its next checkpoint."""
    now = timezone.now()
    SyncRun.objects.filter(status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.CANCELLED, active=None, finished_at=now, last_error="Disconnected."
    )
    SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(cancel_requested=True)


def reschedule(now=None) -> ScheduleState:
    """Store the next scheduled run from the current settings (after any change); none while
    a sync cannot start (a side disconnected), so nothing claims a run that will not come."""
    now = now or timezone.now()
    state = ScheduleState.get_solo()
    ready = not not_ready_reason()
    state.next_run_at = next_run(SyncSettings.get_solo(), now) if ready else None
    state.save(update_fields=["next_run_at"])
    return state


def follow_readiness() -> None:
    """After a connection changes: clear the next run while a sync cannot start, and bring it
    back once it can; a time already stored stays (a due run is not skipped)."""
    state = ScheduleState.get_solo()
    if not_ready_reason():
        if state.next_run_at is not None:
            state.next_run_at = None
            state.save(update_fields=["next_run_at"])
    elif state.next_run_at is None:
        reschedule()


def dispatch_due(now=None) -> SyncRun | None:
    """Beat calls this every minute: send again the runs whose task is lost, then start the
    scheduled run if one is due."""
    now = now or timezone.now()
    recover(now)
    cm_events.retry_due(now)
    state = ScheduleState.get_solo()
    if state.next_run_at is None or not_ready_reason():
        reschedule(now)  # none while a side is disconnected; the time again once it is back
        return None
    if now < state.next_run_at:
        return None
    today = now.astimezone(installation_tz()).date()
    full = GeneralSettings.get_solo().full_daily_sync and state.last_full_day != today
    try:
        run, created = request_run(SyncRun.Trigger.SCHEDULE, full=full)
    except BrokerUnavailable as exc:  # queued: sent by a later dispatch
        run, created = exc.run, True
    if created and full:
        state.last_full_day = today
        state.save(update_fields=["last_full_day"])
    reschedule(now)
    return run
