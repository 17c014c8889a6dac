"""Campaigns, statistics, tracking import, member statuses and retention, against both
emulators over HTTP (DESIGN.md §5)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance.models import Message
from salesforce.connection import check_schema
from settings_app.models import CampaignSettings, MemberStatusMapping, SyncSettings
from sync.models import CampaignLink, SyncRun

pytestmark = pytest.mark.django_db


def auto_create(since=None) -> None:
    settings = CampaignSettings.get_solo()
    settings.auto_create_campaigns = True
    settings.save()
    if since is not None:
        CampaignSettings.objects.update(auto_create_since=since)


def mode(value: str, **extra) -> None:
    CampaignSettings.objects.update(member_status_mode=value, **extra)


def test_sends_opens_clicks_unsubscribes_and_bounces_become_tracking_records(world):
    people = {e: world.contact(e) for e in ("ann@example.com", "bo@example.com")}
    lead = world.contact("cy@example.com", sobject="Lead")
    campaign = world.campaign("Autumn", [*people, "cy@example.com", "nobody@example.com"])
    world.event(campaign, "open", "ann@example.com", minutes=-50)
    world.event(campaign, "open", "ann@example.com", minutes=-40)  # a second open counts too
    world.event(campaign, "click", "bo@example.com", url="https://shop.example/?a=1&b=2")
    world.event(campaign, "bounce", "cy@example.com", bounce_type="Soft", reason="Mailbox full")
    world.event(campaign, "unsubscribe", "bo@example.com", minutes=-20)

    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    rows = world.tracking()
    kinds = sorted((r["CM_Email__c"], r["CM_Type__c"]) for r in rows)
    assert kinds == sorted(
        [
            ("ann@example.com", "Sent"),
            ("bo@example.com", "Sent"),
            ("cy@example.com", "Sent"),
            ("ann@example.com", "Opened"),
            ("ann@example.com", "Opened"),
            ("bo@example.com", "Clicked"),
            ("cy@example.com", "Bounced"),
            ("bo@example.com", "Unsubscribed"),
        ]
    )  # nobody@example.com has no Contact or Lead: nothing to attach it to
    click = next(r for r in rows if r["CM_Type__c"] == "Clicked")
    assert click["CM_URL__c"] == "https://shop.example/?a=1&b=2"
    assert click["CM_Contact__c"] == people["bo@example.com"]
    bounce = next(r for r in rows if r["CM_Type__c"] == "Bounced")
    assert bounce["CM_Lead__c"] == lead and bounce["CM_Contact__c"] is None


def test_reimporting_never_duplicates_and_a_quiet_run_writes_nothing(world):
    world.contact("ann@example.com")
    campaign = world.campaign("Autumn", ["ann@example.com"])
    world.event(campaign, "open", "ann@example.com")
    world.sync()
    assert len(world.tracking()) == 2

    world.sf.reset_request_counts()
    quiet = world.sync()
    assert quiet.status == SyncRun.Status.SUCCEEDED
    writes = {k: v for k, v in world.sf.request_counts().items() if not k.startswith("GET")}
    assert writes == {}

    world.sync(full=True)  # re-reads everything; upserts by key
    assert len(world.tracking()) == 2


def test_tracking_types_switched_off_are_not_imported(world):
    SyncSettings.objects.update(track_opened=False, track_sent=False)
    world.contact("ann@example.com")
    campaign = world.campaign("Autumn", ["ann@example.com"])
    world.event(campaign, "open", "ann@example.com")
    world.event(campaign, "click", "ann@example.com", url="https://a.example/")
    world.sync()
    assert [r["CM_Type__c"] for r in world.tracking()] == ["Clicked"]


def test_tracking_import_switched_off_imports_nothing(world):
    SyncSettings.objects.update(import_tracking=False)
    world.contact("ann@example.com")
    campaign = world.campaign("Autumn", ["ann@example.com"])
    world.event(campaign, "open", "ann@example.com")
    world.sync()
    assert world.tracking() == []


def test_days_to_keep_cuts_the_import_and_purges_older_records(world):
    SyncSettings.objects.update(days_to_keep=30)
    world.contact("ann@example.com")
    day = 24 * 60
    campaign = world.campaign("Summer", ["ann@example.com"], minutes=-20 * day)
    world.event(campaign, "open", "ann@example.com", minutes=-19 * day)
    world.event(campaign, "click", "ann@example.com", minutes=-2 * day, url="https://a.example/")
    world.sync()
    assert {r["CM_Type__c"] for r in world.tracking()} == {"Sent", "Opened", "Clicked"}

    SyncSettings.objects.update(days_to_keep=10)  # lowering: older records go at the next run
    run = world.sync()
    assert [r["CM_Type__c"] for r in world.tracking()] == ["Clicked"]
    assert run.counts["retention"]["written"] == 2

    SyncSettings.objects.update(days_to_keep=30)  # raising: they can be imported again
    world.sync()
    assert {r["CM_Type__c"] for r in world.tracking()} == {"Sent", "Opened", "Clicked"}


def test_auto_create_is_not_retrospective(world):
    world.contact("ann@example.com")
    before = world.campaign("Before", ["ann@example.com"], minutes=-120)
    auto_create(since=timezone.now() - timedelta(minutes=60))
    after = world.campaign("After", ["ann@example.com"], minutes=-30)
    world.sync()
    assert world.sf_campaign(before) is None
    created = world.sf_campaign(after)
    assert created["Name"] == "After"
    assert CampaignLink.objects.get(cm_campaign_id=after).sf_campaign_id == created["Id"]
    tracked = {r["CM_Campaign__c"] for r in world.tracking()}
    assert tracked == {created["Id"], None}  # the earlier campaign's sends stay unlinked


def test_an_existing_salesforce_campaign_is_linked_by_its_campaign_monitor_id(world):
    world.contact("ann@example.com")
    campaign = world.campaign("Linked by hand", ["ann@example.com"])
    (made,) = world.gateway.create(
        "Campaign", [{"Name": "Our own campaign", "CM_Campaign_Id__c": campaign}]
    )
    world.sync()
    assert CampaignLink.objects.get(cm_campaign_id=campaign).sf_campaign_id == made.id
    assert world.sf_campaign(campaign)["Name"] == "Our own campaign"


def test_statistics_are_copied_and_not_rewritten_when_unchanged(world):
    auto_create(since=timezone.now() - timedelta(days=1))
    for email in ("ann@example.com", "bo@example.com"):
        world.contact(email)
    campaign = world.campaign("Stats", ["ann@example.com", "bo@example.com"])
    world.event(campaign, "open", "ann@example.com", minutes=-50)
    world.event(campaign, "open", "ann@example.com", minutes=-40)
    world.event(campaign, "open", "bo@example.com", minutes=-30)
    world.event(campaign, "click", "bo@example.com", url="https://a.example/")
    world.sync()
    stats = world.sf_campaign(campaign)
    assert stats["CM_Recipients__c"] == 2
    assert stats["CM_Total_Opens__c"] == 3
    assert stats["CM_Unique_Opens__c"] == 2
    assert stats["CM_Clicks__c"] == 1

    world.sf.reset_request_counts()
    world.sync()
    assert "PATCH /composite/sobjects" not in world.sf.request_counts()


def test_statistics_switched_off_are_not_written(world):
    auto_create(since=timezone.now() - timedelta(days=1))
    CampaignSettings.objects.update(update_statistics=False)
    world.contact("ann@example.com")
    campaign = world.campaign("No stats", ["ann@example.com"])
    world.sync()
    assert world.sf_campaign(campaign)["CM_Recipients__c"] is None


@pytest.fixture
def linked(world):
    """A campaign sent to ann, auto-created in Salesforce."""
    auto_create(since=timezone.now() - timedelta(days=1))
    contact = world.contact("ann@example.com")
    campaign = world.campaign("Members", ["ann@example.com"], minutes=-90)
    return world, contact, campaign


def test_member_status_never_leaves_members_alone(linked):
    world, contact, campaign = linked
    world.event(campaign, "open", "ann@example.com")
    world.sync()
    assert world.member(world.sf_campaign(campaign)["Id"], contact) is None


def test_member_status_always_follows_the_latest_activity(linked):
    world, contact, campaign = linked
    mode("always")
    world.event(campaign, "open", "ann@example.com", minutes=-60)
    world.sync()
    sf_campaign = world.sf_campaign(campaign)["Id"]
    member = world.member(sf_campaign, contact)
    assert (member["Status"], member["HasResponded"]) == ("Opened", True)

    world.event(campaign, "click", "ann@example.com", minutes=-10, url="https://a.example/")
    world.sync()
    member = world.member(sf_campaign, contact)
    assert member["Status"] == "Clicked"
    assert member["CM_Last_Activity__c"] == "Clicked"


def test_member_status_once_only_is_set_once(linked):
    world, contact, campaign = linked
    mode("once")
    world.event(campaign, "open", "ann@example.com", minutes=-60)
    world.sync()
    world.event(campaign, "click", "ann@example.com", minutes=-10, url="https://a.example/")
    world.sync()
    assert world.member(world.sf_campaign(campaign)["Id"], contact)["Status"] == "Opened"


def test_a_member_with_a_newer_activity_date_is_not_overwritten(linked):
    world, contact, campaign = linked
    mode("always")
    world.sync()  # sent: the member is created as "Sent"
    sf_campaign = world.sf_campaign(campaign)["Id"]
    member = world.member(sf_campaign, contact)
    future = (timezone.now() + timedelta(days=1)).isoformat()
    world.gateway.update(
        "CampaignMember", [{"Id": member["Id"], "CM_Last_Activity_Date__c": future}]
    )
    world.event(campaign, "open", "ann@example.com", minutes=-5)
    world.sync()
    assert world.member(sf_campaign, contact)["Status"] == "Sent"


@pytest.mark.parametrize("click_synced_first", [False, True])
def test_an_open_and_a_click_in_the_same_minute_make_the_member_clicked_in_any_order(
    linked, click_synced_first
):
    """A tie on the activity date goes to the later activity (sent, opened, clicked,
    unsubscribed, bounced), not to whichever cmsync happened to write first."""
    world, contact, campaign = linked
    mode("always")
    world.event(campaign, "click", "ann@example.com", minutes=-30, url="https://a.example/")
    if click_synced_first:
        world.sync()
    world.event(campaign, "open", "ann@example.com", minutes=-30)
    world.sync()
    member = world.member(world.sf_campaign(campaign)["Id"], contact)
    assert (member["Status"], member["CM_Last_Activity__c"]) == ("Clicked", "Clicked")


def test_mapping_labels_and_responded_flags_with_auto_created_statuses(linked):
    world, contact, campaign = linked
    mode("always")
    MemberStatusMapping.load()
    MemberStatusMapping.objects.filter(activity="opened").update(label="Registered")
    MemberStatusMapping.objects.filter(activity="sent").update(responded=False)
    world.event(campaign, "open", "ann@example.com")
    world.sync()
    sf_campaign = world.sf_campaign(campaign)["Id"]
    member = world.member(sf_campaign, contact)
    assert (member["Status"], member["HasResponded"]) == ("Registered", True)
    statuses = world.gateway.member_statuses([sf_campaign])[sf_campaign]
    registered = next(s for s in statuses if s["Label"] == "Registered")
    assert registered["HasResponded"] is True


def test_missing_status_without_auto_create_skips_the_member_with_a_message(linked):
    world, contact, campaign = linked
    mode("always", auto_create_statuses=False)
    world.event(campaign, "open", "ann@example.com")
    run = world.sync()
    sf_campaign = world.sf_campaign(campaign)["Id"]
    # "Sent" exists on every new campaign; "Opened" does not and may not be created.
    assert world.member(sf_campaign, contact)["Status"] == "Sent"
    message = Message.objects.get(run=run, code="SF_MISSING_STATUS")
    assert "Opened" in message.summary
    assert run.status == SyncRun.Status.PARTIAL
    assert {r["CM_Type__c"] for r in world.tracking()} == {"Sent", "Opened"}


def test_a_restricted_picklist_refusal_is_a_message_and_the_rest_is_written(world):
    # The org's admin removed "Bounced" from the tracking type picklist.
    (field,) = world.gateway.tooling_query(
        "SELECT Id FROM CustomField WHERE DeveloperName = 'CM_Type'"
    )
    world.gateway.tooling_delete("CustomField", field["Id"])
    values = ["Sent", "Opened", "Clicked", "Unsubscribed"]
    metadata = {
        "label": "Type",
        "type": "Picklist",
        "valueSet": {
            "restricted": True,
            "valueSetDefinition": {
                "value": [{"fullName": v, "label": v, "default": False} for v in values]
            },
        },
    }
    world.gateway.tooling_create(
        "CustomField", {"FullName": "CM_Email_Tracking__c.CM_Type__c", "Metadata": metadata}
    )
    check_schema(world.sf_connection, install=True)  # a new field is hidden until granted
    for email in ("ann@example.com", "bo@example.com"):
        world.contact(email)
    campaign = world.campaign("Picklist", ["ann@example.com", "bo@example.com"])
    world.event(campaign, "bounce", "bo@example.com", bounce_type="Hard", reason="No such user")
    world.event(campaign, "open", "ann@example.com")
    run = world.sync()
    assert run.status == SyncRun.Status.PARTIAL
    message = Message.objects.get(run=run)
    assert message.code == "SF_RESTRICTED_PICKLIST"
    assert message.record["fields"]["CM_Email__c"] == "bo@example.com"
    assert message.client_id == world.client["ClientID"]
    assert sorted(r["CM_Type__c"] for r in world.tracking()) == ["Opened", "Sent", "Sent"]


def test_without_cmsync_schema_opt_outs_still_sync_and_the_rest_waits(world):
    (tracking,) = world.gateway.tooling_query(
        "SELECT Id FROM CustomObject WHERE DeveloperName = 'CM_Email_Tracking'"
    )
    world.gateway.tooling_delete("CustomObject", tracking["Id"])
    world.subscriber(world.list_a, "ann@example.com", "Unsubscribed")
    contact = world.contact("ann@example.com")
    run = world.sync()
    assert world.opted_out(contact) is True
    assert Message.objects.get(run=run).code == "SF_SCHEMA_MISSING"
    assert run.status == SyncRun.Status.PARTIAL


def test_two_events_in_the_same_minute_make_one_record(world):
    world.contact("ann@example.com")
    campaign = world.campaign("Twice", ["ann@example.com"])
    world.event(campaign, "open", "ann@example.com", minutes=-30)
    world.event(campaign, "open", "ann@example.com", minutes=-30)
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, list(run.messages.values("summary"))
    assert [r["CM_Type__c"] for r in world.tracking()].count("Opened") == 1


def test_members_are_asked_of_salesforce_once_a_run_however_many_batches(world, monkeypatch):
    from salesforce.gateway import SalesforceGateway
    from sync import tracking

    monkeypatch.setattr(tracking, "FLUSH_AT", 1)  # every page its own batch
    asked: list[str] = []
    original = SalesforceGateway.tracked_members

    def tracked_members(self, campaign_id, sobject, person_ids):
        person_ids = list(person_ids)
        asked.extend(person_ids)
        return original(self, campaign_id, sobject, person_ids)

    monkeypatch.setattr(SalesforceGateway, "tracked_members", tracked_members)
    auto_create(since=timezone.now() - timedelta(days=1))
    mode("always")
    people = {e: world.contact(e) for e in ("ann@example.com", "bo@example.com")}
    campaign = world.campaign("Batches", list(people), minutes=-90)
    world.event(campaign, "open", "ann@example.com", minutes=-50)
    world.event(campaign, "click", "ann@example.com", minutes=-40, url="https://a.example/")
    world.event(campaign, "open", "bo@example.com", minutes=-30)
    assert world.sync().status == SyncRun.Status.SUCCEEDED

    assert sorted(asked) == sorted(people.values())  # sent, opens, clicks: asked once each
    sf_campaign = world.sf_campaign(campaign)["Id"]
    assert world.member(sf_campaign, people["ann@example.com"])["Status"] == "Clicked"
    assert world.member(sf_campaign, people["bo@example.com"])["Status"] == "Opened"
