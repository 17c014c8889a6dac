"""Runs survive what goes wrong around them: a broker that is down when a run is queued, a
worker that dies or goes quiet, a database that drops its connection while a run finishes.
Nothing is left stuck, and a worker that lost its run writes nothing more."""

from datetime import timedelta

import pytest
import time_machine
from django.db import OperationalError
from django.utils import timezone

from campaign_monitor import errors as cm_errors
from salesforce import errors as sf_errors
from salesforce.gateway import SalesforceGateway
from sync import dispatch, runner
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


def sf_writes(world) -> int:
    return sum(n for k, n in world.sf.request_counts().items() if not k.startswith("GET"))


def test_a_stale_worker_woken_after_takeover_writes_nothing(world, monkeypatch):
    """Worker A goes quiet just before its first Salesforce write; the run goes stale and
    worker B takes it over and finishes it. When A wakes up it must not write to Salesforce
    nor overwrite the run that B finished."""
    emails = [f"quiet{n}@example.com" for n in range(5)]
    for email in emails:
        world.subscriber(world.list_a, email, "Unsubscribed")
    contacts = [world.contact(email) for email in emails]
    real_update = SalesforceGateway.update
    paused = {"done": False}

    def update(gateway, sobject, records):
        if not paused["done"]:  # worker A, paused here; meanwhile B takes over
            paused["done"] = True
            later = timezone.now() + runner.STALE_AFTER + timedelta(seconds=1)
            with time_machine.travel(later, tick=False):
                finished = runner.execute(run.pk)
            assert finished.status == SyncRun.Status.SUCCEEDED, finished.last_error
            paused["writes_by_b"] = sf_writes(world)
            paused["counts_by_b"] = SyncRun.objects.get(pk=run.pk).counts
        return real_update(gateway, sobject, records)

    monkeypatch.setattr(SalesforceGateway, "update", update)
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    runner.execute(run.pk)  # worker A

    assert paused["done"]
    assert sf_writes(world) == paused["writes_by_b"]  # A wrote nothing after waking
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.counts == paused["counts_by_b"]  # and did not overwrite B's counts
    assert all(world.opted_out(c) for c in contacts)


def test_the_dispatcher_resumes_a_run_whose_worker_went_quiet(world, monkeypatch):
    sent = []
    monkeypatch.setattr(runner, "_send", lambda run: sent.append(run.pk) or True)
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.MANUAL,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(minutes=10),
        heartbeat_at=timezone.now() - timedelta(seconds=30),
    )
    dispatch.dispatch_due()
    assert sent == []  # still beating

    # A minute of the heartbeat going stale, not a manual trigger, is what it takes.
    later = timezone.now() + runner.STALE_AFTER + timedelta(seconds=30)
    dispatch.dispatch_due(later)
    assert sent == [run.pk]
    assert runner.STALE_AFTER <= timedelta(minutes=2)


def test_a_queued_run_whose_task_never_reached_the_broker_is_sent_again(world, monkeypatch):
    sent = []
    monkeypatch.setattr(runner, "_send", lambda run: sent.append(run.pk) or True)
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.MANUAL)  # enqueued_at stays empty

    dispatch.dispatch_due()

    assert sent == [run.pk]


def test_sync_now_again_sends_a_queued_run_whose_task_was_lost(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(runner, "_send", lambda run: sent.append(run.pk) or True)
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.MANUAL)

    with django_capture_on_commit_callbacks(execute=True):
        again, created = runner.request_run(SyncRun.Trigger.MANUAL)

    assert (again.pk, created) == (run.pk, False)
    assert sent == [run.pk]


@pytest.mark.django_db(transaction=True)
def test_a_database_error_while_finishing_still_finishes_the_run(world, monkeypatch):
    world.subscriber(world.list_a, "fin@example.com", "Unsubscribed")
    contact = world.contact("fin@example.com")
    real = runner._store_outcome
    failures = {"left": 1}

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_store_outcome", flaky)
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)

    finished = runner.execute(run.pk)

    assert finished.status == SyncRun.Status.SUCCEEDED
    run.refresh_from_db()
    assert (run.status, run.active) == (SyncRun.Status.SUCCEEDED, None)
    assert world.opted_out(contact) is True


def test_a_database_error_during_a_run_fails_it_with_a_plain_sentence(world, monkeypatch):
    from sync import steps

    def broken(ctx):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(steps, "opt_out", broken)
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)

    finished = runner.execute(run.pk)

    assert finished.status == SyncRun.Status.FAILED
    assert "database" in finished.last_error and "Unexpected" not in finished.last_error
    assert not SyncRun.objects.filter(active=True).exists()


@pytest.mark.django_db
def test_a_request_racing_the_end_of_the_active_run_queues_a_new_one(monkeypatch):
    """The insert meets the active run, which finishes before it can be read back (a burst of
    webhook batches does this): the request asks again and queues a new run, not a 500."""
    create = SyncRun.objects.create
    calls = []

    def racing(**fields):
        calls.append(fields)
        if len(calls) == 1:  # the active run was there, and is gone by now
            from django.db import IntegrityError

            raise IntegrityError("UNIQUE constraint failed: sync_syncrun.kind, sync_syncrun.active")
        return create(**fields)

    monkeypatch.setattr(SyncRun.objects, "create", racing)
    run, created = runner.request_run(
        SyncRun.Trigger.WEBHOOK, kind=SyncRun.Kind.CM_EVENTS, send=False
    )
    assert created and len(calls) == 2
    assert SyncRun.objects.get(active=True) == run


@pytest.mark.parametrize(
    "refusal, words",
    [
        (sf_errors.LimitExceededError("REQUEST_LIMIT_EXCEEDED"), "daily API limit"),
        (cm_errors.RateLimitedError("429"), "rate limit"),
    ],
)
def test_a_limit_hit_while_the_run_is_set_up_still_finishes_the_run(
    world, monkeypatch, refusal, words
):
    """Refused before the run had its context (signing in, reading the connection): the run
    ends as a partial one saying why, instead of crashing on the missing context."""

    def refused(run, generation):
        raise refusal

    monkeypatch.setattr(runner, "_context", refused)
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)

    finished = runner.execute(run.pk)

    assert finished.status == SyncRun.Status.PARTIAL
    assert words in finished.last_error
