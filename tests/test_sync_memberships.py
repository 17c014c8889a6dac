"""Subscriber lists and list memberships in Salesforce, against both emulators over HTTP.

DESIGN.md §6: each list of the connected clients is a CM_Subscriber_List__c, each member
whose email matches a Contact or Lead a CM_List_Membership__c (state, state date, joined
date), linked to the most recently modified Contact and Lead (§5 "Record linking"). Upserts by
stable keys, written only when something changed; "Prevent member sync" keeps a list's
memberships out of Salesforce.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaign_monitor.lists import set_prevent_member_sync
from maintenance.models import Message
from salesforce import schema
from salesforce.connection import check_schema
from salesforce.gateway import parse_datetime
from settings_app.models import CampaignSettings
from sync import memberships as membership_step
from sync.memberships import membership_key
from sync.models import SubscriberState, SyncRun

pytestmark = pytest.mark.django_db

FIELDS = (
    "CM_Membership_Key__c, CM_Email__c, CM_State__c, CM_State_Date__c, CM_Joined_Date__c, "
    "CM_Contact__c, CM_Lead__c, CM_Subscriber_List__c"
)


def memberships(world, fields: str = FIELDS) -> list[dict]:
    """By email, then list."""
    rows = world.gateway.query(f"SELECT {fields} FROM CM_List_Membership__c")
    return sorted(rows, key=lambda r: (r["CM_Email__c"].lower(), r.get("CM_Membership_Key__c")))


def sf_lists(world) -> dict[str, dict]:
    query = "SELECT Id, Name, CM_List_Id__c, CM_Client_Id__c, CM_Client_Name__c "
    query += "FROM CM_Subscriber_List__c"
    return {row["CM_List_Id__c"]: row for row in world.gateway.query(query)}


def writes(world) -> dict[str, int]:
    return {k: v for k, v in world.sf.request_counts().items() if not k.startswith("GET")}


def test_lists_and_members_matching_a_contact_or_lead_reach_salesforce(world):
    world.subscriber(world.list_a, "ann@example.com", "Active", minutes_later=-30)
    world.subscriber(world.list_a, "ann@example.com", "Unsubscribed")
    world.subscriber(world.list_b, "Bo@Example.com", "Bounced")
    world.subscriber(world.list_b, "nobody@example.com", "Active")
    contact = world.contact("ann@example.com")
    lead = world.contact("bo@example.com", sobject="Lead")

    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error

    lists = sf_lists(world)
    names = {m["ListID"]: m["Name"] for m in world.client["lists"]}
    assert sorted(lists) == sorted(names)
    for list_id, row in lists.items():
        assert row["Name"] == names[list_id]
        assert row["CM_Client_Id__c"] == world.client["ClientID"]
        assert row["CM_Client_Name__c"] == world.client["Name"]

    ann, bo = memberships(world)  # the email nobody has: no record
    assert ann["CM_Membership_Key__c"] == f"{world.list_a}:ann@example.com"
    assert ann["CM_Subscriber_List__c"] == lists[world.list_a]["Id"]
    assert (ann["CM_Contact__c"], ann["CM_Lead__c"]) == (contact, None)
    assert ann["CM_State__c"] == "Unsubscribed"
    stored = SubscriberState.objects.get(list_id=world.list_a, email_lc="ann@example.com")
    assert parse_datetime(ann["CM_State_Date__c"]) == stored.state_date
    assert parse_datetime(ann["CM_Joined_Date__c"]) == stored.joined_date
    assert stored.state_date - stored.joined_date == timedelta(minutes=30)

    assert bo["CM_Membership_Key__c"] == f"{world.list_b}:bo@example.com"
    assert bo["CM_Email__c"] == "Bo@Example.com"
    assert (bo["CM_Contact__c"], bo["CM_Lead__c"]) == (None, lead)
    assert bo["CM_State__c"] == "Bounced"

    assert run.counts["lists"] == {"read": 2, "written": 2, "unchanged": 0, "failed": 0}
    assert run.counts["memberships"] == {"read": 3, "written": 2, "unchanged": 1, "failed": 0}
    assert not SubscriberState.objects.filter(membership_pending=True).exists()


def test_the_most_recently_modified_contact_and_lead_are_linked(world):
    world.subscriber(world.list_a, "dup@example.com", "Active")
    older_contact = world.contact("dup@example.com")
    older_lead = world.contact("dup@example.com", sobject="Lead")
    world.sf.advance_clock(60)
    world.contact("DUP@example.com")
    newer_lead = world.contact("Dup@Example.com", sobject="Lead")
    world.sf.advance_clock(60)
    world.gateway.update("Contact", [{"Id": older_contact, "Description": "edited last"}])

    world.sync()
    (membership,) = memberships(world)
    assert membership["CM_Contact__c"] == older_contact  # edited last: the most recent
    assert membership["CM_Lead__c"] == newer_lead != older_lead


@pytest.mark.parametrize("unordered", ["insertion", "reverse"])
def test_a_tie_on_last_modified_links_the_lowest_id_whatever_order_salesforce_answers(
    world, unordered
):
    """Records modified in the same second (a data load): the membership, the tracking rows
    and the campaign member all link the one with the lowest Id, in whatever order
    Salesforce returns them."""
    CampaignSettings.objects.update(
        auto_create_campaigns=True,
        auto_create_since=timezone.now() - timedelta(days=1),
        member_status_mode="always",
    )
    stamp = {"CreatedDate": "2026-01-05T10:00:00Z", "LastModifiedDate": "2026-01-05T10:00:00Z"}
    twins = [{"LastName": n, "Email": "Dup@Example.com", **stamp} for n in ("A", "B", "C")]
    contacts = sorted(r["id"] for r in world.sf.insert("Contact", twins))
    leads = sorted(r["id"] for r in world.sf.insert("Lead", [{**t, "Company": "C"} for t in twins]))
    campaign = world.campaign("Ties", ["dup@example.com"])
    world.event(campaign, "open", "dup@example.com")
    world.sf.set_unordered_rows(unordered)

    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    (membership,) = memberships(world)
    assert (membership["CM_Contact__c"], membership["CM_Lead__c"]) == (contacts[0], leads[0])
    tracking = world.tracking()
    assert sorted(r["CM_Type__c"] for r in tracking) == ["Opened", "Sent"]
    assert {(r["CM_Contact__c"], r["CM_Lead__c"]) for r in tracking} == {(contacts[0], leads[0])}
    members = world.gateway.query(
        "SELECT ContactId, LeadId, Status FROM CampaignMember "
        f"WHERE CampaignId = '{world.sf_campaign(campaign)['Id']}'"
    )
    assert [(m["ContactId"], m["Status"]) for m in members] == [(contacts[0], "Opened")]


def test_a_state_change_in_campaign_monitor_updates_the_membership(world):
    world.subscriber(world.list_a, "ash@example.com", "Active")
    world.contact("ash@example.com")
    world.sync()
    (before,) = memberships(world)
    assert before["CM_State__c"] == "Active"

    world.subscriber(world.list_a, "ash@example.com", "Unsubscribed", minutes_later=10)
    run = world.sync()
    (after,) = memberships(world)
    assert after["CM_State__c"] == "Unsubscribed"
    assert parse_datetime(after["CM_State_Date__c"]) - parse_datetime(
        before["CM_State_Date__c"]
    ) == timedelta(minutes=10)
    assert after["CM_Joined_Date__c"] == before["CM_Joined_Date__c"]
    assert run.counts["memberships"] == {"read": 1, "written": 1, "unchanged": 0, "failed": 0}
    assert run.counts["lists"] == {"read": 2, "written": 0, "unchanged": 2, "failed": 0}


def test_a_quiet_second_run_writes_no_list_or_membership(world):
    for email in ("kim@example.com", "lee@example.com"):
        world.subscriber(world.list_a, email, "Active")
        world.subscriber(world.list_b, email, "Unsubscribed")
        world.contact(email)
    first = world.sync()
    assert first.counts["memberships"]["written"] == 4

    world.sf.reset_request_counts()
    quiet = world.sync()
    assert quiet.status == SyncRun.Status.SUCCEEDED
    assert writes(world) == {}
    assert quiet.counts["lists"] == {"read": 2, "written": 0, "unchanged": 2, "failed": 0}
    assert quiet.counts["memberships"] == {"read": 0, "written": 0, "unchanged": 0, "failed": 0}


def test_a_renamed_list_is_written_again(world):
    world.sync()
    world.gateway.upsert(
        "CM_Subscriber_List__c", "CM_List_Id__c", [{"CM_List_Id__c": world.list_a, "Name": "Old"}]
    )
    run = world.sync()
    assert run.counts["lists"] == {"read": 2, "written": 1, "unchanged": 1, "failed": 0}
    assert sf_lists(world)[world.list_a]["Name"] == world.client["lists"][0]["Name"]


def test_prevent_member_sync_keeps_the_list_but_writes_none_of_its_memberships(world):
    set_prevent_member_sync(world.list_a, True)
    world.subscriber(world.list_a, "amy@example.com", "Active")
    world.subscriber(world.list_b, "ben@example.com", "Active")
    world.contact("amy@example.com")
    world.contact("ben@example.com")

    run = world.sync()
    assert sorted(sf_lists(world)) == sorted([world.list_a, world.list_b])
    assert [m["CM_Email__c"] for m in memberships(world)] == ["ben@example.com"]
    assert run.counts["memberships"]["read"] == 1

    set_prevent_member_sync(world.list_a, False)
    world.sync(full=True)
    assert [m["CM_Email__c"] for m in memberships(world)] == ["amy@example.com", "ben@example.com"]


def test_prevent_member_sync_leaves_existing_memberships_as_they_are(world):
    world.subscriber(world.list_a, "cal@example.com", "Active")
    contact = world.contact("cal@example.com")
    world.sync()
    set_prevent_member_sync(world.list_a, True)

    world.subscriber(world.list_a, "cal@example.com", "Unsubscribed", minutes_later=10)
    world.sf.reset_request_counts()
    run = world.sync()
    assert world.opted_out(contact) is True  # the opt-out is not a membership
    (membership,) = memberships(world)
    assert membership["CM_State__c"] == "Active"
    assert writes(world) == {"PATCH /composite/sobjects": 1}  # the opt-out only
    assert run.counts["memberships"]["read"] == 0

    set_prevent_member_sync(world.list_a, False)  # what changed meanwhile is written next run
    world.sync()
    (membership,) = memberships(world)
    assert membership["CM_State__c"] == "Unsubscribed"


def test_a_membership_salesforce_refuses_becomes_a_message_and_the_rest_is_written(world):
    for email in ("ok@example.com", "blocked@example.com"):
        world.subscriber(world.list_a, email, "Active")
        world.contact(email)
    world.sf.add_validation_rule(
        object="CM_List_Membership__c",
        field="CM_Email__c",
        equals="blocked@example.com",
        message="No memberships for this address",
    )
    run = world.sync()
    assert run.status == SyncRun.Status.PARTIAL
    assert [m["CM_Email__c"] for m in memberships(world)] == ["ok@example.com"]
    (message,) = Message.objects.filter(run=run)
    assert message.code == "SF_VALIDATION_RULE"
    assert message.step == "memberships"
    assert message.upstream_message == "No memberships for this address"
    assert message.record["sobject"] == "CM_List_Membership__c"
    assert message.record["operation"] == "upsert:CM_Membership_Key__c"
    assert message.record["fields"]["CM_Membership_Key__c"] == f"{world.list_a}:blocked@example.com"
    assert message.retryable
    assert message.client_id == world.client["ClientID"]  # users of other clients never see it
    assert run.counts["memberships"] == {"read": 2, "written": 1, "unchanged": 0, "failed": 1}
    assert not SubscriberState.objects.filter(membership_pending=True).exists()

    world.sf.clear_validation_rules()
    Message.objects.filter(pk=message.pk).update(retry_requested=True)
    assert world.sync().status == SyncRun.Status.SUCCEEDED
    assert len(memberships(world)) == 2
    assert not Message.objects.exists()


def test_an_email_nobody_has_gets_a_membership_once_a_full_sync_finds_its_contact(world):
    world.subscriber(world.list_a, "later@example.com", "Active")
    world.sync()
    assert memberships(world) == []
    assert not SubscriberState.objects.filter(membership_pending=True).exists()

    contact = world.contact("later@example.com")
    world.sync()
    assert memberships(world) == []  # nothing changed in Campaign Monitor
    run = world.sync(full=True)
    (membership,) = memberships(world)
    assert membership["CM_Contact__c"] == contact
    assert run.counts["memberships"]["read"] == 1


def test_a_full_sync_fills_in_joined_dates_stored_before_they_were_kept(world):
    world.subscriber(world.list_a, "old@example.com", "Active")
    world.contact("old@example.com")
    world.sync()
    SubscriberState.objects.update(joined_date=None)  # rows stored by an older cmsync
    world.sync(full=True)
    stored = SubscriberState.objects.get()
    assert stored.joined_date is not None
    (membership,) = memberships(world)
    assert parse_datetime(membership["CM_Joined_Date__c"]) == stored.joined_date


def test_members_are_written_in_batches_of_emails(world, monkeypatch):
    monkeypatch.setattr(membership_step, "BATCH", 2)
    emails = [f"m{i}@example.com" for i in range(5)]
    for email in emails:
        world.subscriber(world.list_a, email, "Active")
        world.subscriber(world.list_b, email, "Active")
        world.contact(email)
    world.sf.reset_request_counts()
    run = world.sync()
    assert run.counts["memberships"] == {"read": 10, "written": 10, "unchanged": 0, "failed": 0}
    # One upsert of the lists, then one a batch: 2 + 2 + 1 emails, on both lists each.
    assert writes(world) == {"PATCH /composite/sobjects/{type}/{field}": 1 + 3}
    assert len(memberships(world)) == 10


def test_without_the_new_joined_date_field_memberships_wait_and_campaigns_still_sync(world):
    (joined,) = [
        s
        for s in schema.status(world.gateway)
        if s.component.full_name == "CM_List_Membership__c.CM_Joined_Date__c"
    ]
    world.gateway.tooling_delete("CustomField", joined.tooling_id)  # an org installed earlier
    world.contact("ann@example.com")
    campaign = world.campaign("Spring", ["ann@example.com"])
    world.event(campaign, "open", "ann@example.com")

    run = world.sync()
    (message,) = Message.objects.filter(run=run)
    assert message.code == "SF_SCHEMA_MISSING" and message.severity == "warning"
    assert message.record == {"missing": ["CM_List_Membership__c.CM_Joined_Date__c"]}
    assert len(world.tracking()) == 2  # sent and opened: campaigns and tracking went on
    assert memberships(world, "CM_Email__c") == []
    assert "lists" not in run.counts or run.counts["lists"]["read"] == 0
    assert SubscriberState.objects.filter(membership_pending=True).count() == 1

    # Installed again, the field is hidden until Install grants it (a plain schema install is
    # not enough), then the memberships are written.
    schema.install(world.gateway)
    run = world.sync()
    (message,) = Message.objects.filter(run=run)
    assert message.code == "SF_NO_ACCESS"
    assert message.record == {"inaccessible": ["CM_List_Membership__c.CM_Joined_Date__c"]}
    check_schema(world.sf_connection, install=True)
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    (membership,) = memberships(world)
    assert membership["CM_Joined_Date__c"] is not None


def test_a_long_email_gets_a_hashed_key_within_the_field_length():
    list_id = "a" * 32
    assert membership_key(list_id, "pat@example.com") == f"{list_id}:pat@example.com"
    long_email = "x" * 100 + "@example.com"
    key = membership_key(list_id, long_email)
    assert len(key) <= 120 and key.startswith(f"{list_id}:#")
    assert key == membership_key(list_id, long_email)  # stable
