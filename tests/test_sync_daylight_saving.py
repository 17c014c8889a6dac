"""The primary sync across Sydney's daylight saving changes, against both emulators over HTTP.

Campaign Monitor shows and takes dates in the account's local time with no offset. Around a
change the offset moves (UTC+10:00 ↔ UTC+11:00): a sync that read dates with one fixed offset
would ask for a local time the clocks skip, or jump its cursors an hour ahead and miss what
happened in between, or give an event read twice two different keys. Here the whole process
(cmsync and both emulators) is moved to just before each change with time_machine, and
subscriber changes and tracking events made just before, during and after it must all reach
Salesforce exactly once.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from sync.models import SyncRun

pytestmark = pytest.mark.django_db

# 2026-10-04 02:00 AEST → 03:00 AEDT; 2026-04-05 03:00 AEDT → 02:00 AEST (both 16:00 UTC).
SPRING_FORWARD = datetime(2026, 10, 3, 16, 0, tzinfo=UTC)
FALL_BACK = datetime(2026, 4, 4, 16, 0, tzinfo=UTC)


def sync(world) -> SyncRun:
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    return run


@pytest.mark.parametrize("change", [SPRING_FORWARD, FALL_BACK], ids=["spring-forward", "fall-back"])
def test_changes_around_a_daylight_saving_change_all_reach_salesforce(world, change):
    # Each step: minutes from the change, who unsubscribes, who opens the campaign.
    steps = [(-5, "bo", "bo"), (5, "cy", "cy"), (20, "di", "di"), (70, "ed", "ed")]
    people = ["ann", *(who for _, who, _ in steps)]
    contacts = {name: world.contact(f"{name}@example.com") for name in people}
    with time_machine.travel(change - timedelta(minutes=40), tick=True):
        world.subscriber(world.list_b, "ann@example.com", "Active")  # stays active
        world.cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")
        campaign = world.campaign("Daylight", [f"{name}@example.com" for name in people], -10)
        sync(world)
    expected_events = {(f"{name}@example.com", "Sent") for name in people}
    assert {(r["CM_Email__c"], r["CM_Type__c"]) for r in world.tracking()} == expected_events

    for minutes, leaver, reader in steps:
        with time_machine.travel(change + timedelta(minutes=minutes), tick=True):
            world.subscriber(world.list_a, f"{leaver}@example.com", "Unsubscribed", -1)
            world.event(campaign, "open", f"{reader}@example.com", minutes=-1)
            sync(world)
        expected_events.add((f"{reader}@example.com", "Opened"))
        rows = world.tracking()
        assert sorted((r["CM_Email__c"], r["CM_Type__c"]) for r in rows) == sorted(
            expected_events
        ), f"{minutes} minutes after the change"
        assert world.opted_out(contacts[leaver]), f"{leaver} opted out {minutes} min after"

    assert not world.opted_out(contacts["ann"])
    # Outside the repeated fall-back hour every event keeps its exact instant.
    opened = {
        r["CM_Email__c"]: datetime.fromisoformat(r["CM_Event_Date__c"].replace("Z", "+00:00"))
        for r in world.tracking()
        if r["CM_Type__c"] == "Opened"
    }
    repeated = change == FALL_BACK
    for minutes, _, reader in steps:
        if repeated and 0 <= minutes < 60:
            continue  # 02:00-02:59 twice: the API's local time cannot say which
        assert opened[f"{reader}@example.com"] == change + timedelta(minutes=minutes - 1)

    with time_machine.travel(change + timedelta(minutes=90), tick=True):
        run = sync(world)  # a quiet run after it all writes nothing again
    assert run.counts["tracking"]["written"] == 0
    assert len(world.tracking()) == len(expected_events)
