"""Installing and removing cmsync's Salesforce components from the Maintenance tab."""

import pytest
from auditlog.models import LogEntry

from salesforce import layouts, schema, tabs
from salesforce.connection import connect_client_credentials
from salesforce.models import SalesforceSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(alice, sf_emulator):
    info = sf_emulator.info()
    oauth = info["oauth"]
    connection = connect_client_credentials(
        alice, info["login_url"], oauth["client_id"], oauth["client_secret"]
    )
    return connection.gateway()


def test_check_shows_what_is_missing(alice_client, connected):
    page = alice_client.post("/maintenance/components/", {"action": "check"}, follow=True).text
    total = len(schema.components())
    layout_items, tab_count = len(layouts.components()), len(tabs.components())
    assert f"{total} schema parts, {layout_items} layout items and {tab_count} tabs missing" in page
    assert "Contact Layout: " in page
    assert "<li>Tab: Campaign Monitor Lists</li>" in page
    assert "Campaign Monitor Lists tab: not installed (missing)" in page


def test_install_puts_everything_in_place_and_is_audited(alice_client, alice, connected):
    page = alice_client.post("/maintenance/components/", {"action": "install"}, follow=True).text
    assert "everything is installed." in page
    assert schema.missing(connected) == [] and layouts.missing(connected) == []
    entry = LogEntry.objects.filter(additional_data__has_key="action").latest("timestamp")
    assert entry.additional_data["action"].startswith("Installed Salesforce components: ")
    assert entry.actor == alice


def test_removal_asks_first_and_says_what_data_goes(alice_client, connected):
    alice_client.post("/maintenance/components/", {"action": "install"})
    connected.create("CM_Email_Tracking__c", [{"CM_Event_Key__c": "k1", "CM_Type__c": "Sent"}])
    page = alice_client.get("/maintenance/components/remove/").text
    assert "Their data goes with them" in page
    assert "1 records of CM_Email_Tracking__c" in page
    assert schema.missing(connected) == []  # nothing removed by asking

    alice_client.post("/maintenance/components/remove/", {"what": "everything"})
    assert len(schema.missing(connected)) == len(schema.components())
    assert SalesforceSettings.get_solo().schema_missing


def test_removing_from_layouts_keeps_the_data(alice_client, connected):
    alice_client.post("/maintenance/components/", {"action": "install"})
    page = alice_client.get("/maintenance/components/remove/?what=layouts").text
    assert "No data is deleted" in page
    alice_client.post("/maintenance/components/remove/", {"what": "layouts"})
    assert schema.missing(connected) == []
    assert len(layouts.missing(connected)) == len(layouts.components())


def test_components_need_full_access_and_a_connection(client, alice, bob):
    client.force_login(bob)
    assert client.post("/maintenance/components/", {"action": "install"}).status_code == 403
    assert client.get("/maintenance/components/remove/").status_code == 403
    client.force_login(alice)
    page = client.post("/maintenance/components/", {"action": "check"}, follow=True).text
    assert "Connect Salesforce first" in page


def test_the_salesforce_button_lands_on_a_page_that_opens_campaign_monitor(alice_client):
    page = alice_client.get("/campaign-monitor/open/?email=ann@example.com&id=003X").text
    assert "For ann@example.com." in page
    assert 'method="post"' in page
