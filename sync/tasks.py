"""Thin Celery tasks: ids in, the work is a plain function (``runner.execute`` for a run of
any kind, ``runner.work`` for a spread run's helpers, ``dispatch.dispatch_due``,
``change_poll.poll``).

``sync.run_primary_sync``, ``sync.run_changes`` and ``sync.run_cm_events`` are the names runs
were sent under before one task ran every kind: a broker may still hold such messages at an
upgrade, so they stay registered as aliases of ``sync.run`` for one release.
"""

from celery import shared_task

from . import change_poll, dispatch, runner


# The run row is the result: nothing waits on the result backend, so sending a run never
# blocks on it when Redis is down (Sync now answers at once with a plain error).
def _execute(run_id: int) -> str:
    """Run (or resume) one run of any kind."""
    done = runner.execute(run_id)
    return done.status if done else "missing"


def _run_task(name: str):
    return shared_task(name=name, acks_late=True, ignore_result=True)(_execute)


run = _run_task(runner.TASK)
# Aliases of sync.run for messages queued before the upgrade; remove in the next release.
run_primary_sync = _run_task("sync.run_primary_sync")
run_changes = _run_task("sync.run_changes")
run_cm_events = _run_task("sync.run_cm_events")


@shared_task(name="sync.work", acks_late=True, ignore_result=True)
def work(run_id: int, generation: int) -> int:
    """A helper of a run spread over workers (sync/spread.py): works its items."""
    return runner.work(run_id, generation)


@shared_task(name="sync.dispatch_due")
def dispatch_due() -> int | None:
    due = dispatch.dispatch_due()
    return due.pk if due else None


@shared_task(name="sync.poll_changes")
def poll_changes() -> int | None:
    """Beat calls this every minute; it polls when the Sync settings' interval has passed."""
    if not change_poll.poll_due():
        return None
    return change_poll.poll()
