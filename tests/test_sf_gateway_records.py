"""The gateway's named reads (the sync's, the rules', the import wizard's) against the
emulator over real HTTP: each returns what its callers rely on, and an IN list too long for
one query URL goes out as several queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from salesforce import permissions, queries, schema
from salesforce.gateway import IN_CHUNK_CHARS, SalesforceGateway

pytestmark = pytest.mark.django_db


def queries_sent(emulator) -> int:
    return sum(v for k, v in emulator.request_counts().items() if k.startswith("GET /query"))


def contacts(gateway, emails: list[str], **fields) -> list[str]:
    records = [{"LastName": "Person", "Email": e, **fields} for e in emails]
    results = gateway.create("Contact", records)
    assert all(r.success for r in results)
    return [r.id for r in results]


def converted_lead(emulator, gateway, email: str, **fields) -> str:
    lead = {"LastName": "Lead", "Company": "Co", "Email": email, **fields}
    (result,) = gateway.create("Lead", [lead])
    emulator.convert_lead(result.id)
    return result.id


@pytest.fixture
def schema_ready(sf_gateway):
    """cmsync's objects installed and granted to the gateway's user."""
    schema.install(sf_gateway)
    permissions.install(sf_gateway, [sf_gateway.identity()["user_id"]])
    return sf_gateway


def test_a_long_in_list_of_emails_goes_out_as_several_queries(sf_emulator, sf_gateway):
    # 150 addresses of about 90 characters: under 200 values, over one query URL's budget.
    emails = [f"{'x' * 60}.{i:03d}@example.com" for i in range(150)]
    assert sum(len(e) + 9 for e in emails) > IN_CHUNK_CHARS
    contacts(sf_gateway, emails, Title="VIP")
    sf_emulator.reset_request_counts()
    found = list(sf_gateway.matching_by_email("Contact", emails, "Title = 'VIP'"))
    assert {row["Email"] for row in found} == set(emails)
    assert queries_sent(sf_emulator) == 2


def test_ids_go_200_to_a_query(sf_emulator, sf_gateway):
    ids = contacts(sf_gateway, [f"p{i}@example.com" for i in range(450)])
    sf_emulator.reset_request_counts()
    rows = sf_gateway.people_by_id("Contact", ids, ["Email"])
    assert set(rows) == set(ids)
    assert rows[ids[0]]["Email"] == "p0@example.com"
    assert queries_sent(sf_emulator) == 3


def test_people_by_id_leaves_converted_leads_and_deleted_records_out(sf_emulator, sf_gateway):
    (kept,) = sf_gateway.create("Lead", [{"LastName": "L", "Company": "C", "Email": "l@e.com"}])
    converted = converted_lead(sf_emulator, sf_gateway, "c@example.com")
    (gone,) = contacts(sf_gateway, ["gone@example.com"])
    sf_gateway.delete([gone])
    assert set(sf_gateway.people_by_id("Lead", [kept.id, converted], ["Email"])) == {kept.id}
    assert sf_gateway.people_by_id("Contact", [gone], ["Email"]) == {}


def test_opted_out_people_are_contacts_and_unconverted_leads_opted_out(sf_emulator, sf_gateway):
    (out,) = contacts(sf_gateway, ["out@example.com"], HasOptedOutOfEmail=True)
    (still_in,) = contacts(sf_gateway, ["in@example.com"])
    converted_lead(sf_emulator, sf_gateway, "was-lead@example.com", HasOptedOutOfEmail=True)
    (lead,) = sf_gateway.create(
        "Lead", [{"LastName": "L", "Company": "C", "Email": "l@e.com", "HasOptedOutOfEmail": True}]
    )
    found = {r["Id"]: r["Email"] for r in sf_gateway.opted_out_people("Contact")}
    assert found[out] == "out@example.com" and still_in not in found
    assert [r["Id"] for r in sf_gateway.opted_out_people("Lead")] == [lead.id]


def test_changes_since_a_moment_come_oldest_first_with_deletions(sf_emulator, sf_gateway):
    (before,) = contacts(sf_gateway, ["before@example.com"])
    sf_emulator.advance_clock(120)
    cursor = sf_gateway.latest_modstamp("Contact")
    sf_emulator.advance_clock(60)
    first, second = contacts(sf_gateway, ["first@example.com", "second@example.com"])
    sf_emulator.advance_clock(60)
    sf_gateway.delete([first])
    fields = ("Id", "IsDeleted", "SystemModstamp")
    rows = list(sf_gateway.changed_since("Contact", fields, cursor + timedelta(seconds=1)))
    assert [r["Id"] for r in rows] == [second, first]  # the deletion is the latest change
    assert rows[-1]["IsDeleted"] is True
    assert before not in {r["Id"] for r in rows}
    # The newest stamp counts deleted records too: the deletion is where a poll starts.
    assert sf_gateway.latest_modstamp("Contact") > cursor


def test_latest_modstamp_of_an_empty_object_is_none(schema_ready):
    assert schema_ready.latest_modstamp("CM_Email_Tracking__c") is None


def test_a_condition_with_braces_is_not_taken_for_a_placeholder(sf_gateway):
    ids = contacts(sf_gateway, ["a@example.com", "b@example.com"])
    sf_gateway.update("Contact", [{"Id": ids[0], "Title": "{curly}"}])
    rows = sf_gateway.matching_by_id("Contact", ids, ["Id", "Title"], "Title = '{curly}'")
    assert [r["Id"] for r in rows] == [ids[0]]


def test_matching_newest_first_orders_by_last_modified(sf_emulator, sf_gateway):
    older, newer = contacts(sf_gateway, ["o@example.com", "n@example.com"], Title="VIP")
    sf_emulator.advance_clock(60)
    sf_gateway.update("Contact", [{"Id": older, "Phone": "555 0100"}])
    rows = list(sf_gateway.matching_newest_first("Contact", ["Id"], "Title = 'VIP'"))
    assert [r["Id"] for r in rows] == [older, newer]


def test_contacts_of_accounts(sf_gateway):
    acme, other = (r.id for r in sf_gateway.create("Account", [{"Name": "A"}, {"Name": "B"}]))
    (worker,) = contacts(sf_gateway, ["w@example.com"], AccountId=acme)
    contacts(sf_gateway, ["x@example.com"], AccountId=other)
    assert sf_gateway.contacts_of_accounts([acme]) == {worker: acme}


def test_campaigns_by_name_and_by_campaign_monitor_id(schema_ready):
    gateway = schema_ready
    spring, autumn = gateway.create(
        "Campaign",
        [{"Name": "Spring", "CM_Campaign_Id__c": "cm-1"}, {"Name": "Autumn"}],
    )
    names = [c["Name"] for c in gateway.campaign_names()]
    assert names == sorted(names) and {"Autumn", "Spring"} <= set(names)
    assert gateway.campaigns_by_cm_id(["cm-1", "cm-2"]) == {"cm-1": spring.id}


def test_subscriber_lists_by_list_id(schema_ready):
    gateway = schema_ready
    (row,) = gateway.create("CM_Subscriber_List__c", [{"Name": "News", "CM_List_Id__c": "l1"}])
    found = gateway.subscriber_lists(["l1", "l2"], ["Name", "CM_List_Id__c"])
    assert list(found) == ["l1"]
    assert found["l1"]["Id"] == row.id and found["l1"]["Name"] == "News"


def test_tracked_members_of_a_campaign(schema_ready):
    gateway = schema_ready
    (campaign,) = gateway.create("Campaign", [{"Name": "Spring"}])
    mine, other = contacts(gateway, ["m@example.com", "o@example.com"])
    member = {"CampaignId": campaign.id, "ContactId": mine, "Status": "Sent"}
    assert gateway.create("CampaignMember", [member])[0].success
    (row,) = gateway.tracked_members(campaign.id, "Contact", [mine, other])
    assert row["ContactId"] == mine and row["Status"] == "Sent"
    assert row["CM_Status_Set__c"] is False


def test_tracking_record_ids_all_or_before_a_date(schema_ready):
    gateway = schema_ready
    events = [
        {"CM_Event_Key__c": key, "CM_Email__c": "a@example.com", "CM_Type__c": "Opened"}
        | {"CM_Event_Date__c": date}
        for key, date in (("k" * 40, "2026-01-01T10:00:00Z"), ("j" * 40, "2026-03-01T10:00:00Z"))
    ]
    old, new = gateway.upsert("CM_Email_Tracking__c", "CM_Event_Key__c", events)
    assert set(gateway.tracking_record_ids()) == {old.id, new.id}
    cutoff = datetime(2026, 2, 1, tzinfo=UTC)
    assert list(gateway.tracking_record_ids(before=cutoff)) == [old.id]


def test_the_import_wizards_statements_read_and_count_the_same_people(sf_emulator, sf_gateway):
    contacts(sf_gateway, ["a@example.com", "b@example.com"], Title="VIP")
    contacts(sf_gateway, ["c@example.com"])
    read, count = queries.people("Contact", ["Id", "Email"], "Title = 'VIP'")
    assert sf_gateway.count(count) == 2
    assert len(list(sf_gateway.query(read))) == 2
    converted_lead(sf_emulator, sf_gateway, "l@example.com")
    read, count = queries.people("Lead", ["Id"], "")
    assert sf_gateway.count(count) == 0

    (campaign,) = sf_gateway.create("Campaign", [{"Name": "Spring"}])
    ids = contacts(sf_gateway, ["m1@example.com", "m2@example.com"])
    members = [
        {"CampaignId": campaign.id, "ContactId": ids[0], "Status": "Sent"},
        {"CampaignId": campaign.id, "ContactId": ids[1], "Status": "Responded"},
    ]
    assert all(r.success for r in sf_gateway.create("CampaignMember", members))
    read, count = queries.campaign_members(campaign.id, [], ["Id", "ContactId"])
    assert sf_gateway.count(count) == 2
    read, count = queries.campaign_members(campaign.id, ["Responded"], ["Id", "ContactId"])
    assert [r["ContactId"] for r in sf_gateway.query(read)] == [ids[1]]


def test_retry_back_off_comes_from_the_setting_or_the_caller(sf_gateway):
    def factor(gateway: SalesforceGateway) -> float:
        return gateway.session.get_adapter("https://x").max_retries.backoff_factor

    assert factor(sf_gateway) == settings.SALESFORCE_RETRY_BACKOFF_SECONDS == 0.5
    token = sf_gateway.sf.session_id
    assert factor(SalesforceGateway(sf_gateway.instance_url, token, backoff=0.01)) == 0.01
