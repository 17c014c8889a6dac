"""The primary sync through Salesforce's Bulk API 2.0 (issue 19): the same end state as
through sObject Collections, failed rows as the same maintenance messages that Retry writes,
a job Salesforce fails as a whole, and Cancel while a job runs."""

import threading

import pytest
from django.db import connection

from emulators.salesforce import SalesforceEmulator
from maintenance.models import Message
from sync.models import SubscriberState, SyncRun

from .conftest import control
from .sync_world import World
from .test_sync_celery import wait_for
from .test_sync_determinism import build_campaign_monitor, differences, end_state, people, prepare


def sync_with_threshold(settings, threshold: int, cm, django_user_model, build: bool) -> dict:
    settings.SALESFORCE_BULK_THRESHOLD = threshold
    with SalesforceEmulator(seed="empty") as sf:
        for sobject, records in people().items():
            assert all(r["success"] for r in sf.insert(sobject, records))
        world = prepare(cm, sf, django_user_model)
        if build:
            build_campaign_monitor(world)
        run = world.sync(full=True)
        assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
        jobs = sf.bulk_status()["jobs"]
        return {"state": end_state(world), "jobs": jobs}


@pytest.mark.django_db(transaction=True)
def test_bulk_and_collections_give_the_same_salesforce_end_state(
    cm_empty, django_user_model, settings
):
    through_collections = sync_with_threshold(settings, 10**9, cm_empty, django_user_model, True)
    through_bulk = sync_with_threshold(settings, 1, cm_empty, django_user_model, False)

    assert through_collections["jobs"] == {}
    assert through_bulk["jobs"].get("JobComplete", 0) >= 4  # opt-outs, lists, members, tracking
    assert set(through_bulk["jobs"]) == {"JobComplete"}
    first, second = through_collections["state"], through_bulk["state"]
    assert differences(first, second)[:20] == []
    kinds = {key.split(" ", 1)[0] for key in second}
    assert kinds == {"Contact", "Lead", "campaign", "status", "member", "tracking", "membership"}


@pytest.fixture
def bulk(settings):
    settings.SALESFORCE_BULK_THRESHOLD = 3
    return settings


def memberships(world: World) -> list[str]:
    rows = world.gateway.query("SELECT CM_Email__c FROM CM_List_Membership__c")
    return sorted(r["CM_Email__c"] for r in rows)


def subscribers(world: World, emails: list[str]) -> None:
    for email in emails:
        world.subscriber(world.list_a, email, "Active")
        world.contact(email)


@pytest.mark.django_db
def test_failed_bulk_rows_become_the_same_messages_and_retry_writes_them(world, bulk, monkeypatch):
    import salesforce.gateway as gateway

    monkeypatch.setattr(gateway, "LOCK_RETRY_PAUSES", (0.01,))
    emails = [f"b{i}@example.com" for i in range(6)]
    subscribers(world, [*emails, "blocked@example.com"])
    world.sf.add_validation_rule(
        object="CM_List_Membership__c",
        field="CM_Email__c",
        equals="blocked@example.com",
        message="No memberships for this address",
    )
    # Two rows locked in the job, and still locked when written again through Collections.
    world.sf.add_fault("bulk_unable_to_lock_row", count=2, path="/jobs/ingest")
    world.sf.add_fault("unable_to_lock_row", count=2, path="CM_List_Membership__c")
    run = world.sync()

    assert run.status == SyncRun.Status.PARTIAL
    assert world.sf.bulk_status()["jobs"] == {"JobComplete": 1}
    messages = Message.objects.filter(run=run, step="memberships").order_by("pk")
    assert sorted(m.code for m in messages) == [
        "SF_RECORD_LOCKED",
        "SF_RECORD_LOCKED",
        "SF_VALIDATION_RULE",
    ]
    refused = messages.get(code="SF_VALIDATION_RULE")
    assert refused.upstream_message == "No memberships for this address"
    assert refused.record["operation"] == "upsert:CM_Membership_Key__c"
    assert refused.record["fields"]["CM_Email__c"] == "blocked@example.com"
    assert refused.client_id == world.client["ClientID"]
    assert all(m.retryable for m in messages)
    assert run.counts["memberships"] == {"read": 7, "written": 4, "unchanged": 0, "failed": 3}
    assert len(memberships(world)) == 4
    assert not SubscriberState.objects.filter(membership_pending=True).exists()

    world.sf.clear_validation_rules()
    messages.update(retry_requested=True)
    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert memberships(world) == sorted([*emails, "blocked@example.com"])
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_job_salesforce_fails_as_a_whole_stops_the_run_and_the_rows_wait(world, bulk):
    emails = [f"w{i}@example.com" for i in range(5)]
    subscribers(world, emails)
    world.sf.add_fault("bulk_job_failed", count=1, path="/jobs/ingest")
    run = world.sync()
    assert run.status == SyncRun.Status.FAILED
    assert run.last_error.startswith("The run stopped: Salesforce did not process a Bulk API job")
    assert "they are written at the next run" in run.last_error
    assert "Traceback" not in run.last_error and "<" not in run.last_error

    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert memberships(world) == sorted(emails)


@pytest.mark.django_db(transaction=True)
def test_cancel_while_a_bulk_job_runs_aborts_it_and_the_rows_wait(world, bulk):
    emails = [f"c{i}@example.com" for i in range(5)]
    subscribers(world, emails)
    world.sf.pause_bulk(True)  # the first job waits in UploadComplete
    ended = {}

    def run_it() -> None:
        try:
            ended["run"] = world.sync()
        finally:
            connection.close()

    worker = threading.Thread(target=run_it)
    worker.start()
    wait_for(lambda: world.sf.bulk_status()["jobs"].get("UploadComplete"), 30)
    SyncRun.objects.filter(active=True).update(cancel_requested=True)
    worker.join(60)
    assert not worker.is_alive()
    assert ended["run"].status == SyncRun.Status.CANCELLED
    assert world.sf.bulk_status()["jobs"] == {"Aborted": 1}
    world.sf.pause_bulk(False)
    control(world.sf, "POST", "bulk/wait", json={"timeout": 10})

    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert memberships(world) == sorted(emails)


@pytest.mark.django_db
def test_tracking_read_before_a_failed_job_is_read_and_written_again(world, settings):
    from sync.models import Cursor, TrackedEvent

    settings.SALESFORCE_BULK_THRESHOLD = 4  # only the tracking rows make a job
    world.contact("t@example.com")
    campaign = world.campaign("Bulk tracking", ["t@example.com"])
    world.event(campaign, "open", "t@example.com", minutes=-50)
    world.event(campaign, "open", "t@example.com", minutes=-40)
    world.event(campaign, "click", "t@example.com", minutes=-30, url="https://a.example/")
    world.sf.add_fault("bulk_job_failed", count=1, path="/jobs/ingest")
    failed = world.sync()
    assert failed.status == SyncRun.Status.FAILED
    assert world.sf.bulk_status()["jobs"] == {"Failed": 1}
    assert world.tracking() == []
    assert not Cursor.objects.filter(stream__startswith="tracking:").exists()
    assert not TrackedEvent.objects.exists()

    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert sorted(r["CM_Type__c"] for r in world.tracking()) == [
        "Clicked",
        "Opened",
        "Opened",
        "Sent",
    ]
    assert world.sf.bulk_status()["jobs"] == {"Failed": 1, "JobComplete": 1}
