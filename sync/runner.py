"""Starting, claiming, running and cancelling a run of any kind (cmsync.jobs' lifecycle).

The runner knows no run's body: each kind's module registers what its runs do (``register``;
``sync.primary``, ``sync.reactions``, ``sync.cm_events``), and ``execute`` claims the run,
sets up the run context, calls the body and turns its ending into a status and a sentence.
The schedule's every-minute dispatcher is ``sync.dispatch``.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from campaign_monitor import errors as cm_errors
from campaign_monitor.models import ConnectedClient, Connection
from cmsync import jobs
from maintenance import alerts
from salesforce import errors as sf_errors
from salesforce.connection import sync_user_status
from salesforce.models import SalesforceConnection

from . import spread
from .context import Context
from .models import SyncRun

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
CANCELLED = "Stopped at a safe point: cancelled or disconnected."
# Every kind of run is one Celery task (sync/tasks.py), sent by name.
TASK = "sync.run"
# The run table's lifecycle columns: a claim also raises the run's generation.
COLUMNS = jobs.Columns(generation="generation")


class SyncUnavailable(jobs.Refused):
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
    try:
        jobs.send(TASK, run.pk, retry=True, retry_policy=SEND_RETRY)
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
    return jobs.claim(SyncRun, run_id, STALE_AFTER, COLUMNS)


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


@dataclass(frozen=True)
class Body:
    """What a run of one kind does (``work``), and what follows once it is finished (``then``:
    the primary sync updates the billing plan; an inbox that filled meanwhile asks for another
    run)."""

    work: Callable[[Context], None]
    then: Callable[[SyncRun], object] | None = None


# Each kind's body, registered by its own module (sync.primary, sync.reactions,
# sync.cm_events, imported by SyncConfig.ready): the runner knows none of them.
BODIES: dict[str, Body] = {}


def register(
    kind: str,
    work: Callable[[Context], None],
    then: Callable[[SyncRun], object] | None = None,
) -> None:
    """Say what runs of ``kind`` do (called once, by the module that holds the body)."""
    BODIES[kind] = Body(work, then)


def _tell(ctx: Context | None, code: str):
    """A sentence that is also said as a maintenance message of the run (once it is set up)."""

    def sentence(exc: Exception) -> str:
        error = {
            "SF_LIMIT_EXHAUSTED": "Salesforce's daily API limit was reached; the next run "
            "continues from here.",
            "CM_RATE_LIMITED": "Campaign Monitor kept refusing requests (rate limit); the next "
            "run continues.",
        }[code]
        if ctx is not None:  # None: refused while the run was being set up
            ctx.message(code, error, upstream=str(exc))
        return error

    return sentence


def _credentials(exc: Exception) -> str:
    side = "Campaign Monitor" if isinstance(exc, cm_errors.CampaignMonitorError) else "Salesforce"
    return f"{side} refused cmsync's credentials: {exc}"


def _database(exc: Exception) -> str:
    log.exception("Sync run lost its database", exc_info=exc)
    return (
        f"cmsync's database failed during the run ({type(exc).__name__}); the next run "
        "continues from what was saved."
    )


def _ladder(ctx: Context | None) -> list[jobs.Rule]:
    """How a run's ending exception becomes its status and sentence (first match wins)."""
    Status = SyncRun.Status
    return [
        (jobs.Cancelled, Status.CANCELLED, lambda e: CANCELLED),
        (jobs.Refused, Status.FAILED, jobs.said),
        (
            (cm_errors.AuthenticationError, sf_errors.AuthenticationError),
            Status.FAILED,
            _credentials,
        ),
        (sf_errors.LimitExceededError, Status.PARTIAL, _tell(ctx, "SF_LIMIT_EXHAUSTED")),
        (cm_errors.RateLimitedError, Status.PARTIAL, _tell(ctx, "CM_RATE_LIMITED")),
        (
            (cm_errors.CampaignMonitorError, sf_errors.SalesforceError),
            Status.FAILED,
            lambda e: f"The run stopped: {e}",
        ),
        (DatabaseError, Status.FAILED, _database),
    ]


def execute(run_id: int) -> SyncRun | None:
    """Run (or resume) one run of any kind. Safe to call twice: the second call does nothing."""
    generation = _claim(run_id)
    if generation is None:
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is None:  # a task outlived its run (a database reset, say)
            log.warning("Sync run %s does not exist; nothing to do", run_id)
        return run
    run = SyncRun.objects.get(pk=run_id)
    body = BODIES[run.kind]
    status: str = SyncRun.Status.SUCCEEDED
    error = ""
    ctx = None
    try:
        ctx = _context(run, generation)
        ctx.own_counts_only()
        body.work(ctx)
    except jobs.Superseded:
        log.warning("Sync run %s was taken over by another worker; this one stops", run_id)
        return SyncRun.objects.get(pk=run_id)
    except spread.ItemFailed as exc:  # said by the worker whose item failed
        status, error = exc.status, exc.sentence
    except Exception as exc:  # every ending, even a bug, leaves a finished run row
        status, error = jobs.outcome(exc, _ladder(ctx), f"Sync run {run_id}")
    if ctx is not None:
        try:
            run.counts, run.cm_calls, run.sf_calls = ctx.totals()
        except DatabaseError:  # the outcome is stored all the same, with the run's own
            run.cm_calls, run.sf_calls = ctx.cm.calls, ctx.sf.calls
    if not _finish(run, generation, status, error):
        return SyncRun.objects.get(pk=run_id)
    if body.then is not None:
        body.then(run)
    alerts.notify(run)
    return run


def work(run_id: int, generation: int) -> int:
    """A helper called in by a spread run (sync/spread.py): work the run's items until none
    is left to take; how many it did. Nothing when the run is no longer that claim's."""
    run = SyncRun.objects.filter(
        pk=run_id, generation=generation, status=SyncRun.Status.RUNNING
    ).first()
    if run is None:
        return 0
    try:
        ctx = _context(run, generation)
    except Exception:  # noqa: BLE001 - the run's own worker meets it too, and says it
        log.warning("Sync run %s: a helper could not set up; the others go on", run_id)
        return 0
    ctx.coordinator = False
    return spread.help_run(ctx, lambda exc: jobs.outcome(exc, _ladder(ctx), f"Sync run {run_id}"))


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
