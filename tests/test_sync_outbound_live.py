"""An Outbound Message end to end: the Salesforce emulator posts it to cmsync's web server,
which queues a run through the broker; a real worker unsubscribes in Campaign Monitor."""

import pytest

from sync import change_poll, outbound
from sync.models import SyncRun

from .test_sync_celery import wait_for
from .test_sync_changes import cm_state

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_an_outbound_message_from_salesforce_unsubscribes_through_the_worker(
    world, live_server, celery_processes, sync_worker
):
    world.subscriber(world.list_a, "live@example.com", "Active")
    contact = world.contact("live@example.com")
    change_poll.poll()  # the baseline
    secret = outbound.new_secret()
    world.sf.add_outbound_message(
        f"{live_server.url}/sync/outbound/{secret}/",
        "Contact",
        ["Email", "HasOptedOutOfEmail", "SystemModstamp"],
        retry_delays=[0.2, 0.2],
    )

    (result,) = world.gateway.update("Contact", [{"Id": contact, "HasOptedOutOfEmail": True}])
    assert result.success
    assert world.sf.wait_outbound(15)

    (delivery,) = world.sf.outbound_deliveries()
    assert delivery["status"] == 200 and delivery["ack"] is True
    run = wait_for(
        lambda: SyncRun.objects.filter(
            kind=SyncRun.Kind.CHANGES, status__in=["succeeded", "partial", "failed"]
        ).first()
    )
    assert run.trigger == SyncRun.Trigger.OUTBOUND and run.status == SyncRun.Status.SUCCEEDED
    assert cm_state(world, world.list_a, "live@example.com") == "Unsubscribed"

    # Salesforce delivers it again: acknowledged, and nothing more happens.
    world.sf.redeliver_last()
    assert world.sf.wait_outbound(15)
    assert world.sf.outbound_deliveries()[-1]["ack"] is True
    assert SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES).count() == 1
