"""Thin Celery tasks: ids in, the work is a plain function in runner.py."""

from celery import shared_task

from . import changes, runner


# The run row is the result: nothing waits on the result backend, so sending a run never
# blocks on it when Redis is down (Sync now answers at once with a plain error).
@shared_task(name="sync.run_primary_sync", acks_late=True, ignore_result=True)
def run_primary_sync(run_id: int) -> str:
    run = runner.execute(run_id)
    return run.status if run else "missing"


@shared_task(name="sync.dispatch_due")
def dispatch_due() -> int | None:
    run = runner.dispatch_due()
    return run.pk if run else None


@shared_task(name="sync.run_changes", acks_late=True, ignore_result=True)
def run_changes(run_id: int) -> str:
    run = runner.execute(run_id)
    return run.status if run else "missing"


@shared_task(name="sync.run_cm_events", acks_late=True, ignore_result=True)
def run_cm_events(run_id: int) -> str:
    run = runner.execute(run_id)
    return run.status if run else "missing"


@shared_task(name="sync.poll_changes")
def poll_changes() -> int | None:
    """Beat calls this every minute; it polls when the Sync settings' interval has passed."""
    if not changes.poll_due():
        return None
    return changes.poll()
