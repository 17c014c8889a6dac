"""Salesforce stamps to the whole second: many changes share a SystemModstamp, and one record
may change twice in one second. The changes poll misses none, acts on none twice, and an
older state of a record never wins over a later one of the same second."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from sync import change_poll, outbound
from sync.models import SalesforceChange, WatchedRecord

from .test_sync_changes import cm_state, react, unsubscribe_calls
from .test_sync_outbound import post, run_queued, soap

pytestmark = pytest.mark.django_db


def in_one_second(moment: datetime):
    """Salesforce's clock (and everyone's) standing still within one second."""
    return time_machine.travel(moment, tick=False)


def next_second() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1, milliseconds=300)


def test_many_changes_in_one_second_each_act_once(world):
    emails = [f"same{n}@example.com" for n in range(30)]
    for email in emails:
        world.subscriber(world.list_a, email, "Active")
    created = world.gateway.create("Contact", [{"LastName": "Same", "Email": e} for e in emails])
    ids = [r.id for r in created]
    change_poll.poll()  # the baseline
    react(world)

    moment = next_second()
    with in_one_second(moment):  # half the opt-outs, then a poll, all in one second
        world.gateway.update("Contact", [{"Id": i, "HasOptedOutOfEmail": True} for i in ids[:15]])
    react(world)
    with in_one_second(moment):  # the other half, stamped with the same second
        world.gateway.update("Contact", [{"Id": i, "HasOptedOutOfEmail": True} for i in ids[15:]])
    react(world)
    react(world)  # the overlap read again: nothing new

    stamps = {
        r["SystemModstamp"]
        for r in world.gateway.query("SELECT SystemModstamp FROM Contact WHERE LastName = 'Same'")
    }
    assert stamps == {moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
    assert all(cm_state(world, world.list_a, e) == "Unsubscribed" for e in emails)
    assert unsubscribe_calls(world) == 30  # every one, and none twice
    assert WatchedRecord.objects.filter(record_id__in=ids, opted_out=True).count() == 30


def test_a_second_change_in_the_same_second_is_not_taken_for_the_first(world):
    world.subscriber(world.list_a, "flip@example.com", "Active")
    flip = world.contact("flip@example.com")
    change_poll.poll()
    react(world)

    moment = next_second()
    with in_one_second(moment):
        world.gateway.update("Contact", [{"Id": flip, "HasOptedOutOfEmail": True}])
    react(world)  # read while ticked: unsubscribed
    with in_one_second(moment):
        world.gateway.update("Contact", [{"Id": flip, "HasOptedOutOfEmail": False}])
    react(world)  # the same stamp, another value: read, not dropped as already seen

    seen = SalesforceChange.objects.filter(
        record_id=flip, source="poll", modstamp=moment.replace(microsecond=0)
    )
    assert sorted(c.opted_out for c in seen) == [False, True]
    assert WatchedRecord.objects.get(record_id=flip).opted_out is False


def test_an_older_state_of_the_same_second_arriving_late_never_wins(world, client):
    """Ticked and unticked in one second; the poll read the latest; the Outbound Message of
    the tick arrives late, with the same stamp. Salesforce's current value decides."""
    world.subscriber(world.list_a, "late@example.com", "Active")
    late = world.contact("late@example.com")
    change_poll.poll()
    react(world)
    secret = outbound.new_secret()

    moment = next_second()
    with in_one_second(moment):
        world.gateway.update("Contact", [{"Id": late, "HasOptedOutOfEmail": True}])
        world.gateway.update("Contact", [{"Id": late, "HasOptedOutOfEmail": False}])
    react(world)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ticked = {"Id": late, "Email": "late@example.com", "HasOptedOutOfEmail": "true"}
    body = soap(world.sf_connection.org_id, {**ticked, "SystemModstamp": stamp})
    assert post(client, secret, body).status_code == 200
    run_queued()

    assert cm_state(world, world.list_a, "late@example.com") == "Active"
    assert unsubscribe_calls(world) == 0
    change = SalesforceChange.objects.get(record_id=late, source="outbound")
    assert change.outcome == "not acted on: older than a change already handled"
