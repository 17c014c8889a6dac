"""The Outbound Message endpoint: Salesforce's SOAP notifications, checked and acted on once."""

from xml.sax.saxutils import escape

import pytest
from auditlog.models import LogEntry
from django.db import connection

from salesforce.models import SalesforceSettings
from settings_app.models import GeneralSettings
from sync import change_poll, outbound, runner
from sync.models import SalesforceChange, SyncRun

from .test_sync_changes import cm_state, unsubscribe_calls

pytestmark = pytest.mark.django_db


def soap(org_id: str, *records: dict, notification: str = "04l1k000000AbcdAAA") -> bytes:
    """An Outbound Message as Salesforce sends it (one Notification per record)."""
    items = []
    for n, record in enumerate(records):
        fields = "".join(
            f'<sf:{name} xsi:nil="true"/>'
            if value is None
            else f"<sf:{name}>{escape(value)}</sf:{name}>"
            for name, value in record.items()
            if name != "type"
        )
        items.append(
            f"<Notification><Id>{notification[:-4]}{n:04d}</Id>"
            f'<sObject xsi:type="sf:{record.get("type", "Contact")}" '
            f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject></Notification>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>04k1k0000000001AAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0</EnterpriseUrl>"
        "<PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0</PartnerUrl>"
        f"{''.join(items)}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def post(client, secret: str, body: bytes):
    return client.post(f"/sync/outbound/{secret}/", body, content_type="text/xml; charset=utf-8")


def run_queued() -> SyncRun | None:
    run = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES, active=True).first()
    return runner.execute(run.pk) if run else None


@pytest.fixture
def opted_out_contact(world):
    """A contact active on a list, opted out in Salesforce after the baseline."""

    world.subscriber(world.list_a, "om@example.com", "Active")
    record_id = world.contact("om@example.com")
    change_poll.poll()  # the baseline
    (result,) = world.gateway.update("Contact", [{"Id": record_id, "HasOptedOutOfEmail": True}])
    assert result.success
    (row,) = world.gateway.query(f"SELECT SystemModstamp FROM Contact WHERE Id = '{record_id}'")
    return {
        "Id": record_id,
        "Email": "om@example.com",
        "HasOptedOutOfEmail": "true",
        "SystemModstamp": row["SystemModstamp"].replace("+0000", "Z"),
    }


def test_an_outbound_message_is_acted_on_once_even_when_delivered_twice(
    world, client, opted_out_contact
):
    secret = outbound.new_secret()
    body = soap(world.sf_connection.org_id, opted_out_contact)

    response = post(client, secret, body)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Ack>true</Ack>" in response.content
    run = run_queued()
    assert run.trigger == SyncRun.Trigger.OUTBOUND and run.status == SyncRun.Status.SUCCEEDED
    assert cm_state(world, world.list_a, "om@example.com") == "Unsubscribed"

    # Salesforce did not get the ack in time and sends the same message again; then the poll
    # reads the same change.
    world.subscriber(world.list_a, "om@example.com", "Active", minutes_later=1)
    assert b"<Ack>true</Ack>" in post(client, secret, body).content
    assert run_queued() is None  # nothing new to act on

    change_poll.poll()
    run_queued()
    assert SalesforceChange.objects.filter(source="outbound").count() == 1
    assert unsubscribe_calls(world) == 1
    assert cm_state(world, world.list_a, "om@example.com") == "Active"


def test_a_bad_secret_is_refused_and_stores_nothing(world, client, opted_out_contact):
    outbound.new_secret()
    body = soap(world.sf_connection.org_id, opted_out_contact)
    assert post(client, "not-the-secret", body).status_code == 403
    assert not SalesforceChange.objects.exists()
    assert cm_state(world, world.list_a, "om@example.com") == "Active"


def test_no_endpoint_until_a_secret_is_generated(world, client, opted_out_contact):
    body = soap(world.sf_connection.org_id, opted_out_contact)
    assert post(client, "", body).status_code == 404
    assert post(client, "anything", body).status_code == 403


def test_a_message_from_another_org_is_refused(world, client, opted_out_contact):
    secret = outbound.new_secret()
    response = post(client, secret, soap("00D000000000999AAA", opted_out_contact))
    assert response.status_code == 403
    assert b"connected Salesforce org" in response.content
    assert not SalesforceChange.objects.exists()


def test_the_15_character_org_id_is_accepted(world, client, opted_out_contact):
    secret = outbound.new_secret()
    org15 = world.sf_connection.org_id[:15]
    assert post(client, secret, soap(org15, opted_out_contact)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>',
    ],
    ids=["not-xml", "no-notifications", "entities"],
)
def test_malformed_messages_are_refused(world, client, body):
    secret = outbound.new_secret()
    response = post(client, secret, body)
    assert response.status_code == 400
    assert not SalesforceChange.objects.exists()


def test_with_triggers_disabled_the_message_is_acknowledged_and_ignored(
    world, client, opted_out_contact
):
    GeneralSettings.objects.update(disable_triggers=True)
    secret = outbound.new_secret()
    response = post(client, secret, soap(world.sf_connection.org_id, opted_out_contact))
    assert b"<Ack>true</Ack>" in response.content
    assert not SalesforceChange.objects.exists()
    assert cm_state(world, world.list_a, "om@example.com") == "Active"


def test_a_late_message_older_than_what_was_applied_is_ignored(world, client, opted_out_contact):
    """Ticked, then unticked; the poll saw the latest; the old notification arrives late."""

    secret = outbound.new_secret()
    record_id = opted_out_contact["Id"]
    world.gateway.update("Contact", [{"Id": record_id, "HasOptedOutOfEmail": False}])
    change_poll.poll()
    run_queued()
    assert (
        post(client, secret, soap(world.sf_connection.org_id, opted_out_contact)).status_code == 200
    )
    run_queued()
    assert cm_state(world, world.list_a, "om@example.com") == "Active"
    late = SalesforceChange.objects.get(source="outbound")
    assert late.outcome == "not acted on: older than a change already handled"


def test_generating_the_endpoint_shows_the_url_once_and_is_audited(world, client, alice, bob):
    client.force_login(bob)  # Standard role
    assert client.post("/sync/changes/endpoint/").status_code == 403
    client.force_login(alice)  # Full access
    response = client.post("/sync/changes/endpoint/", follow=True)
    secret = SalesforceSettings.get_solo().outbound_secret
    assert f"/sync/outbound/{secret}/" in response.text
    page = client.get("/sync/").text
    assert secret not in page and f"…{secret[-4:]}" in page
    (entry,) = LogEntry.objects.filter(actor=alice, additional_data__area="sync")
    assert entry.additional_data["action"] == "New Outbound Message endpoint URL generated"
    assert secret not in str(entry.changes)
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT outbound_secret FROM salesforce_salesforcesettings")
        (stored,) = cursor.fetchone()
    assert secret not in stored


def test_the_endpoint_only_takes_posts(world, client):
    secret = outbound.new_secret()
    assert client.get(f"/sync/outbound/{secret}/").status_code == 405
