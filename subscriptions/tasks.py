"""Thin Celery tasks: ids in, the work is a plain function in imports.py."""

from celery import shared_task

from . import imports


@shared_task(name="subscriptions.run_import", acks_late=True)
def run_import(job_id: int) -> str:
    return imports.run(job_id).status


@shared_task(name="subscriptions.dispatch_imports")
def dispatch_imports() -> list[int]:
    """Beat calls this every minute: queue the scheduled imports that are due."""
    return imports.dispatch_due()
