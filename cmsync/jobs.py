"""One lifecycle for every background job: a primary sync, a batch of Salesforce or Campaign
Monitor changes, an import, a subscription rule's retrospective run.

A job is a row with a status. It is **claimed** with a conditional update (queued → running,
or running with a heartbeat gone quiet, taken over), so a duplicated or redelivered task is
harmless; while it works it **beats** (a heartbeat the dispatcher and a resumer can judge);
**Cancel** is a flag or a status the work reads at its next safe point, which raises
``Cancelled``; and it **finishes** with a status and a plain sentence that ``outcome`` picks
from the exception that ended it, by the job's own ladder of (exception, status, sentence).
Tasks are sent by name once the row is committed (``enqueue``), so the module that does the
work never imports its Celery task: the task module imports the work, never the other way.

The three tables keep their own columns (``Columns`` names them): ``sync.SyncRun`` and
``subscriptions.ImportJob`` share the abstract ``Job``; a rule's retrospective run keeps its
``retro_*`` columns on the rule, where the API and the console show them.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)


class Status(models.TextChoices):
    """The states of every job (an import adds its own Draft and Scheduled before Queued)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (Status.QUEUED, Status.RUNNING)


class Job(models.Model):
    """What every job's row has besides its status (whose choices and default are its own)."""

    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Refreshed while running; a stale heartbeat means the worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


class Cancelled(Exception):
    """The job was cancelled (or its connection went away): stop at this safe point."""


class Superseded(BaseException):  # noqa: N818 - not an error: another worker owns the job
    """Another worker claimed the job after this one went quiet (paused, cut off): stop now,
    writing nothing more. A BaseException, so no ``except Exception`` on the way swallows it."""


class Refused(Exception):
    """The job cannot start or go on; the message says why, in words for the admin."""


@dataclass(frozen=True)
class Columns:
    """Where a job table keeps its lifecycle; ``None``: the table has no such column."""

    status: str = "status"
    heartbeat: str = "heartbeat_at"
    started: str | None = "started_at"
    finished: str = "finished_at"
    error: str | None = "last_error"  # the outcome's sentence (None: the caller keeps it)
    generation: str | None = None  # raised by every claim (a fence for a stale worker)


JOB = Columns()


def claim(
    model: type[models.Model], pk: int, stale_after: timedelta, columns: Columns = JOB
) -> int | None:
    """Take a queued job, or a running one nobody has touched for ``stale_after``; None when
    it is not ours to run. The answer is the claim's generation (1 for a table without one).
    """
    now = timezone.now()
    c = columns
    row = (
        model._default_manager.filter(pk=pk)
        .values(*([c.generation] if c.generation else []))
        .first()
    )
    if row is None:
        return None
    same = model._default_manager.filter(pk=pk)
    mine = 1
    raised: dict[str, Any] = {}
    if c.generation:
        same = same.filter(**{c.generation: row[c.generation]})
        mine = row[c.generation] + 1
        raised = {c.generation: mine}
    started = {c.started: now} if c.started else {}
    fresh = same.filter(**{c.status: Status.QUEUED})
    if fresh.update(**{c.status: Status.RUNNING, c.heartbeat: now}, **started, **raised):
        return mine
    # Resume a job whose worker died or went quiet: only if nobody has touched it for a while.
    quiet = Q(**{f"{c.heartbeat}__lt": now - stale_after}) | Q(**{c.heartbeat: None})
    lost = same.filter(quiet, **{c.status: Status.RUNNING})
    if lost.update(**{c.heartbeat: now}, **raised):
        log.warning("%s %s: taken over from a worker gone quiet", model.__name__, pk)
        return mine
    return None


def beat(
    model: type[models.Model],
    pk: int,
    columns: Columns = JOB,
    *,
    where: dict[str, Any] | None = None,
    **progress: Any,
) -> None:
    """Save progress with a heartbeat while the job is still this worker's (by default:
    still running); Cancelled when it is not (cancelled meanwhile)."""
    mine = where if where is not None else {columns.status: Status.RUNNING}
    if not model._default_manager.filter(pk=pk, **mine).update(
        **{columns.heartbeat: timezone.now()}, **progress
    ):
        raise Cancelled


def finish(
    model: type[models.Model],
    pk: int,
    status: str,
    error: str,
    columns: Columns = JOB,
    *,
    where: dict[str, Any] | None = None,
    **extra: Any,
) -> bool:
    """Store the outcome of a job that is still this worker's (by default: still running;
    ``where`` says otherwise, e.g. the claim's generation); False when it no longer was."""
    mine = where if where is not None else {columns.status: Status.RUNNING}
    fields = {columns.status: status, columns.finished: timezone.now(), **extra}
    if columns.error:
        fields[columns.error] = error
    return bool(model._default_manager.filter(pk=pk, **mine).update(**fields))


# An outcome rule: the exceptions it covers, the status, and the sentence from the exception.
Rule = tuple[type[BaseException] | tuple[type[BaseException], ...], str, Callable[[Any], str]]


def said(exc: BaseException) -> str:
    """The exception's own message is the sentence (a Refused, a criteria problem)."""
    return str(exc)


def unexpected(exc: BaseException) -> str:
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def outcome(exc: Exception, rules: Sequence[Rule], what: str = "Job") -> tuple[str, str]:
    """The status and plain sentence for the exception that ended a job, by the first rule
    that covers it; an unexpected bug is logged and still finishes the job as failed."""
    for types, status, sentence in rules:
        if isinstance(exc, types):
            return status, sentence(exc)
    log.exception("%s crashed", what, exc_info=exc)
    return Status.FAILED, unexpected(exc)


def send(task: str, *args: Any, **options: Any) -> None:
    """Send a task by its registered name (the caller never imports the task module)."""
    current_app.send_task(task, args=args, **options)


def enqueue(task: str, *args: Any) -> None:
    """Send the task once the row that describes its work is committed."""
    transaction.on_commit(lambda: send(task, *args))
