"""Campaign Monitor webhooks end to end: the emulator posts its list webhook batches to
cmsync's web server, which queues a run through the broker; a real worker writes Salesforce.
No primary sync runs after the webhooks are registered."""

import pytest
import requests

from campaign_monitor.models import Connection
from sync import webhooks
from sync.models import CampaignMonitorEvent, SyncRun

from .test_cm_webhooks import map_website
from .test_field_mappings import cm_fields, record
from .test_sync_celery import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

FINISHED = ("succeeded", "partial", "failed")


def event_runs():
    return SyncRun.objects.filter(kind=SyncRun.Kind.CM_EVENTS)


def test_campaign_monitor_changes_reach_salesforce_through_the_worker(
    world, live_server, celery_processes, sync_worker, settings
):
    settings.CMSYNC_URL = live_server.url
    world.cm.set_webhook_retry_delays([0.2, 0.2])
    map_website(world)
    world.subscriber(world.list_a, "live@example.com", "Active")
    contact = world.contact("live@example.com")
    lead = world.contact("LIVE@example.com", sobject="Lead")
    assert world.sync().status == SyncRun.Status.SUCCEEDED  # registers the webhooks
    assert all(h["Url"] == webhooks.url() for h in world.cm.webhooks())
    primary_runs = SyncRun.objects.filter(kind=SyncRun.Kind.PRIMARY).count()

    # Someone unsubscribes in Campaign Monitor: every matching Contact and Lead opts out.
    Connection.current().api().unsubscribe(world.list_a, "live@example.com")
    wait_for(lambda: world.opted_out(contact) and world.opted_out(lead, "Lead"), 60)
    run = wait_for(lambda: event_runs().filter(status__in=FINISHED).first(), 30)
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert run.trigger == SyncRun.Trigger.WEBHOOK

    # A custom field edited in Campaign Monitor reaches the mapped Salesforce field.
    cm_fields(world, world.list_a, "live@example.com", ("website", "https://live.example"))
    wait_for(lambda: record(world, contact, "Website__c")["Website__c"] == "https://live.example")

    # Campaign Monitor delivers the last batch again: answered 200, and nothing more happens.
    assert world.cm.wait_webhooks(15)
    wait_for(lambda: not event_runs().filter(active=True).exists(), 30)
    events, runs = CampaignMonitorEvent.objects.count(), event_runs().count()
    world.cm.redeliver_last_webhook()
    assert world.cm.wait_webhooks(15)
    last = world.cm.webhook_deliveries()[-1]
    assert last["redelivery"] and last["status"] == 200
    assert (CampaignMonitorEvent.objects.count(), event_runs().count()) == (events, runs)

    # A batch to a wrong secret is refused, with nothing stored.
    body = {"Events": [], "ListID": world.list_a}
    refused = requests.post(f"{live_server.url}/campaign-monitor/webhook/wrong/", json=body)
    assert refused.status_code == 404
    assert CampaignMonitorEvent.objects.count() == events

    assert SyncRun.objects.filter(kind=SyncRun.Kind.PRIMARY).count() == primary_runs
