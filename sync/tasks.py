"""Thin Celery tasks: ids in, the work is a plain function in runner.py."""

from celery import shared_task

from . import runner


@shared_task(name="sync.run_primary_sync", acks_late=True)
def run_primary_sync(run_id: int) -> str:
    return runner.execute(run_id).status


@shared_task(name="sync.dispatch_due")
def dispatch_due() -> int | None:
    run = runner.dispatch_due()
    return run.pk if run else None
