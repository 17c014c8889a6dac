"""Thin Celery tasks: ids in, the work is a plain function (``imports.work.run``,
``rules.work.run_retrospective``; also reachable as ``manage.py run_import`` and ``run_rule``).
The work modules send these by name (cmsync.jobs.enqueue) and never import this one."""

from celery import shared_task

from .imports import work as imports
from .rules import work as rules


@shared_task(name=imports.TASK, acks_late=True)
def run_import(job_id: int) -> str:
    return imports.run(job_id).status


@shared_task(name="subscriptions.dispatch_imports")
def dispatch_imports() -> list[int]:
    """Beat calls this every minute: queue the scheduled imports that are due."""
    return imports.dispatch_due()


@shared_task(name=rules.TASK, acks_late=True)
def run_retrospective(rule_id: int) -> str:
    return rules.run_retrospective(rule_id)
