"""The run's people cache (Contacts and Leads by email) never loses an email it was asked for.

A fault soak found the first sync of 30,000 subscribers leaving Contacts opted out while active
in Campaign Monitor, with memberships and tracking rows missing: the bounded cache evicted
emails of the very batch it was answering, and "not in the answer" was read as "nobody in
Salesforce". Only a lookup that found nobody may say so.
"""

import pytest

from salesforce.gateway import Person
from sync import context as sync_context
from sync.context import Context
from sync.models import SyncRun

from .test_field_mappings import CUSTOM_FIELDS, TO_SF, cm_fields, mapping

pytestmark = pytest.mark.django_db


class FakeSalesforce:
    """Every email has one Contact; counts the emails looked up."""

    def __init__(self) -> None:
        self.looked_up: list[str] = []

    def find_people(self, emails):
        emails = list(emails)
        self.looked_up.extend(emails)
        return {e: [Person("Contact", f"003{e}", e, None, False)] for e in emails}


@pytest.fixture
def fields_world(world):
    """The Website__c field on Contact and Lead, to receive the list's custom field."""
    for sobject in ("Contact", "Lead"):
        world.custom_field(f"{sobject}.Website__c", CUSTOM_FIELDS["Website__c"])
    return world


def fake_context() -> Context:
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.MANUAL)
    return Context(run=run, cm=None, sf=FakeSalesforce(), clients=[])


def test_an_answer_keeps_every_email_even_when_the_cache_is_full(monkeypatch):
    monkeypatch.setattr(sync_context, "PEOPLE_CACHE", 3)
    ctx = fake_context()
    for email in ("a@x", "b@x", "c@x"):
        ctx.people([email])

    assert set(ctx.people(["a@x", "d@x"])) == {"a@x", "d@x"}
    assert set(ctx.people([f"{n}@y" for n in range(10)])) == {f"{n}@y" for n in range(10)}


def test_the_cache_stays_bounded_and_keeps_the_most_recently_used(monkeypatch):
    monkeypatch.setattr(sync_context, "PEOPLE_CACHE", 3)
    ctx = fake_context()
    for email in ("a@x", "b@x", "c@x", "a@x", "d@x"):
        ctx.people([email])
    ctx.sf.looked_up.clear()

    ctx.people(["a@x", "c@x", "d@x"])  # b was the least recently used: it went

    assert ctx.sf.looked_up == []
    ctx.people(["b@x"])
    assert ctx.sf.looked_up == ["b@x"]


def test_more_people_than_the_cache_holds_all_reach_salesforce_right(fields_world, monkeypatch):
    """The soak's case, small: more distinct emails than the cache holds, in one run, with a
    Campaign Monitor → Salesforce field mapping. Every opt-out, membership, tracking row and
    mapped value matches what Campaign Monitor says."""
    world = fields_world
    monkeypatch.setattr(sync_context, "PEOPLE_CACHE", 4)
    mapping(world.list_a, "website", "Text", TO_SF, contact="Website__c", lead="Website__c")
    emails = [f"person{n:02}@example.com" for n in range(24)]
    campaign = world.campaign("Spring", emails)  # every one active on list A before it
    unsubscribed = set(emails[::3])
    contacts, leads = {}, {}
    for n, email in enumerate(emails):
        world.event(campaign, "open", email)
        cm_fields(world, world.list_a, email, ("website", f"https://{n}.example"))
        if email in unsubscribed:
            world.subscriber(world.list_a, email, "Unsubscribed", minutes_later=1)
        # Every record starts with the opposite of what Campaign Monitor says.
        contacts[email] = world.contact(email, opted_out=email not in unsubscribed)
        if n % 4 == 0:
            leads[email] = world.contact(email, opted_out=email not in unsubscribed, sobject="Lead")

    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error

    for email, contact in contacts.items():
        assert world.opted_out(contact) is (email in unsubscribed), email
    for email, lead in leads.items():
        assert world.opted_out(lead, "Lead") is (email in unsubscribed), email
    websites = {
        row["Email"]: row["Website__c"]
        for row in world.gateway.query("SELECT Email, Website__c FROM Contact")
    }
    assert websites == {e: f"https://{n}.example" for n, e in enumerate(emails)}
    members = {
        row["CM_Email__c"]: (row["CM_Contact__c"], row["CM_Lead__c"], row["CM_State__c"])
        for row in world.gateway.query(
            "SELECT CM_Email__c, CM_Contact__c, CM_Lead__c, CM_State__c FROM CM_List_Membership__c"
        )
    }
    assert members == {
        e: (
            contacts[e],
            leads.get(e),
            "Unsubscribed" if e in unsubscribed else "Active",
        )
        for e in emails
    }
    tracked = {(r["CM_Email__c"], r["CM_Type__c"]): r["CM_Contact__c"] for r in world.tracking()}
    expected = {(e, kind): contacts[e] for e in emails for kind in ("Sent", "Opened")}
    assert tracked == expected
