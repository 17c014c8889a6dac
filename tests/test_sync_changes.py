"""Salesforce → Campaign Monitor: change detection and the reactions the general options allow,
against both emulators over HTTP."""

import time

import pytest

from campaign_monitor.models import Connection
from maintenance.models import Message
from settings_app.models import GeneralSettings
from sync import change_poll, echo, runner
from sync.models import SalesforceChange, SyncRun, WatchedRecord

pytestmark = pytest.mark.django_db


def cm_state(world, list_id: str, email: str) -> str:
    """The subscriber's state as Campaign Monitor reports it (its subscriber details)."""
    api = Connection.current().api()
    return api.get(f"subscribers/{list_id}.json", {"email": email})["State"]


def react(world) -> SyncRun | None:
    """One poll, then the "Salesforce changes" run it queued, as the worker would run it."""
    change_poll.poll()
    run = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES, active=True).first()
    return runner.execute(run.pk) if run else None


def set_fields(world, record_id: str, sobject: str = "Contact", **fields) -> None:
    (result,) = world.gateway.update(sobject, [{"Id": record_id, **fields}])
    assert result.success, result.errors


def delete(world, *record_ids: str) -> None:
    assert all(r.success for r in world.gateway.delete(record_ids))


def unsubscribe_calls(world) -> int:
    return sum(n for path, n in world.cm.request_counts().items() if "unsubscribe" in path)


@pytest.fixture
def watching(world):
    """Change detection started (baseline taken) and its first re-read drained."""
    change_poll.poll()
    assert GeneralSettings.get_solo().unsubscribe_on_opt_out  # the default
    react(world)
    return world


def test_opt_out_ticked_unsubscribes_from_every_list_it_is_on(watching):
    world = watching
    world.subscriber(world.list_a, "ann@example.com", "Active")
    world.subscriber(world.list_b, "ann@example.com", "Active")
    world.subscriber(world.other_list, "ann@example.com", "Active")  # a client not connected
    world.sync()
    ann = world.contact("ann@example.com")

    set_fields(world, ann, HasOptedOutOfEmail=True)
    run = react(world)

    assert run.kind == SyncRun.Kind.CHANGES and run.status == SyncRun.Status.SUCCEEDED
    assert cm_state(world, world.list_a, "ann@example.com") == "Unsubscribed"
    assert cm_state(world, world.list_b, "ann@example.com") == "Unsubscribed"
    assert cm_state(world, world.other_list, "ann@example.com") == "Active"
    assert run.counts["unsubscribe"]["written"] == 2
    change = SalesforceChange.objects.get(record_id=ann, opted_out=True)
    assert change.outcome == "unsubscribed from 2 list(s)" and change.run == run


def test_lead_opt_out_unsubscribes_too(watching):
    world = watching
    world.subscriber(world.list_a, "leo@example.com", "Active")
    leo = world.contact("leo@example.com", sobject="Lead")
    set_fields(world, leo, "Lead", HasOptedOutOfEmail=True)
    react(world)
    assert cm_state(world, world.list_a, "leo@example.com") == "Unsubscribed"


def test_opt_out_with_the_option_off_changes_nothing(watching):
    world = watching
    GeneralSettings.objects.update(unsubscribe_on_opt_out=False)
    world.subscriber(world.list_a, "bea@example.com", "Active")
    bea = world.contact("bea@example.com")
    set_fields(world, bea, HasOptedOutOfEmail=True)
    react(world)
    assert cm_state(world, world.list_a, "bea@example.com") == "Active"
    change = SalesforceChange.objects.get(record_id=bea, opted_out=True)
    assert "is off" in change.outcome


def test_the_same_change_seen_twice_acts_once(watching):
    world = watching
    world.subscriber(world.list_a, "cat@example.com", "Active")
    cat = world.contact("cat@example.com")
    set_fields(world, cat, HasOptedOutOfEmail=True)
    react(world)
    assert unsubscribe_calls(world) == 1

    # The overlap reads it again; a later, unrelated edit shows the same opt-out.
    world.subscriber(world.list_a, "cat@example.com", "Active", minutes_later=1)  # resubscribed
    react(world)
    set_fields(world, cat, LastName="Renamed")
    react(world)
    assert unsubscribe_calls(world) == 1
    assert cm_state(world, world.list_a, "cat@example.com") == "Active"


def test_a_record_created_opted_out_is_unsubscribed(watching):
    world = watching
    world.subscriber(world.list_a, "new@example.com", "Active")
    world.contact("new@example.com", opted_out=True)
    react(world)
    assert cm_state(world, world.list_a, "new@example.com") == "Unsubscribed"


def test_records_opted_out_before_watching_began_are_not_acted_on(world):
    world.subscriber(world.list_a, "old@example.com", "Active")
    old = world.contact("old@example.com", opted_out=True)
    change_poll.poll()  # baseline: old is known to be opted out already
    set_fields(world, old, LastName="Edited")
    react(world)
    assert unsubscribe_calls(world) == 0
    assert WatchedRecord.objects.get(record_id=old).opted_out


def test_deleted_contact_is_set_to_deleted_on_its_lists(watching):
    world = watching
    GeneralSettings.objects.update(delete_subscriber_on_record_delete=True)
    world.cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")  # A stays active
    world.subscriber(world.list_a, "dan@example.com", "Active")
    world.subscriber(world.list_b, "dan@example.com", "Unsubscribed")
    dan = world.contact("dan@example.com")
    delete(world, dan)

    run = react(world)

    assert cm_state(world, world.list_a, "dan@example.com") == "Deleted"
    # Unsubscribed is stronger than Deleted (an import may bring a deleted one back).
    assert cm_state(world, world.list_b, "dan@example.com") == "Unsubscribed"
    assert run.counts["delete"]["written"] == 1


def test_deletion_is_skipped_while_another_record_has_the_email(watching):
    world = watching
    GeneralSettings.objects.update(delete_subscriber_on_record_delete=True)
    world.subscriber(world.list_a, "eve@example.com", "Active")
    contact = world.contact("eve@example.com")
    world.contact("EVE@example.com", sobject="Lead")
    delete(world, contact)

    run = react(world)

    assert cm_state(world, world.list_a, "eve@example.com") == "Active"
    message = Message.objects.get(code="SF_DELETE_KEPT")
    assert message.run == run and "eve@example.com" in message.summary
    assert message.severity == Message.Severity.INFO
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.counts["delete"]["skipped"] == 1


def test_deletion_with_the_option_off_changes_nothing(watching):
    world = watching
    world.subscriber(world.list_a, "fay@example.com", "Active")
    fay = world.contact("fay@example.com")
    delete(world, fay)
    react(world)
    assert cm_state(world, world.list_a, "fay@example.com") == "Active"


def test_disabled_triggers_do_nothing_and_say_protection_is_off(watching, client, admin_user):
    world = watching
    GeneralSettings.objects.update(disable_triggers=True, delete_subscriber_on_record_delete=True)
    world.subscriber(world.list_a, "gus@example.com", "Active")
    world.subscriber(world.list_a, "gil@example.com", "Active")
    gus = world.contact("gus@example.com")
    gil = world.contact("gil@example.com")
    set_fields(world, gus, HasOptedOutOfEmail=True)
    delete(world, gil)

    assert react(world) is None

    assert cm_state(world, world.list_a, "gus@example.com") == "Active"
    assert cm_state(world, world.list_a, "gil@example.com") == "Active"
    client.force_login(admin_user)
    assert "Protection is off" in client.get("/sync/").text

    # Switched back on: what happened meanwhile is never acted on; new changes are.
    GeneralSettings.objects.update(disable_triggers=False)
    react(world)  # a new baseline
    assert cm_state(world, world.list_a, "gus@example.com") == "Active"
    world.subscriber(world.list_a, "hal@example.com", "Active")
    hal = world.contact("hal@example.com")
    set_fields(world, hal, HasOptedOutOfEmail=True)
    react(world)
    assert cm_state(world, world.list_a, "hal@example.com") == "Unsubscribed"
    assert "Protection is off" not in client.get("/sync/").text


def test_bulk_triggers_disabled_processes_only_the_first_of_a_batch(watching):
    world = watching
    GeneralSettings.objects.update(disable_bulk_triggers=True)
    emails = ["b1@example.com", "b2@example.com", "b3@example.com"]
    ids = []
    for email in emails:
        world.subscriber(world.list_a, email, "Active")
        ids.append(world.contact(email))
    react(world)  # the creations

    time.sleep(1.05 - time.time() % 1)  # one Salesforce transaction: one second's stamp
    results = world.gateway.update(
        "Contact", [{"Id": record_id, "HasOptedOutOfEmail": True} for record_id in ids]
    )
    assert all(r.success for r in results)
    run = react(world)

    states = [cm_state(world, world.list_a, email) for email in emails]
    assert states == ["Unsubscribed", "Active", "Active"]
    assert run.counts["changes"]["skipped"] == 2


def test_no_ping_pong_with_the_primary_sync_opt_out(world):
    world.subscriber(world.list_a, "ivy@example.com", "Unsubscribed")
    world.subscriber(world.list_b, "ivy@example.com", "Deleted")
    world.subscriber(world.list_b, "joe@example.com", "Active")
    ivy = world.contact("ivy@example.com")
    joe = world.contact("joe@example.com", opted_out=True)
    react(world)  # the baseline: Joe is known to be opted out
    react(world)

    world.sync()  # writes Ivy's opt-out (true) and Joe's (false)
    assert world.opted_out(ivy) is True and world.opted_out(joe) is False
    calls = world.cm.request_counts()
    run = react(world)

    assert world.cm.request_counts() == calls  # no unsubscribe, no delete, not even a lookup
    assert cm_state(world, world.list_b, "ivy@example.com") == "Deleted"
    outcomes = set(SalesforceChange.objects.filter(run=run).values_list("outcome", flat=True))
    assert outcomes == {"cmsync's own write, no reaction"}

    # Later, someone ticking Joe's opt-out in Salesforce is acted on again.
    set_fields(world, joe, HasOptedOutOfEmail=True)
    react(world)
    assert cm_state(world, world.list_b, "joe@example.com") == "Unsubscribed"


def test_the_value_from_before_cmsyncs_own_write_is_not_a_new_tick(world):
    """The poll may read a record just before the primary sync's write lands."""
    world.subscriber(world.list_a, "kim@example.com", "Active")
    kim = world.contact("kim@example.com", opted_out=True)
    react(world)  # the baseline
    react(world)
    echo.expect_opt_out([("Contact", kim, "kim@example.com")], False)  # write in flight
    set_fields(world, kim, LastName="Edited")  # still shows true: the old value

    react(world)

    assert unsubscribe_calls(world) == 0
    assert cm_state(world, world.list_a, "kim@example.com") == "Active"


def test_a_failed_cm_reaction_becomes_a_message_and_the_rest_goes_on(watching):
    world = watching
    world.subscriber(world.list_a, "lou@example.com", "Active")
    world.subscriber(world.list_a, "max@example.com", "Active")
    lou = world.contact("lou@example.com")
    mx = world.contact("max@example.com")
    react(world)
    world.cm.add_fault(status=400, count=1, path="unsubscribe")
    world.gateway.update("Contact", [{"Id": i, "HasOptedOutOfEmail": True} for i in (lou, mx)])

    run = react(world)

    message = Message.objects.get(code="CM_REACTION_FAILED")
    assert message.run == run and message.upstream_message
    assert run.counts["unsubscribe"] == {
        "read": 2,
        "written": 1,
        "unchanged": 0,
        "failed": 1,
    }
    assert run.status == SyncRun.Status.PARTIAL


def test_account_changes_are_read_only_with_the_account_trigger_on(watching):
    world = watching
    (account,) = world.gateway.create("Account", [{"Name": "Acme"}])
    react(world)
    assert not SalesforceChange.objects.filter(sobject="Account").exists()

    GeneralSettings.objects.update(enable_account_trigger=True)
    react(world)  # the account cursor starts now
    world.gateway.update("Account", [{"Id": account.id, "Name": "Acme Ltd"}])
    react(world)
    change = SalesforceChange.objects.get(sobject="Account", record_id=account.id)
    assert change.processed_at is not None


def test_poll_interval_follows_the_sync_settings(world):
    from datetime import timedelta

    from django.utils import timezone

    from settings_app.models import SyncSettings

    assert change_poll.poll_due()
    change_poll.poll()
    now = timezone.now()
    assert not change_poll.poll_due(now + timedelta(minutes=4))
    assert change_poll.poll_due(now + timedelta(minutes=5))
    SyncSettings.objects.update(change_poll_minutes=1)
    assert change_poll.poll_due(now + timedelta(minutes=1))


def test_a_poll_failure_is_one_message_and_the_next_poll_recovers(watching, settings):
    settings.SALESFORCE_RETRY_BACKOFF_SECONDS = 0.001  # retried as usual, without the pauses
    world = watching
    world.sf.add_fault("server_unavailable", count=20, path="/queryAll")
    change_poll.poll()
    change_poll.poll()
    assert Message.objects.filter(code="SF_CHANGE_POLL_FAILED").count() == 1
    world.sf.clear_faults()
    world.subscriber(world.list_a, "ned@example.com", "Active")
    ned = world.contact("ned@example.com")
    set_fields(world, ned, HasOptedOutOfEmail=True)
    react(world)
    assert cm_state(world, world.list_a, "ned@example.com") == "Unsubscribed"


def test_the_poll_changes_command_reacts_without_a_worker(watching):
    from io import StringIO

    from django.core.management import call_command

    world = watching
    world.subscriber(world.list_a, "cmd@example.com", "Active")
    record_id = world.contact("cmd@example.com")
    set_fields(world, record_id, HasOptedOutOfEmail=True)
    out = StringIO()
    call_command("poll_changes", "--wait", stdout=out)
    assert "Succeeded" in out.getvalue()
    assert cm_state(world, world.list_a, "cmd@example.com") == "Unsubscribed"


def test_the_history_lists_reaction_runs_apart(watching, client, admin_user):
    world = watching
    world.subscriber(world.list_a, "his@example.com", "Active")
    set_fields(world, world.contact("his@example.com"), HasOptedOutOfEmail=True)
    run = react(world)
    world.sync()
    client.force_login(admin_user)
    page = client.get("/sync/runs/?kind=changes").text
    assert f'href="/sync/runs/{run.pk}/"' in page and "<td>Primary sync</td>" not in page
    detail = client.get(f"/sync/runs/{run.pk}/").text
    assert "Unsubscribed in Campaign Monitor" in detail and "Skipped" in detail
    assert "Salesforce changes run" in detail
    row = detail.split("his@example.com")[1].split("</tr>")[0]
    assert "Email Opt Out ticked" in row and "unsubscribed from 1 list(s)" in row
    api = client.get("/api/v1/runs/?kind=changes").json()
    assert [r["id"] for r in api["results"]] == [run.pk]
