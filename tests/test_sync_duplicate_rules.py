"""Duplicate rules against the sync: alert rules never stop cmsync's writes, a block rule's
refusal becomes an SF_DUPLICATE message naming the rule, for just those records."""

import pytest

from maintenance.models import Message
from salesforce import errors as sf_errors
from sync.models import SyncRun

pytestmark = pytest.mark.django_db

JANE = {"FirstName": "Jane", "LastName": "Doe"}


def people(world, sobject: str, *records: dict) -> list[str]:
    """Records created as cmsync writes them (past the alert rule when they match)."""
    if sobject == "Lead":
        records = tuple({"Company": "Doe Co", **r} for r in records)
    results = world.gateway.create(sobject, list(records))
    assert all(r.success for r in results), [r.errors for r in results]
    return [r.id for r in results]


def unsubscribed(world, *emails: str) -> None:
    for email in emails:
        world.subscriber(world.list_a, email, "Unsubscribed")


def test_the_demo_org_refuses_duplicates_without_the_header(world):
    """The emulator's alert rule is on, as in many real orgs: a write without
    Sforce-Duplicate-Rule-Header is refused, so the header is what lets cmsync through."""
    assert {r["action"] for r in world.sf.duplicate_rules()} == {"alert"}
    first, second = people(world, "Contact", *[{**JANE, "Email": "jane@example.com"}] * 2)
    body = {
        "allOrNone": False,
        "records": [{"attributes": {"type": "Contact"}, "Id": second, "HasOptedOutOfEmail": True}],
    }
    (row,) = world.gateway.rest("composite/sobjects", method="PATCH", json=body)
    assert row["success"] is False
    assert row["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"
    (result,) = world.gateway.update("Contact", [{"Id": second, "HasOptedOutOfEmail": True}])
    assert result.success
    with pytest.raises(sf_errors.RequestError) as refused:
        world.gateway.rest(
            "sobjects/Contact", method="POST", json={**JANE, "Email": "jane@example.com"}
        )
    assert refused.value.code == "DUPLICATES_DETECTED"


def test_an_alert_rule_does_not_stop_opt_out_writes(world):
    contacts = people(world, "Contact", *[{**JANE, "Email": "jane@example.com"}] * 2)
    (lead,) = people(world, "Lead", {**JANE, "Email": "JANE@example.com"})
    unsubscribed(world, "jane@example.com")

    run = world.sync()

    assert run.status == SyncRun.Status.SUCCEEDED
    assert all(world.opted_out(c) for c in contacts)
    assert world.opted_out(lead, "Lead")
    assert not Message.objects.filter(run=run).exists()
    assert run.counts["opt_out"]["written"] == 3 and run.counts["opt_out"]["failed"] == 0


def test_a_block_rule_becomes_sf_duplicate_messages_for_just_those_records(world):
    twins = people(world, "Contact", *[{**JANE, "Email": "jane@example.com"}] * 2)
    (alone,) = people(world, "Contact", {**JANE, "Email": "jane.alone@example.com"})
    (lead,) = people(world, "Lead", {**JANE, "Email": "jane@example.com"})
    (other_lead,) = people(world, "Lead", {"LastName": "Roe", "Email": "roe@example.com"})
    world.sf.add_duplicate_rule("Contact", "block")
    unsubscribed(world, "jane@example.com", "jane.alone@example.com", "roe@example.com")

    run = world.sync()

    assert world.opted_out(alone) and world.opted_out(other_lead, "Lead")
    assert world.opted_out(lead, "Lead")  # the Lead rule is an alert: cmsync saves past it
    assert not any(world.opted_out(c) for c in twins)
    messages = Message.objects.filter(run=run).order_by("pk")
    assert {m.code for m in messages} == {"SF_DUPLICATE"}
    assert sorted(m.record["fields"]["Id"] for m in messages) == sorted(twins)
    for message in messages:
        assert "Standard_Contact_Duplicate_Rule" in message.summary
        assert "not written (Email opt-out)" in message.summary  # the step by its plain name
        assert message.upstream_message == "Use one of these records?"
        assert message.step == "opt_out" and message.record["sobject"] == "Contact"
    assert run.counts["opt_out"]["failed"] == 2 and run.counts["opt_out"]["written"] == 3


def test_a_block_rule_on_leads_names_the_lead_rule(world):
    people(world, "Contact", {**JANE, "Email": "jane@example.com"})
    (lead,) = people(world, "Lead", {**JANE, "Email": "jane@example.com"})
    world.sf.add_duplicate_rule("Lead", "block")
    unsubscribed(world, "jane@example.com")

    run = world.sync()

    (message,) = Message.objects.filter(run=run)
    assert message.code == "SF_DUPLICATE" and message.record["fields"]["Id"] == lead
    assert "Standard_Lead_Duplicate_Rule" in message.summary
    assert not world.opted_out(lead, "Lead")
