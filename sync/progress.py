"""How far a primary sync has got, and roughly how long it has left.

A run stores no per-step timings, only what each step read; the last finished primary run of
the same sort (full or not) gives both the weight of each step (what it read) and the time
the whole took. Done so far is the weight of the steps behind the current one plus what the
current one has read (never more than last time); what remains is that share of the last
run's duration. No previous run, no estimate: the page says nothing rather than guess.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from .models import SyncRun

FINISHED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)


def previous_run(run: SyncRun) -> SyncRun | None:
    """The last finished primary run of the same sort (full or not) before this one."""
    return (
        SyncRun.objects.filter(
            kind=SyncRun.Kind.PRIMARY,
            status__in=FINISHED,
            full=run.full,
            started_at__isnull=False,
            finished_at__isnull=False,
            created_at__lte=run.created_at,
        )
        .exclude(pk=run.pk)
        .first()
    )


def remaining(
    run: SyncRun, previous: SyncRun | None, order: list[str], now: datetime | None = None
) -> timedelta | None:
    """Time left for a running primary run judged by ``previous``; None without a basis."""
    if run.kind != SyncRun.Kind.PRIMARY or run.status != SyncRun.Status.RUNNING:
        return None
    if previous is None or not previous.duration or run.started_at is None:
        return None
    weights = {step: previous.counts.get(step, {}).get("read", 0) for step in order}
    total = sum(weights.values())
    if total and run.step in weights:
        at = order.index(run.step)
        read_now = run.counts.get(run.step, {}).get("read", 0)
        done = sum(weights[s] for s in order[:at]) + min(read_now, weights[run.step])
        left = previous.duration * (1 - done / total)
    else:  # nothing was read last time: only its duration is known
        left = previous.duration - ((now or timezone.now()) - run.started_at)
    return left if left > timedelta(0) else None


def describe(left: timedelta | None, previous: SyncRun | None) -> str:
    """ "About 3 minutes left, based on the last full sync." or "" without an estimate."""
    if left is None or previous is None:
        return ""
    basis = "the last full sync" if previous.full else "the last run"
    minutes = round(left.total_seconds() / 60)
    if minutes < 1:
        amount = "Less than a minute left"
    elif minutes < 90:
        amount = f"About {minutes} minute{'' if minutes == 1 else 's'} left"
    else:
        hours = round(minutes / 60)
        amount = f"About {hours} hours left"
    return f"{amount}, based on {basis} (run {previous.pk})."
