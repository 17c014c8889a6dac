"""One primary sync spread over several Celery workers (sync/spread.py): the end state in
Salesforce is the one a single worker leaves, a worker killed while it holds an item costs
nothing but time, two workers never write one campaign's members at once, an item done
twice changes nothing, and Cancel stops every worker's items."""

import json
import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from settings_app.models import CampaignSettings
from sync import runner, spread
from sync.models import SyncRun, WorkItem

from .test_sync_celery import wait_for

pytestmark = pytest.mark.django_db

TRUTH_TABLE = {
    # email: (state on list A, state on list B or None, opted out before)
    "both@example.com": ("Unsubscribed", "Active", True),  # active somewhere: opted in
    "gone@example.com": ("Unsubscribed", "Deleted", False),  # unsubscribed, deleted: out
    "bounced@example.com": ("Bounced", None, True),  # bounced: left alone
    "unsub@example.com": ("Unsubscribed", None, False),  # unsubscribed: out
    "back@example.com": ("Active", None, True),  # active again: opted in
}
CAMPAIGNS = {  # name: (recipients, minutes ago sent, events)
    "Spring": (["m1@example.com", "m2@example.com"], -90, [("open", "m1@example.com", -60),
               ("click", "m2@example.com", -55)]),
    "Summer": (["m2@example.com", "m3@example.com"], -80, [("open", "m2@example.com", -50),
               ("open", "m3@example.com", -45)]),
    "Autumn": (["m3@example.com", "m4@example.com"], -70, [("bounce", "m4@example.com", -40),
               ("click", "m3@example.com", -35)]),
}  # fmt: skip
# What one worker leaves in Salesforce (the in-process run below proves it).
EXPECTED = {
    "opted_out": {
        "back@example.com": False,
        "both@example.com": False,
        "bounced@example.com": True,
        "gone@example.com": True,
        "m1@example.com": False,
        "m2@example.com": False,
        "m3@example.com": False,
        "m4@example.com": False,
        "unsub@example.com": True,
    },
    "memberships": [
        ("A", "back@example.com", "Active"),
        ("A", "both@example.com", "Unsubscribed"),
        ("A", "bounced@example.com", "Bounced"),
        ("A", "gone@example.com", "Unsubscribed"),
        ("A", "m1@example.com", "Active"),
        ("A", "m2@example.com", "Active"),
        ("A", "m3@example.com", "Active"),
        ("A", "m4@example.com", "Active"),
        ("A", "unsub@example.com", "Unsubscribed"),
        ("B", "both@example.com", "Active"),
        ("B", "gone@example.com", "Deleted"),
    ],
    # Recipients are the list's active members when the campaign went out.
    "tracking": [
        ("Autumn", "m1@example.com", "Sent"),
        ("Autumn", "m2@example.com", "Sent"),
        ("Autumn", "m3@example.com", "Clicked"),
        ("Autumn", "m3@example.com", "Sent"),
        ("Autumn", "m4@example.com", "Bounced"),
        ("Autumn", "m4@example.com", "Sent"),
        ("Spring", "m1@example.com", "Opened"),
        ("Spring", "m1@example.com", "Sent"),
        ("Spring", "m2@example.com", "Clicked"),
        ("Spring", "m2@example.com", "Sent"),
        ("Summer", "m1@example.com", "Sent"),
        ("Summer", "m2@example.com", "Opened"),
        ("Summer", "m2@example.com", "Sent"),
        ("Summer", "m3@example.com", "Opened"),
        ("Summer", "m3@example.com", "Sent"),
    ],
    "members": [
        ("Autumn", "m1@example.com", "Sent"),
        ("Autumn", "m2@example.com", "Sent"),
        ("Autumn", "m3@example.com", "Clicked"),
        ("Autumn", "m4@example.com", "Bounced"),
        ("Spring", "m1@example.com", "Opened"),
        ("Spring", "m2@example.com", "Clicked"),
        ("Summer", "m1@example.com", "Sent"),
        ("Summer", "m2@example.com", "Opened"),
        ("Summer", "m3@example.com", "Opened"),
    ],
    "opens": {"Autumn": 0, "Spring": 1, "Summer": 2},
}


def seed(world) -> None:
    for email, (on_a, on_b, opted_out) in TRUTH_TABLE.items():
        world.subscriber(world.list_a, email, on_a, minutes_later=-30)
        if on_b:
            world.subscriber(world.list_b, email, on_b, minutes_later=-30)
        world.contact(email, opted_out=opted_out)
    for email in ("m1@example.com", "m2@example.com", "m3@example.com", "m4@example.com"):
        world.contact(email)
    campaign_settings = CampaignSettings.get_solo()  # the row exists from here on
    campaign_settings.auto_create_campaigns = True
    campaign_settings.member_status_mode = CampaignSettings.MemberStatusMode.ALWAYS
    campaign_settings.save()
    CampaignSettings.objects.update(auto_create_since=timezone.now() - timedelta(hours=3))
    for name, (emails, minutes, events) in CAMPAIGNS.items():
        campaign = world.campaign(name, emails, minutes=minutes)
        for kind, email, at in events:
            world.event(campaign, kind, email, minutes=at)


def end_state(world) -> dict:
    """What a user sees in Salesforce, by email and campaign name (record ids differ)."""
    query = world.gateway.query
    people = {r["Id"]: r["Email"] for r in query("SELECT Id, Email FROM Contact")}
    opted_out = {
        r["Email"]: r["HasOptedOutOfEmail"]
        for r in query("SELECT Email, HasOptedOutOfEmail FROM Contact")
        if r["Email"] in EXPECTED["opted_out"]
    }
    lists = {world.list_a: "A", world.list_b: "B"}
    fields = "CM_Membership_Key__c, CM_Email__c, CM_State__c"
    memberships = sorted(
        (lists[r["CM_Membership_Key__c"].split(":")[0]], r["CM_Email__c"], r["CM_State__c"])
        for r in query(f"SELECT {fields} FROM CM_List_Membership__c")
    )
    campaigns = {
        r["Id"]: r for r in query("SELECT Id, Name, CM_Total_Opens__c FROM Campaign")
        if r["Name"] in CAMPAIGNS
    }  # fmt: skip
    tracking = sorted(
        (campaigns[r["CM_Campaign__c"]]["Name"], r["CM_Email__c"], r["CM_Type__c"])
        for r in query("SELECT CM_Campaign__c, CM_Email__c, CM_Type__c FROM CM_Email_Tracking__c")
    )  # fmt: skip
    members = sorted(
        (campaigns[r["CampaignId"]]["Name"], people[r["ContactId"]], r["Status"])
        for r in query("SELECT CampaignId, ContactId, Status FROM CampaignMember")
        if r["CampaignId"] in campaigns
    )
    opens = {c["Name"]: int(c["CM_Total_Opens__c"] or 0) for c in campaigns.values()}
    return {
        "opted_out": opted_out,
        "memberships": memberships,
        "tracking": tracking,
        "members": members,
        "opens": opens,
    }


def item_sums(run: SyncRun, step: str) -> dict:
    total: dict[str, int] = {}
    for counts in run.items.values_list("counts", flat=True):
        for name, amount in counts.get(step, {}).items():
            total[name] = total.get(name, 0) + amount
    return total


def sf_writes(world) -> int:
    return sum(n for k, n in world.sf.request_counts().items() if not k.startswith("GET"))


def test_one_worker_does_every_item_itself(world, settings):
    """Nobody answers the call for help (the test's queue has no worker): the run's own
    worker does every item, and the end state is the expected one."""
    settings.SYNC_PARALLEL_ITEMS = 4
    seed(world)
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert end_state(world) == EXPECTED
    items = run.items.all()
    assert {i.phase for i in items} == {"states", "statistics", "tracking"}
    assert all(i.status == WorkItem.Status.DONE for i in items)
    assert len({i.claimed_by for i in items}) == 1
    for step in ("subscribers", "tracking"):
        assert run.counts[step] == item_sums(run, step)  # counted by the items alone
    assert run.counts["subscribers"]["read"] == 11  # 9 states on list A, 2 on list B


def test_an_item_done_twice_changes_nothing(world, monkeypatch):
    """A redelivered or re-claimed item is done again: it writes nothing more to
    Salesforce, and the end state is the same."""
    seed(world)
    real_work = spread.work
    second_writes = []

    def twice(ctx, item):
        real_work(ctx, item)
        before = sf_writes(world)
        WorkItem.objects.filter(pk=item.pk).update(
            status=WorkItem.Status.CLAIMED, attempts=item.attempts + 1
        )
        real_work(ctx, WorkItem.objects.get(pk=item.pk))
        second_writes.append((item.phase, item.key, sf_writes(world) - before))

    monkeypatch.setattr(spread, "work", twice)
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert len(second_writes) == run.items.count() == 3 + 1 + 3
    assert [w for w in second_writes if w[2]] == []
    assert end_state(world) == EXPECTED


# -- real workers ---------------------------------------------------------------------------


@pytest.fixture
def spread_workers(celery_processes, tmp_path):
    """Start real workers of the test's queue that say when they are ready and log their
    campaign member writes (tests/spread_worker.py)."""
    start, queue = celery_processes
    ready, writes = tmp_path / "ready", tmp_path / "member-writes.jsonl"
    ready.mkdir()
    started = []

    def worker(name: str, wait: bool = True):
        process = start(
            "worker", "-Q", queue, "--pool", "solo", "-n", f"{name}-{queue}@%h",
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
            app="tests.spread_worker", SPREAD_READY_DIR=str(ready),
            SPREAD_MEMBER_WRITES=str(writes), SYNC_ITEM_STALE_SECONDS="3",
        )  # fmt: skip
        started.append(process)
        if wait:
            wait_for(lambda: (ready / str(process.pid)).exists(), 120)
        return process

    def member_writes() -> list[dict]:
        if not writes.exists():
            return []
        return [json.loads(line) for line in writes.read_text().splitlines()]

    def coordinator() -> int | None:
        """The pid of the worker that took the run's own task."""
        found = [int(p.name.split("-")[1]) for p in ready.glob("run-*")]
        return found[0] if found else None

    worker.member_writes = member_writes
    worker.coordinator = coordinator
    return worker


def slow_campaign_monitor(world, opens_seconds: float = 4) -> None:
    """Campaign Monitor answers list reads slowly for a while, and each campaign's first
    read of its opens very slowly: each item takes long enough for every worker, however
    loaded the machine, to take some (and to be killed holding one)."""
    world.cm.add_fault(path="/lists/", count=40, delay=0.3)
    world.cm.add_fault(path="/opens.json", count=len(CAMPAIGNS), delay=opens_seconds)


def finished(run_id: int) -> SyncRun | None:
    return SyncRun.objects.filter(pk=run_id, active=None).first()


def overlapping(writes: list[dict]) -> list[tuple[dict, dict]]:
    """Pairs of member writes of one campaign by two workers at the same time."""
    return [
        (a, b)
        for a in writes
        for b in writes
        if a["campaign"] == b["campaign"]
        and a["pid"] < b["pid"]
        and a["start"] < b["end"]
        and b["start"] < a["end"]
    ]


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_two_workers_leave_the_end_state_one_leaves(world, spread_workers):
    seed(world)
    slow_campaign_monitor(world)
    workers = [spread_workers("one"), spread_workers("two")]
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)

    done = wait_for(lambda: finished(run.pk), 240)

    assert done.status == SyncRun.Status.SUCCEEDED, done.last_error
    assert end_state(world) == EXPECTED
    pids = {int(i.claimed_by.rsplit(":", 1)[1]) for i in done.items.all()}
    assert pids == {w.pid for w in workers}  # both took items
    writes = spread_workers.member_writes()
    assert len({w["pid"] for w in writes}) == 2  # both wrote campaign members
    assert overlapping(writes) == []  # never one campaign's at once
    for step in ("subscribers", "tracking"):
        assert done.counts[step] == item_sums(done, step)


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_it_holds_an_item_costs_nothing_but_time(world, spread_workers):
    seed(world)
    slow_campaign_monitor(world, opens_seconds=10)
    workers = {w.pid: w for w in (spread_workers("one"), spread_workers("two"))}
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    coordinator = wait_for(lambda: spread_workers.coordinator())
    (helper,) = set(workers) - {coordinator}
    held = wait_for(
        lambda: WorkItem.objects.filter(
            run=run,
            phase="tracking",
            status=WorkItem.Status.CLAIMED,
            claimed_by__endswith=f":{helper}",
        ).first(),
        180,
    )

    os.kill(helper, signal.SIGKILL)
    done = wait_for(lambda: finished(run.pk), 240)

    assert done.status == SyncRun.Status.SUCCEEDED, done.last_error
    assert end_state(world) == EXPECTED
    held.refresh_from_db()
    assert held.status == WorkItem.Status.DONE and held.attempts >= 2
    assert held.claimed_by.endswith(f":{coordinator}")  # taken back and done again
    assert overlapping(spread_workers.member_writes()) == []


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_every_workers_items(world, spread_workers):
    seed(world)
    world.cm.add_fault(path="/lists/", count=200, delay=0.5)
    workers = [spread_workers("one"), spread_workers("two")]
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    claimed = WorkItem.objects.filter(run=run, status=WorkItem.Status.CLAIMED)
    wait_for(lambda: len(set(claimed.values_list("claimed_by", flat=True))) == len(workers), 180)

    runner.cancel(SyncRun.objects.get(pk=run.pk))
    done = wait_for(lambda: finished(run.pk), 120)

    assert done.status == SyncRun.Status.CANCELLED
    # Each worker let its item go at its next checkpoint; nothing is left being worked.
    wait_for(lambda: not claimed.exists(), 60)
    assert done.items.filter(phase="states").exclude(status=WorkItem.Status.DONE).exists()
    assert not done.items.exclude(phase="states").exists()  # no later phase began
    assert done.counts["subscribers"] == item_sums(done, "subscribers")
