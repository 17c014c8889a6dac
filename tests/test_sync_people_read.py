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
