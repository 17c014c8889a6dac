"""Runs of different kinds at the same time: the primary sync and a Campaign Monitor events
run both store subscriber states and decide opt-outs from them. Each race below lost a
newer state before the subscriber-states lease (``sync.leases``): the tests hold one side
at the exact point where the other used to slip in, in two threads on two database
connections, and check the end state a user would see."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from campaign_monitor.records import Subscriber
from salesforce.gateway import SalesforceGateway
from sync import leases, steps
from sync.models import Lease, SubscriberState, SyncRun

from .test_cm_webhooks import event, post, run_events
from .test_sync_celery import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# How long the held side waits for the other to finish. With the lease the other cannot
# finish first, so the held side waits this long and goes on; without it the other
# finishes well inside this time and the race happens.
HELD_SECONDS = 8


def in_thread(target, *args) -> threading.Thread:
    """Run ``target`` on a thread with its own database connection; errors are kept."""

    def body():
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            thread.error = exc
        finally:
            connection.close()

    thread = threading.Thread(target=body, daemon=True)
    thread.error = None
    thread.start()
    return thread


def test_an_unsubscribe_event_during_the_primary_syncs_opt_out_write_wins(
    world, client, monkeypatch
):
    """The primary sync decided "opted in" from a re-subscribe; an unsubscribe event after
    it arrives while the primary's write is on its way. The later unsubscribe must win."""
    world.subscriber(world.list_a, "a@example.com", "Unsubscribed", minutes_later=-10)
    contact = world.contact("a@example.com")
    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert world.opted_out(contact) is True
    world.subscriber(world.list_a, "a@example.com", "Active", minutes_later=-5)

    primary_writing, events_done = threading.Event(), threading.Event()
    update = SalesforceGateway.update

    def held_update(self, sobject, records, *args, **kwargs):
        opting_in = any(r.get("HasOptedOutOfEmail") is False for r in records)
        if threading.current_thread() is primary and opting_in:
            primary_writing.set()
            events_done.wait(HELD_SECONDS)
        return update(self, sobject, records, *args, **kwargs)

    monkeypatch.setattr(SalesforceGateway, "update", held_update)
    outcome = {}
    primary = in_thread(lambda: outcome.setdefault("primary", world.sync()))
    wait_for(primary_writing.is_set)

    def unsubscribe_event():
        post(
            client,
            world.list_a,
            event("Deactivate", "a@example.com", world.local(), "Unsubscribed"),
        )
        outcome["events"] = run_events()
        events_done.set()

    events = in_thread(unsubscribe_event)
    for thread in (primary, events):
        thread.join(180)
        assert not thread.is_alive() and thread.error is None, thread.error

    assert outcome["primary"].status == SyncRun.Status.SUCCEEDED, outcome["primary"].last_error
    assert outcome["events"].status == SyncRun.Status.SUCCEEDED, outcome["events"].last_error
    (state,) = SubscriberState.objects.filter(email_lc="a@example.com")
    assert state.state == "unsubscribed"
    assert world.opted_out(contact) is True  # the unsubscribe is not lost


def subscriber(email: str, state: str, date: datetime) -> Subscriber:
    return Subscriber(email=email, name="", state=state, date=date, list_joined=None)


def test_two_runs_storing_the_same_address_keep_the_newer_state(monkeypatch):
    """One run read an old row and is about to write an older state; another stores the
    newest state meanwhile. The older one must not be written over it."""
    t0 = datetime(2026, 1, 1, 10, tzinfo=UTC)
    steps.store_states("C", "L", "active", [subscriber("x@example.com", "active", t0)])
    older_writing, newer_done = threading.Event(), threading.Event()

    class HeldTransactions:
        """steps' ``transaction``: the older run's write waits after its read."""

        @staticmethod
        def atomic(*args, **kwargs):
            if threading.current_thread() is older:
                older_writing.set()
                newer_done.wait(HELD_SECONDS)
            return transaction.atomic(*args, **kwargs)

    monkeypatch.setattr(steps, "transaction", HeldTransactions)
    one_hour, two_hours = t0 + timedelta(hours=1), t0 + timedelta(hours=2)
    older = in_thread(
        steps.store_states, "C", "L", "active", [subscriber("x@example.com", "active", one_hour)]
    )
    wait_for(older_writing.is_set)

    def store_newer():
        newer_record = subscriber("x@example.com", "unsubscribed", two_hours)
        steps.store_states("C", "L", "unsubscribed", [newer_record])
        newer_done.set()

    newer = in_thread(store_newer)
    for thread in (older, newer):
        thread.join(60)
        assert not thread.is_alive() and thread.error is None, thread.error

    (row,) = SubscriberState.objects.all()
    assert (row.state, row.state_date) == ("unsubscribed", two_hours)
    assert row.opt_out_pending


# -- the lease itself -----------------------------------------------------------------------


def test_a_held_lease_makes_the_next_holder_wait_until_it_is_released():
    order = []
    released = threading.Event()

    def second():
        with leases.hold("test-lease"):
            order.append("second")

    with leases.hold("test-lease"):
        waiting = in_thread(second)
        assert not released.wait(0.5)  # give the second holder time to (wrongly) get in
        order.append("first")
    waiting.join(30)
    assert waiting.error is None
    assert order == ["first", "second"]
    assert not Lease.objects.exists()


def test_a_lease_whose_holder_died_is_taken_once_it_expires():
    past = datetime.now(UTC) - timedelta(seconds=1)
    Lease.objects.create(name="test-lease", holder="a process that died", expires_at=past)
    with leases.hold("test-lease"):
        assert Lease.objects.get().holder != "a process that died"


def test_a_lease_is_reentrant_and_calls_waiting_while_it_waits():
    calls = []
    future = datetime.now(UTC) + timedelta(seconds=1)
    Lease.objects.create(name="test-lease", holder="another process", expires_at=future)
    with leases.hold("test-lease", waiting=lambda: calls.append(1)):
        with leases.hold("test-lease"):
            pass
        assert Lease.objects.filter(name="test-lease").exists()  # still held by the outer
    assert calls and not Lease.objects.exists()


def test_a_lease_is_never_taken_inside_a_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        with leases.hold("test-lease"):
            pass


def test_a_lease_held_through_a_long_wait_is_kept_alive_and_others_stay_out():
    with leases.hold("test-lease", ttl=timedelta(seconds=1)):
        before = Lease.objects.get().expires_at
        leases.keep_alive(ttl=timedelta(minutes=10))
        assert Lease.objects.get().expires_at > before + timedelta(minutes=9)
        Lease.objects.update(expires_at=datetime.now(UTC) - timedelta(seconds=1))  # no keep-alive
        assert leases._take("test-lease", "another process", timedelta(seconds=1))
    assert Lease.objects.get().holder == "another process"  # the late holder deletes only its own
    leases.keep_alive()  # holding nothing: touches nothing
    assert Lease.objects.get().holder == "another process"
