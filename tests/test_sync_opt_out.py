"""The primary sync's subscriber and opt-out steps against both emulators, over HTTP.

DESIGN.md §5: look at an email's state on every list of every connected client, ignoring lists
it was never on. Active on at least one → opt-out false. Otherwise all Unsubscribed/Deleted
with at least one Unsubscribed → true. Anything else → leave the field alone. Every Contact and
Lead with that email, case-insensitively; only write when the value differs. An address on a
connected client's suppression list counts as unsubscribed everywhere unless it is Active
(cleared) or Unconfirmed (left alone) on a connected list.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from campaign_monitor.models import Connection
from campaign_monitor.records import NewSubscriber
from maintenance.models import Message
from settings_app.models import GeneralSettings
from sync import runner
from sync.models import SubscriberState, SuppressedEmail, SyncRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "states, before, after",
    [
        ({"a": "Active", "b": "Unsubscribed"}, True, False),  # active somewhere
        ({"a": "Unsubscribed", "b": "Unsubscribed"}, False, True),  # unsubscribed everywhere
        ({"a": "Unsubscribed", "b": "Deleted"}, False, True),
        ({"a": "Unsubscribed"}, False, True),  # the list it was never on is ignored
        ({"a": "Deleted"}, True, True),  # deleted only: left alone
        ({"a": "Deleted"}, False, False),
        ({"a": "Bounced", "b": "Unsubscribed"}, False, False),  # bounced mix: left alone
        ({"a": "Unconfirmed", "b": "Unsubscribed"}, True, True),
        ({"a": "Bounced", "b": "Active"}, True, False),
    ],
)
def test_opt_out_truth_table(world, states, before, after):
    # List B unsubscribes from itself only, so the two lists' states are independent (an
    # unsubscribe from an AllClientLists list would reach the other list too).
    world.cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")
    lists = {"a": world.list_a, "b": world.list_b}
    for key, state in states.items():
        world.subscriber(lists[key], "pat@example.com", state)
    contact = world.contact("pat@example.com", opted_out=before)
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert world.opted_out(contact) is after


def test_case_differences_and_duplicates_across_contact_and_lead(world):
    world.subscriber(world.list_a, "Mixed.Case@Example.COM", "Unsubscribed")
    contacts = [world.contact("mixed.case@example.com"), world.contact("MIXED.case@example.com")]
    lead = world.contact("Mixed.Case@example.com", sobject="Lead")
    run = world.sync()
    assert all(world.opted_out(c) for c in contacts)
    assert world.opted_out(lead, "Lead")
    assert run.counts["opt_out"]["written"] == 3


def test_lists_of_clients_not_connected_do_not_count(world):
    world.subscriber(world.other_list, "sam@example.com", "Active")
    world.subscriber(world.list_a, "sam@example.com", "Unsubscribed")
    contact = world.contact("sam@example.com")
    world.sync()
    assert world.opted_out(contact) is True


def test_only_differing_values_are_written_and_a_second_run_writes_nothing(world):
    world.subscriber(world.list_a, "kim@example.com", "Unsubscribed")
    world.subscriber(world.list_a, "lee@example.com", "Active")
    world.contact("kim@example.com")
    world.contact("lee@example.com", opted_out=False)  # already right
    first = world.sync()
    assert first.counts["opt_out"]["written"] == 1
    assert first.counts["opt_out"]["unchanged"] == 1

    world.sf.reset_request_counts()
    second = world.sync()
    assert second.status == SyncRun.Status.SUCCEEDED
    assert second.counts["subscribers"]["written"] == 0
    assert second.counts["opt_out"] == {"read": 0, "written": 0, "unchanged": 0, "failed": 0}
    writes = {k: v for k, v in world.sf.request_counts().items() if not k.startswith("GET")}
    assert writes == {}


def test_a_state_change_in_campaign_monitor_reaches_salesforce_next_run(world):
    world.subscriber(world.list_a, "ash@example.com", "Active")
    contact = world.contact("ash@example.com", opted_out=False)
    world.sync()
    world.subscriber(world.list_a, "ash@example.com", "Unsubscribed", minutes_later=10)
    run = world.sync()
    assert world.opted_out(contact) is True
    assert run.counts["subscribers"]["written"] == 1  # only the change was read and stored


def test_opt_out_sync_switched_off_writes_nothing_until_switched_on(world):
    GeneralSettings.objects.update(sync_email_opt_out=False)
    world.subscriber(world.list_a, "max@example.com", "Unsubscribed")
    contact = world.contact("max@example.com")
    world.sync()
    assert world.opted_out(contact) is False
    GeneralSettings.objects.update(sync_email_opt_out=True)
    world.sync()
    assert world.opted_out(contact) is True


def test_a_record_salesforce_refuses_becomes_a_message_and_the_rest_is_written(world):
    for email in ("one@example.com", "two@example.com"):
        world.subscriber(world.list_a, email, "Unsubscribed")
    good = world.contact("one@example.com")
    (blocked,) = world.gateway.create(
        "Contact", [{"LastName": "B", "Email": "two@example.com", "Description": "BLOCK"}]
    )
    # A rule added later: the existing record now fails every update.
    world.sf.add_validation_rule(
        object="Contact", field="Description", equals="BLOCK", message="Locked by compliance"
    )
    run = world.sync()
    assert run.status == SyncRun.Status.PARTIAL
    assert world.opted_out(good) is True
    assert world.opted_out(blocked.id) is False
    (message,) = Message.objects.filter(run=run)
    assert message.code == "SF_VALIDATION_RULE"
    assert message.upstream_message == "Locked by compliance"
    assert message.record["fields"]["Id"] == blocked.id
    assert run.counts["opt_out"]["failed"] == 1
    # The email is on lists of one client only: the message is that client's.
    assert message.client_id == world.client["ClientID"]


def test_transient_errors_on_both_sides_are_retried(world):
    world.subscriber(world.list_a, "rio@example.com", "Unsubscribed")
    contact = world.contact("rio@example.com")
    world.cm.add_fault(status=429, count=1, path="unsubscribed", retry_after=1)
    world.cm.add_fault(status=500, count=1, path="active")
    world.sf.add_fault("server_unavailable", count=1, path="query")
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert world.opted_out(contact) is True


def test_campaign_monitor_refusing_the_key_fails_the_run_plainly(world):
    from campaign_monitor.models import Connection

    Connection.objects.update(api_key="revoked-key")
    run = world.sync()
    assert run.status == SyncRun.Status.FAILED
    assert run.last_error.startswith("Campaign Monitor refused cmsync's credentials")


def test_salesforce_limit_stops_writing_and_the_next_run_continues(world):
    world.subscriber(world.list_a, "lou@example.com", "Unsubscribed")
    contact = world.contact("lou@example.com")
    world.sf.set_limit(used=100_000, max=100_000)
    run = world.sync()
    assert run.status == SyncRun.Status.PARTIAL
    assert Message.objects.filter(run=run, code="SF_LIMIT_EXHAUSTED").exists()
    assert SubscriberState.objects.filter(email_lc="lou@example.com", opt_out_pending=True)
    world.sf.set_limit(used=0, max=100_000)
    assert world.opted_out(contact) is False

    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert world.opted_out(contact) is True


def test_two_triggers_at_once_give_one_run(world):
    first, created = runner.request_run(SyncRun.Trigger.MANUAL)
    second, created_again = runner.request_run(SyncRun.Trigger.SCHEDULE)
    assert created and not created_again
    assert first.pk == second.pk
    assert runner.execute(first.pk).status == SyncRun.Status.SUCCEEDED
    assert runner.execute(first.pk).started_at is not None  # a second delivery does nothing
    assert SyncRun.objects.count() == 1


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the run gets to clean up."""


def test_a_worker_killed_mid_run_is_resumed_with_the_same_outcome(world, monkeypatch):
    emails = [f"p{i}@example.com" for i in range(30)]
    for i, email in enumerate(emails):
        world.subscriber(world.list_a, email, "Unsubscribed" if i % 2 else "Active")
        world.contact(email, opted_out=not (i % 2))
    from sync import context

    real_checkpoint = context.Context.checkpoint
    calls = {"n": 0}

    def dying_checkpoint(self):
        calls["n"] += 1
        if calls["n"] == 4:  # in the middle of the subscriber step
            raise WorkerKilled
        real_checkpoint(self)

    monkeypatch.setattr(context.Context, "checkpoint", dying_checkpoint)
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    with pytest.raises(WorkerKilled):
        runner.execute(run.pk)
    monkeypatch.setattr(context.Context, "checkpoint", real_checkpoint)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # left behind by the dead worker

    again, created = runner.request_run(SyncRun.Trigger.MANUAL)
    assert not created and again.pk == run.pk  # still "running": not started twice
    later = timezone.now() + runner.STALE_AFTER + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        resumed = runner.execute(run.pk)
    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.last_error
    for i, email in enumerate(emails):
        (person,) = world.gateway.find_people([email])[email]
        assert person.has_opted_out is bool(i % 2)
    assert SyncRun.objects.count() == 1


def test_disconnecting_cancels_queued_runs(world):
    from campaign_monitor.connection import disconnect

    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    disconnect()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED
    assert runner.execute(run.pk).status == SyncRun.Status.CANCELLED  # nothing runs


def test_a_malformed_record_from_campaign_monitor_becomes_a_message(world, monkeypatch):
    from campaign_monitor import records

    world.subscriber(world.list_a, "ok@example.com", "Unsubscribed")
    world.subscriber(world.list_a, "bad@example.com", "Unsubscribed")
    real = records.Subscriber.from_api.__func__

    def from_api(cls, row, tz):
        if row["EmailAddress"] == "bad@example.com":
            row = {**row, "Date": "not a date"}
        return real(cls, row, tz)

    monkeypatch.setattr(records.Subscriber, "from_api", classmethod(from_api))
    contact = world.contact("ok@example.com")
    run = world.sync()
    assert run.status == SyncRun.Status.PARTIAL
    assert world.opted_out(contact) is True
    (message,) = Message.objects.filter(run=run)
    assert message.code == "CM_BAD_RECORD"
    assert message.record["EmailAddress"] == "bad@example.com"


# -- the suppression list (README "Suppression and the opt-out rule") ----------------------------


def test_an_all_client_lists_unsubscribe_ticks_the_opt_out_of_someone_active_elsewhere(world):
    world.subscriber(world.list_b, "al@example.com", "Active")
    world.subscriber(world.list_a, "al@example.com", "Active")
    contact = world.contact("al@example.com")
    world.sync()
    assert not world.opted_out(contact)

    Connection.current().api().unsubscribe(world.list_a, "al@example.com")
    run = world.sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert world.opted_out(contact)  # list B was unsubscribed too, and it is suppressed
    assert SuppressedEmail.objects.filter(email_lc="al@example.com").exists()
    assert run.counts["suppressions"]["written"] == 1


@pytest.mark.parametrize(
    "only_this_list_state, before, after",
    [
        (None, False, True),  # suppressed, on no list at all: unsubscribed everywhere
        ("Active", True, False),  # still active on an OnlyThisList list: cleared
        ("Unconfirmed", False, False),  # may still confirm: left alone
        ("Bounced", False, True),
    ],
)
def test_a_suppressed_address_counts_as_unsubscribed_unless_live_somewhere(
    world, only_this_list_state, before, after
):
    world.cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")
    if only_this_list_state:
        world.subscriber(world.list_b, "sue@example.com", only_this_list_state)
    world.cm.suppress(world.client["ClientID"], ["Sue@Example.com"])
    contact = world.contact("sue@example.com", opted_out=before)

    run = world.sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert world.opted_out(contact) is after


def test_unsuppressed_addresses_are_decided_by_their_lists_again(world):
    world.subscriber(world.list_a, "uma@example.com", "Active")
    world.cm.suppress(world.client["ClientID"], ["uma@example.com"])  # unsubscribes list A
    contact = world.contact("uma@example.com")
    world.sync()
    assert world.opted_out(contact)

    api = Connection.current().api()
    api.request(
        "PUT",
        f"clients/{world.client['ClientID']}/unsuppress.json",
        params={"email": "uma@example.com"},
        data=" ",
    )
    api.add_subscriber(world.list_a, NewSubscriber("uma@example.com"), resubscribe=True)
    run = world.sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert not SuppressedEmail.objects.filter(email_lc="uma@example.com").exists()
    assert not world.opted_out(contact)


def test_suppression_lists_of_clients_not_connected_do_not_count(world):
    world.cm.suppress(world.other_client["ClientID"], ["ola@example.com"])
    contact = world.contact("ola@example.com")

    run = world.sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert not world.opted_out(contact)
    assert not SuppressedEmail.objects.exists()
