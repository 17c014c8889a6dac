"""The retrospective run of a subscription rule as a Celery task: an id in, the work is
``rules.run_retrospective`` (also reachable as ``manage.py run_rule``)."""

from celery import shared_task

from . import rules


@shared_task(name="subscriptions.run_rule_retrospectively", acks_late=True)
def run_retrospective(rule_id: int) -> str:
    return rules.run_retrospective(rule_id)
