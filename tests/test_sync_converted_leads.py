"""Converted Leads: Salesforce still returns them but refuses to update them, and the person
lives on as the Contact. A full sync, a reaction (poll or Outbound Message), a subscription
rule and an import preview leave them alone and say nothing about them."""

import pytest

from campaign_monitor.models import Connection
from maintenance.models import Message
from salesforce.gateway import memo_describe
from subscriptions.imports import work as imports
from subscriptions.models import ImportJob, SubscriptionRule
from sync import change_poll, outbound
from sync.models import SalesforceChange, SyncRun

from .test_import_wizard import job_for
from .test_subscription_rules import retrospectively, rule, state, when
from .test_sync_changes import cm_state, react, unsubscribe_calls
from .test_sync_outbound import post, run_queued, soap

pytestmark = pytest.mark.django_db


def person(world, sobject: str, email: str, **fields) -> str:
    record = {"FirstName": "Cy", "LastName": "Convert", "Email": email, **fields}
    if sobject == "Lead":
        record.setdefault("Company", "Convert Co")
    (result,) = world.gateway.create(sobject, [record])
    assert result.success, result.errors
    return result.id


def converted_lead(world, email: str, into: str | None = None, **fields) -> str:
    """A Lead converted into the Contact ``into`` (or a new one)."""
    lead = person(world, "Lead", email, **fields)
    world.sf.convert_lead(lead, contact_id=into)
    return lead


def lead_row(world, lead: str) -> dict:
    (row,) = world.gateway.query(
        f"SELECT HasOptedOutOfEmail, IsConverted, LastModifiedDate FROM Lead WHERE Id = '{lead}'"
    )
    return row


def test_a_full_sync_writes_the_contact_and_never_the_converted_lead(world):
    contact = person(world, "Contact", "cy@example.com")
    lead = converted_lead(world, "CY@example.com", into=contact)
    live_lead = person(world, "Lead", "cy@example.com", LastName="Other")
    before = lead_row(world, lead)
    world.subscriber(world.list_a, "cy@example.com", "Unsubscribed")

    run = world.sync(full=True)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert world.opted_out(contact) and world.opted_out(live_lead, "Lead")
    assert lead_row(world, lead) == before  # untouched, and still converted
    assert before["IsConverted"] is True
    assert not Message.objects.filter(run=run).exists()
    assert run.counts["opt_out"] == {"read": 1, "written": 2, "unchanged": 0, "failed": 0}
    memberships = world.gateway.query(
        f"SELECT Id FROM CM_List_Membership__c WHERE CM_Lead__c = '{lead}'"
    )
    assert list(memberships) == []


def test_the_poll_does_not_react_to_a_conversion_or_a_converted_lead(world):
    world.subscriber(world.list_a, "pat@example.com", "Active")
    lead = person(world, "Lead", "pat@example.com")
    change_poll.poll()  # the baseline
    react(world)

    world.sf.convert_lead(lead)  # a new Contact, not opted out
    run = react(world)

    assert not SalesforceChange.objects.filter(record_id=lead, run=run).exists()
    (contact,) = world.gateway.query("SELECT Id FROM Contact WHERE Email = 'pat@example.com'")
    assert SalesforceChange.objects.filter(record_id=contact["Id"], run=run).exists()
    assert cm_state(world, world.list_a, "pat@example.com") == "Active"
    assert not Message.objects.exists()


def test_an_outbound_message_about_a_converted_lead_is_not_acted_on(world, client):
    world.subscriber(world.list_a, "om@example.com", "Active")
    lead = converted_lead(world, "om@example.com", LeadSource="Web")
    rule(world.list_b, "add_lead", when("LeadSource", "Web"))
    change_poll.poll()  # the baseline
    secret = outbound.new_secret()
    (row,) = world.gateway.query(f"SELECT SystemModstamp FROM Lead WHERE Id = '{lead}'")
    notification = {
        "type": "Lead",
        "Id": lead,
        "Email": "om@example.com",
        "HasOptedOutOfEmail": "true",
        "SystemModstamp": row["SystemModstamp"].replace("+0000", "Z"),
    }

    assert post(client, secret, soap(world.sf_connection.org_id, notification)).status_code == 200
    run = run_queued()

    assert run.status == SyncRun.Status.SUCCEEDED
    change = SalesforceChange.objects.get(record_id=lead, source="outbound")
    assert change.outcome.startswith("not acted on: a converted Lead")
    assert cm_state(world, world.list_a, "om@example.com") == "Active"
    assert unsubscribe_calls(world) == 0
    assert state(world, world.list_b, "om@example.com") is None  # the rule did not add it
    assert not Message.objects.exists()


def test_a_retrospective_rule_run_leaves_converted_leads_out(world):
    person(world, "Lead", "live@example.com", LeadSource="Web")
    converted_lead(world, "gone@example.com", LeadSource="Web")
    world.subscriber(world.list_b, "gone@example.com", "Active")

    added = retrospectively(rule(world.list_a, "add_lead", when("LeadSource", "Web")))
    removed = retrospectively(rule(world.list_b, "remove_lead", when("LeadSource", "Web")))

    assert added.retro_status == SubscriptionRule.RetroStatus.SUCCEEDED
    assert added.retro_result["matched"] == 1 and added.retro_result["written"] == 1
    assert state(world, world.list_a, "live@example.com") == "Active"
    assert state(world, world.list_a, "gone@example.com") is None
    assert removed.retro_result["matched"] == 0
    assert state(world, world.list_b, "gone@example.com") == "Active"
    assert not Message.objects.exists()


def test_an_import_preview_leaves_converted_leads_out(world, alice):
    person(world, "Lead", "live@example.com")
    converted_lead(world, "gone@example.com")
    job = job_for(world, alice, source=ImportJob.Source.LEADS, status=ImportJob.Status.DRAFT)

    preview = imports.preview(job, world.gateway, Connection.current().api())

    assert (preview.found, preview.allowed) == (1, 1)
    assert [p.email for p in preview.sample] == ["live@example.com"]


def test_a_campaign_import_takes_the_contact_a_member_lead_became(world, alice):
    (campaign,) = world.gateway.query("SELECT Id FROM Campaign WHERE Name = 'Partner Roadshow'")
    lead = person(world, "Lead", "member@example.com")
    (member,) = world.gateway.create(
        "CampaignMember", [{"CampaignId": campaign["Id"], "LeadId": lead, "Status": "Sent"}]
    )
    assert member.success
    world.sf.convert_lead(lead)
    job = job_for(
        world,
        alice,
        source=ImportJob.Source.CAMPAIGN,
        campaign_id=campaign["Id"],
        status=ImportJob.Status.DRAFT,
    )

    preview = imports.preview(job, world.gateway, Connection.current().api())
    source = imports.build_source(job, memo_describe(world.gateway), [])
    (candidate,) = imports.read_people(job, world.gateway, source)

    assert (preview.found, preview.allowed) == (1, 1)
    (contact,) = world.gateway.query("SELECT Id FROM Contact WHERE Email = 'member@example.com'")
    assert (candidate.sobject, candidate.id) == ("Contact", contact["Id"])


def test_a_demo_sync_meets_duplicates_and_converted_leads_without_a_message(
    cm_emulator, sf_emulator, admin_user
):
    """Both emulators seeded as ``make run`` seeds them: the alert rules are on, people
    with duplicates and converted Leads share the demo's addresses."""
    from .sync_world import World

    counts = sf_emulator.seed_people(cm_emulator.emails())
    assert counts["duplicates"] and counts["converted_leads"]
    world = World(cm_emulator, sf_emulator, admin_user)
    converted = {
        row["Id"] for row in world.gateway.query("SELECT Id FROM Lead WHERE IsConverted = true")
    }

    run = world.sync()

    messages = Message.objects.filter(run=run)
    assert not messages.filter(code="SF_DUPLICATE").exists()
    assert not [m for m in messages if (m.record.get("fields") or {}).get("Id") in converted]
    assert "CANNOT_UPDATE_CONVERTED_LEAD" not in " ".join(m.upstream_message for m in messages)
    assert run.counts["opt_out"]["written"] > 0
