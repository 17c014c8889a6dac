"""The schedule for real: beat dispatches a due sync through the broker to a worker."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import ScheduleState, SyncRun

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_beat_dispatches_a_due_sync_to_a_worker(world, celery_processes, sync_worker, tmp_path):
    world.subscriber(world.list_a, "due@example.com", "Unsubscribed")
    contact = world.contact("due@example.com")
    ScheduleState.objects.update_or_create(
        pk=1, defaults={"next_run_at": timezone.now() - timedelta(minutes=1)}
    )
    start, _ = celery_processes
    start("beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO")

    run = wait_for(
        lambda: SyncRun.objects.filter(
            trigger=SyncRun.Trigger.SCHEDULE, status__in=["succeeded", "partial", "failed"]
        ).first()
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert world.opted_out(contact) is True
    # The next run is at the next full hour (hourly), not immediately again.
    next_run = ScheduleState.get_solo().next_run_at
    assert timezone.now() < next_run <= timezone.now() + timedelta(hours=1)
    assert (next_run.minute, next_run.second) == (0, 0)
    assert SyncRun.objects.count() == 1


def test_beat_polls_salesforce_changes_and_a_worker_reacts(
    world, celery_processes, sync_worker, tmp_path
):
    from sync import inbox
    from sync.models import ChangeWatch

    from .test_sync_changes import cm_state

    world.subscriber(world.list_a, "tick@example.com", "Active")
    contact = world.contact("tick@example.com")
    start, _ = celery_processes
    start("beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO")
    wait_for(lambda: ChangeWatch.get_solo().baseline_at)  # the first poll: the baseline

    (result,) = world.gateway.update("Contact", [{"Id": contact, "HasOptedOutOfEmail": True}])
    assert result.success
    ChangeWatch.objects.update(last_poll_at=timezone.now() - timedelta(minutes=10))  # due

    run = wait_for(
        lambda: SyncRun.objects.filter(
            kind=SyncRun.Kind.CHANGES, status__in=["succeeded", "partial", "failed"]
        ).first()
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert run.trigger == SyncRun.Trigger.POLL
    assert cm_state(world, world.list_a, "tick@example.com") == "Unsubscribed"
    assert inbox.pending() == 0
