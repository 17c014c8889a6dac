"""One primary sync spread over every running Celery worker (DESIGN.md §8 "Scale by spreading
work"): the run's per-list and per-campaign work are work items any worker claims.

The run's own task stays the coordinator. It does the steps that are one piece (discover,
the opt-out decision, lists and memberships under the subscriber-states lease, linking
campaigns, retention) and, for each phase of independent pieces (``run_phase``):

1. stores the phase's items (``WorkItem``, unique per run, phase and key: a run taken over
   finds the items it stored and skips those done);
2. calls in helpers: ``sync.work(run_id, generation)`` tasks, at most
   ``SYNC_PARALLEL_ITEMS`` - 1 of them, so no more items are worked at once than that (nor
   Campaign Monitor calls in flight for the run);
3. works items itself too, and when none is left to take, waits for those other workers
   hold, polling the table, until all are done. An item whose worker went silent
   (``SYNC_ITEM_STALE_SECONDS``, its heartbeat stopped: the worker was killed) is taken
   back and done again; items are idempotent as the steps are (every write an upsert by key
   or a conditional update; cursors move only past written data).

With one worker process (``make run`` with one worker busy, the tests) nobody answers the
call and the coordinator works every item itself: the run completes all the same.

A helper builds the run's context as the coordinator does (``runner._context``) and claims
items under the run's generation: a run taken over, finished or cancelled stops its
helpers at their next checkpoint. Cancel is read at each item's checkpoint; a failed item
fails the run with the item's sentence. Phases keep DESIGN.md §4's order: a phase starts
only once the one before is done.
"""

import logging
import os
import socket
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from cmsync import jobs

from .context import Context, item_stale_after
from .models import SyncRun, WorkItem

log = logging.getLogger(__name__)

TASK = "sync.work"
# Waiting for items other workers hold: how often the coordinator looks (and beats).
POLL_SECONDS = 0.25
Status = WorkItem.Status

# Each phase's work: the function that does one item of it, by the item's key.
PHASES: dict[str, Callable[[Context, str], None]] = {}


class ItemFailed(Exception):
    """A work item failed in another worker: the run ends as that worker said."""

    def __init__(self, status: str, sentence: str) -> None:
        self.status, self.sentence = status, sentence
        super().__init__(sentence)


def register(phase: str, work: Callable[[Context, str], None]) -> None:
    """Say what an item of ``phase`` does (called once, by the module that holds the step)."""
    PHASES[phase] = work


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_phase(ctx: Context, phase: str, keys: list[str]) -> None:
    """Store the phase's items, call helpers in, work items here too and wait until every
    item is done (the coordinator's part)."""
    if not keys:
        return
    with transaction.atomic():
        WorkItem.objects.bulk_create(
            [WorkItem(run=ctx.run, phase=phase, key=key) for key in keys],
            ignore_conflicts=True,
            batch_size=500,
        )
        open_items = _phase(ctx, phase).exclude(status=Status.DONE).count()
        helpers = min(settings.SYNC_PARALLEL_ITEMS, open_items) - 1
        if helpers > 0:
            transaction.on_commit(lambda: _call_helpers(ctx.run.pk, ctx.generation, helpers))
    try:
        while True:
            item = claim(ctx, phase)
            if item is not None:
                work(ctx, item)
                continue
            ctx.checkpoint()  # the run's heartbeat, its counts so far, and Cancel
            if _finished(ctx, phase):
                return
            time.sleep(POLL_SECONDS)
    except jobs.Cancelled:
        _wait_released(ctx)
        raise


def _wait_released(ctx: Context) -> None:
    """Cancelled: wait (a little) until the other workers let their items go, each at its
    next checkpoint, so the run's counts are final when it is finished."""
    deadline = time.monotonic() + item_stale_after().total_seconds()
    working = WorkItem.objects.filter(
        run=ctx.run,
        status=Status.CLAIMED,
        heartbeat_at__gte=timezone.now() - item_stale_after(),
    )
    while working.exists() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)


def _phase(ctx: Context, phase: str):
    return WorkItem.objects.filter(run=ctx.run, phase=phase)


def _finished(ctx: Context, phase: str) -> bool:
    """Whether every item of the phase is done; ItemFailed when one failed."""
    failed = _phase(ctx, phase).filter(status=Status.FAILED).first()
    if failed is not None:
        raise ItemFailed(failed.outcome or SyncRun.Status.FAILED, failed.error)
    return not _phase(ctx, phase).exclude(status=Status.DONE).exists()


def _call_helpers(run_id: int, generation: int, count: int) -> None:
    """Send ``count`` helper tasks; an unreachable broker only means no help."""
    from .runner import SEND_RETRY

    try:
        for _ in range(count):
            jobs.send(TASK, run_id, generation, retry=True, retry_policy=SEND_RETRY)
    except (BrokerError, OSError) as exc:
        log.warning("Sync run %s: no helpers (the broker is unreachable: %s)", run_id, exc)


def _claimable(ctx: Context) -> Q:
    """Pending; or claimed, or failed, under an older claim on the run (a run taken over
    does them again); or claimed by a worker gone silent."""
    older = Q(generation__lt=ctx.generation)
    silent = Q(heartbeat_at__lt=timezone.now() - item_stale_after())
    return (
        Q(status=Status.PENDING)
        | Q(older, status__in=[Status.CLAIMED, Status.FAILED])
        | Q(silent, status=Status.CLAIMED)
    )


def claim(ctx: Context, phase: str | None = None) -> WorkItem | None:
    """Take the next item of the run (of ``phase``) nobody is working; None when none is
    left to take. A conditional update: two workers never hold the same item."""
    items = WorkItem.objects.filter(run=ctx.run)
    if phase is not None:
        items = items.filter(phase=phase)
    for pk, attempts in (
        items.filter(_claimable(ctx)).order_by("pk").values_list("pk", "attempts")[:20]
    ):
        now = timezone.now()
        taken = (
            WorkItem.objects.filter(pk=pk, attempts=attempts)
            .filter(_claimable(ctx))
            .update(
                status=Status.CLAIMED,
                attempts=attempts + 1,
                generation=ctx.generation,
                claimed_by=worker_name(),
                heartbeat_at=now,
                outcome="",
                error="",
            )
        )
        if taken:
            if attempts:
                log.warning("Sync run %s: work item %s taken back and done again", ctx.run.pk, pk)
            return WorkItem.objects.get(pk=pk)
    return None


def work(ctx: Context, item: WorkItem) -> None:
    """Do one claimed item and mark it done (only while it is still this worker's)."""
    with ctx.working_on(item):
        try:
            PHASES[item.phase](ctx, item.key)
            ctx.save_item(timezone.now(), cancel=False)
        except jobs.Cancelled:
            release(item)  # stopped at a safe point; a new run does its work again
            raise
        except Exception as exc:
            fail(item, SyncRun.Status.FAILED, f"{type(exc).__name__}: {exc}")
            raise
    WorkItem.objects.filter(pk=item.pk, attempts=item.attempts, status=Status.CLAIMED).update(
        status=Status.DONE, finished_at=timezone.now()
    )


def fail(item: WorkItem, status: str, sentence: str) -> None:
    """Mark the item failed, with the run's status it leads to and the sentence saying why."""
    WorkItem.objects.filter(pk=item.pk, attempts=item.attempts, status=Status.CLAIMED).update(
        status=Status.FAILED, outcome=status, error=sentence, finished_at=timezone.now()
    )


def release(item: WorkItem) -> None:
    """Give the item back (its worker stopped at Cancel)."""
    WorkItem.objects.filter(pk=item.pk, attempts=item.attempts, status=Status.CLAIMED).update(
        status=Status.PENDING
    )


def help_run(ctx: Context, outcome: Callable[[Exception], tuple[str, str]]) -> int:
    """A helper's part: take and work the run's items until none is left to take; how many
    it did. Stops when the run is no longer this claim's (taken over, finished), at Cancel,
    and at a failed item (marked failed with ``outcome``'s status and sentence: the
    coordinator ends the run so)."""
    done = 0
    while True:
        if not SyncRun.objects.filter(
            pk=ctx.run.pk, generation=ctx.generation, status=SyncRun.Status.RUNNING
        ).exists():
            return done
        item = claim(ctx)
        if item is None:
            return done
        try:
            work(ctx, item)
        except jobs.Superseded:
            return done
        except jobs.Cancelled:
            return done
        except Exception as exc:  # noqa: BLE001 - the item says it; the coordinator ends the run
            fail_status, sentence = outcome(exc)
            WorkItem.objects.filter(pk=item.pk, attempts=item.attempts).update(
                status=Status.FAILED, outcome=fail_status, error=sentence
            )
            return done
        done += 1
