"""A run that asks about many emails (a full or first sync) reads every Contact and Lead with
an email once, when that costs fewer calls than looking them up 200 emails at a time in each
step (issue 19), and decides exactly as the lookups would."""

import pytest

from sync import people
from sync.models import KnownPerson, SyncRun

pytestmark = pytest.mark.django_db


def lookups(world) -> int:
    """Queries that looked people up by email (the IN lists of find_people)."""
    return sum(count for key, count in world.sf.request_counts().items() if key == "GET /query")


@pytest.mark.parametrize("full", [False, True])
def test_a_first_or_full_sync_reads_people_once_and_decides_as_lookups_do(world, full):
    emails = [f"r{i}@example.com" for i in range(8)]
    ids = {}
    for n, email in enumerate(emails):
        state = "Unsubscribed" if n % 2 else "Active"
        world.subscriber(world.list_a, email, state)
        ids[email] = world.contact(email.upper() if n == 3 else email, opted_out=n % 4 == 0)
    lead = world.contact("r0@example.com", sobject="Lead", opted_out=True)

    run = world.sync(full=full)
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    with_email = world.gateway.count_people("Contact") + world.gateway.count_people("Lead")
    assert KnownPerson.objects.count() == with_email
    for n, email in enumerate(emails):
        assert world.opted_out(ids[email]) is bool(n % 2), email
    assert world.opted_out(lead, "Lead") is False
    memberships = list(world.gateway.query("SELECT CM_Contact__c FROM CM_List_Membership__c"))
    assert sorted(m["CM_Contact__c"] for m in memberships) == sorted(ids.values())


def test_a_run_after_the_read_finds_people_added_since(world):
    world.subscriber(world.list_a, "first@example.com", "Active")
    world.contact("first@example.com")
    world.sync(full=True)
    assert KnownPerson.objects.exists()

    world.subscriber(world.list_a, "later@example.com", "Unsubscribed", minutes_later=1)
    contact = world.contact("later@example.com")
    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert world.opted_out(contact) is True


def test_a_run_with_few_emails_to_ask_about_in_a_large_org_looks_them_up(world, monkeypatch):
    monkeypatch.setattr(world.gateway.__class__, "count_people", lambda self, s: 1_000_000)
    world.subscriber(world.list_a, "i@example.com", "Unsubscribed")
    contact = world.contact("i@example.com")
    world.sync()
    assert not KnownPerson.objects.exists()
    assert world.opted_out(contact) is True


class Org:
    """As many Contacts and Leads with an email as asked."""

    def __init__(self, each: int) -> None:
        self.each = each

    def count_people(self, sobject: str) -> int:
        return self.each


def test_reading_everyone_is_chosen_only_when_it_is_cheaper():
    # 100,000 subscribers: 3 steps x 2 objects x 500 lookups; reading 2 x 50 pages
    assert people.worth_reading(Org(100_000), emails=100_000)
    # a handful of subscribers in an org of millions keeps the lookups
    assert not people.worth_reading(Org(2_000_000), emails=500)


DONE = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)  # PARTIAL: the validation traps


def local_copy() -> list[tuple]:
    return sorted(
        KnownPerson.objects.values_list(
            "email_lc", "sobject", "sf_id", "email", "last_modified", "has_opted_out"
        )
    )


def a_world_of_people(world, monkeypatch) -> None:
    """Subscribers for people with duplicates, mixed-case emails, opt-outs and converted
    Leads (the emulator's seed_people), so the read is chosen and has something to get; a
    query job counted as cheap, so that a read of a few people is still chosen."""
    monkeypatch.setattr(people, "QUERY_JOB_CALLS", 0)
    emails = [f"q{i}@example.com" for i in range(60)]
    world.sf.seed_people(emails)
    for n, email in enumerate(emails):
        world.subscriber(world.list_a, email, "Unsubscribed" if n % 3 else "Active")


@pytest.mark.django_db(transaction=True)
def test_a_query_job_and_query_calls_give_the_same_local_copy_and_decisions(
    world, settings, monkeypatch
):
    """Issue 19: from SALESFORCE_BULK_QUERY_THRESHOLD people of an object the full run's read
    is a Bulk API query job; the local copy, and what the run decides from it, are those of
    the query calls."""
    a_world_of_people(world, monkeypatch)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 10**9
    assert world.sync(full=True).status in DONE  # writes the opt-outs: the org settles
    assert world.sync(full=True).counts["opt_out"]["written"] == 0
    by_queries = local_copy()
    opt_outs = sorted(world.gateway.query("SELECT Id, HasOptedOutOfEmail FROM Contact"), key=str)
    assert world.sf.bulk_status()["query_jobs"] == {}

    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
    world.sf.reset_request_counts()
    run = world.sync(full=True)
    assert run.status in DONE, run.last_error
    assert run.counts["opt_out"]["written"] == 0  # the first run's decisions, made again
    assert world.sf.bulk_status()["query_jobs"] == {"JobComplete": 2}  # Contacts, Leads
    assert local_copy() == by_queries and len(by_queries) > 60
    again = sorted(world.gateway.query("SELECT Id, HasOptedOutOfEmail FROM Contact"), key=str)
    assert again == opt_outs  # nothing left to change: the same decisions were made


@pytest.mark.django_db(transaction=True)
def test_a_failed_query_job_is_replaced_by_query_calls(world, settings, caplog, monkeypatch):
    a_world_of_people(world, monkeypatch)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 10**9
    world.sync(full=True)  # writes the opt-outs: the org settles
    world.sync(full=True)
    expected = local_copy()

    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
    world.sf.add_fault("bulk_query_job_failed")  # the Contacts' job
    run = world.sync(full=True)
    assert run.status in DONE, run.last_error
    assert world.sf.bulk_status()["query_jobs"] == {"Failed": 1, "JobComplete": 1}
    assert local_copy() == expected
    assert "reading them through query calls instead" in caplog.text
