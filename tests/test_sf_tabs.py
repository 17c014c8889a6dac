"""cmsync's custom object tabs (salesforce/tabs.py) and the General option "Show tabs on the
Campaign Monitor layout", against the Salesforce emulator over real HTTP."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from salesforce import permissions, schema, tabs
from salesforce.connection import connect_client_credentials
from salesforce.errors import SalesforceError
from salesforce.gateway import SalesforceGateway
from salesforce.models import SalesforceSettings
from security.service import create_key
from settings_app.models import GeneralSettings

from .conftest import make_user
from .forms import general_post

pytestmark = pytest.mark.django_db

LABELS = ["Campaign Monitor Lists", "Email Tracking Statistics"]


@pytest.fixture
def connected(alice, sf_emulator):
    """alice's connection to the emulator, as a gateway for looking at the org."""
    info = sf_emulator.info()
    oauth = info["oauth"]
    connection = connect_client_credentials(
        alice, info["login_url"], oauth["client_id"], oauth["client_secret"]
    )
    return connection.gateway()


def org_tabs(gateway) -> dict[str, dict]:
    """Every custom tab in the org by FullName, each read on its own (as Salesforce allows)."""
    rows = gateway.tooling_query("SELECT Id FROM CustomTab")
    found = [gateway.tooling_get("CustomTab", row["Id"]) for row in rows]
    return {tab["FullName"]: tab for tab in found}


def writes(emulator) -> dict[str, int]:
    return {k: v for k, v in emulator.request_counts().items() if not k.startswith("GET ")}


def install(client) -> str:
    return client.post("/maintenance/components/", {"action": "install"}, follow=True).text


def show_tabs(client, on: bool) -> str:
    return client.post("/general/", general_post(show_tabs=on), follow=True).text


def last_action() -> str:
    entry = LogEntry.objects.filter(additional_data__has_key="action").latest("timestamp")
    return entry.additional_data["action"]


def test_tabs_are_declared_for_lists_and_tracking_with_a_motif_each():
    declared = tabs.components()
    assert [t.object_name for t in declared] == ["CM_Subscriber_List__c", "CM_Email_Tracking__c"]
    assert [t.label for t in declared] == LABELS
    assert len({t.metadata["motif"] for t in declared}) == 2
    objects = {c.full_name for c in schema.components() if c.kind == "CustomObject"}
    assert {t.object_name for t in declared} <= objects


def test_tabs_need_cmsyncs_objects_first(sf_emulator, sf_gateway):
    sf_emulator.reset_request_counts()
    with pytest.raises(SalesforceError) as excinfo:
        tabs.install(sf_gateway)
    assert excinfo.value.code == "SCHEMA_NOT_INSTALLED"
    assert "CM_Subscriber_List__c" in excinfo.value.message
    assert writes(sf_emulator) == {}
    assert org_tabs(sf_gateway) == {}


def test_install_adds_the_tabs_and_twice_adds_nothing(sf_emulator, sf_gateway):
    schema.install(sf_gateway)
    assert tabs.install(sf_gateway) == list(tabs.components())
    found = org_tabs(sf_gateway)
    assert sorted(found) == ["CM_Email_Tracking__c", "CM_Subscriber_List__c"]
    for tab in tabs.components():
        assert found[tab.object_name]["Metadata"]["motif"] == tab.metadata["motif"]
    assert all(s.installed for s in tabs.status(sf_gateway))

    sf_emulator.reset_request_counts()
    assert tabs.install(sf_gateway) == []
    assert writes(sf_emulator) == {}
    assert tabs.remove(sf_gateway) == list(tabs.components())
    assert org_tabs(sf_gateway) == {}
    assert tabs.remove(sf_gateway) == []
    assert schema.missing(sf_gateway) == []  # the objects stay


def test_other_custom_object_tabs_are_left_alone(sf_gateway):
    schema.install(sf_gateway)
    body = {
        "FullName": "Other__c",
        "Metadata": {
            "label": "Other",
            "pluralLabel": "Others",
            "nameField": {"type": "Text", "label": "Name"},
            "deploymentStatus": "Deployed",
            "sharingModel": "ReadWrite",
        },
    }
    sf_gateway.tooling_create("CustomObject", body)
    sf_gateway.tooling_create(
        "CustomTab",
        {"FullName": "Other__c", "Metadata": {"customObject": True, "motif": "Custom1: Heart"}},
    )
    assert [s.installed for s in tabs.status(sf_gateway)] == [False, False]
    tabs.install(sf_gateway)
    tabs.remove(sf_gateway)
    assert list(org_tabs(sf_gateway)) == ["Other__c"]


def test_install_components_adds_the_tabs_while_show_tabs_is_on(alice_client, connected):
    assert GeneralSettings.get_solo().show_tabs is True  # the default
    page = install(alice_client)
    assert "everything is installed." in page
    assert "Campaign Monitor Lists tab: <strong>installed</strong>" in page
    assert sorted(org_tabs(connected)) == ["CM_Email_Tracking__c", "CM_Subscriber_List__c"]
    assert "Tab: Campaign Monitor Lists" in last_action()
    assert SalesforceSettings.get_solo().tabs_installed == [
        "CM_Subscriber_List__c",
        "CM_Email_Tracking__c",
    ]


def test_install_components_leaves_the_tabs_out_while_show_tabs_is_off(alice_client, connected):
    GeneralSettings.objects.update(show_tabs=False)
    page = install(alice_client)
    assert "everything is installed." in page  # tabs that are not wanted are not missing
    assert "Campaign Monitor Lists tab: not installed" in page
    assert "(missing)" not in page
    assert org_tabs(connected) == {}
    assert "Tab" not in last_action()


def test_switching_show_tabs_off_removes_the_tabs_and_on_adds_them(alice_client, alice, connected):
    install(alice_client)
    page = show_tabs(alice_client, False)
    assert "General settings saved." in page
    assert "The Campaign Monitor tabs were removed from Salesforce" in page
    assert GeneralSettings.get_solo().show_tabs is False
    assert org_tabs(connected) == {}
    assert schema.missing(connected) == []  # lists and tracking records stay
    assert last_action() == (
        "Removed Salesforce tabs (Show tabs off): Campaign Monitor Lists, Email Tracking Statistics"
    )
    entry = LogEntry.objects.filter(additional_data__has_key="action").latest("timestamp")
    assert entry.actor == alice
    page = alice_client.get("/maintenance/").text
    assert "Show tabs is <strong>off</strong>" in page
    assert "Campaign Monitor Lists tab: not installed" in page

    page = show_tabs(alice_client, True)
    assert "The Campaign Monitor tabs are in Salesforce" in page
    assert sorted(org_tabs(connected)) == ["CM_Email_Tracking__c", "CM_Subscriber_List__c"]
    assert last_action() == (
        "Added Salesforce tabs (Show tabs on): Campaign Monitor Lists, Email Tracking Statistics"
    )


def test_saving_without_changing_show_tabs_leaves_salesforce_alone(
    alice_client, sf_emulator, connected
):
    install(alice_client)
    sf_emulator.reset_request_counts()
    alice_client.post("/general/", general_post(full_daily_sync=True))
    assert sf_emulator.request_counts() == {}


def test_remove_everything_removes_the_tabs_before_the_objects(alice_client, connected):
    install(alice_client)
    alice_client.post("/maintenance/components/remove/", {"what": "everything"})
    assert org_tabs(connected) == {}
    action = last_action()
    assert action.index("Tab: Campaign Monitor Lists") < action.index("CM_Subscriber_List__c")
    assert SalesforceSettings.get_solo().tabs_installed == []


def test_removing_from_page_layouts_keeps_the_tabs(alice_client, connected):
    install(alice_client)
    alice_client.post("/maintenance/components/remove/", {"what": "layouts"})
    assert len(org_tabs(connected)) == 2


def test_show_tabs_without_a_connection_saves_and_says_the_tabs_follow_later(alice_client):
    page = show_tabs(alice_client, False)
    assert GeneralSettings.get_solo().show_tabs is False
    assert "Salesforce is not connected, so its tabs are unchanged." in page
    assert "The tabs follow at the next Install of Salesforce components" in page


def test_show_tabs_before_the_objects_are_installed_waits_for_the_install(alice_client, connected):
    GeneralSettings.objects.update(show_tabs=False)
    page = show_tabs(alice_client, True)
    assert GeneralSettings.get_solo().show_tabs is True
    assert "the tabs are added when the components are installed" in page
    assert org_tabs(connected) == {}
    install(alice_client)
    assert len(org_tabs(connected)) == 2


def test_when_salesforce_fails_the_setting_saves_and_the_next_install_follows_it(
    alice_client, sf_emulator, connected
):
    install(alice_client)
    sf_emulator.add_fault("server_unavailable", count=50, path="/tooling/")
    page = show_tabs(alice_client, False)
    assert GeneralSettings.get_solo().show_tabs is False
    assert "The tabs follow at the next Install of Salesforce components" in page
    sf_emulator.clear_faults()
    assert len(org_tabs(connected)) == 2

    alice_client.post("/maintenance/components/", {"action": "check"})
    page = alice_client.get("/maintenance/").text
    assert "Campaign Monitor Lists tab: <strong>installed</strong> (Show tabs is off" in page
    install(alice_client)
    assert org_tabs(connected) == {}
    assert "Tab removed (Show tabs is off): Campaign Monitor Lists" in last_action()


def test_show_tabs_changes_salesforce_only_for_those_who_manage_components(
    client, django_user_model, alice_client, connected
):
    install(alice_client)
    editor = make_user(django_user_model, "erin")
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_generalsettings", "change_generalsettings"])
    )
    client.force_login(editor)
    page = client.post("/general/", general_post(show_tabs=False), follow=True).text
    assert GeneralSettings.get_solo().show_tabs is False
    assert "Managing Salesforce components needs the Full access role." in page
    assert len(org_tabs(connected)) == 2


def test_the_api_switches_the_tabs_like_the_console(alice, connected):
    install_client = APIClient()
    install_client.force_login(alice)
    install(install_client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_key('ops', 'full', alice)[1]}")
    url = "/api/v1/settings/general/"
    tag = api.get(url)["ETag"]
    response = api.patch(url, {"show_tabs": False}, format="json", HTTP_IF_MATCH=tag)
    assert response.status_code == 200 and response.json()["show_tabs"] is False
    assert org_tabs(connected) == {}
    assert last_action().startswith("Removed Salesforce tabs (Show tabs off): ")

    tag = response["ETag"]
    api.patch(url, {"show_tabs": True}, format="json", HTTP_IF_MATCH=tag)
    assert len(org_tabs(connected)) == 2


def test_the_demo_ends_with_the_tabs_installed(admin_user, sf_emulator):
    from emulators.management.commands.run_emulators import Command

    Command()._connect_salesforce(sf_emulator.info())
    assert SalesforceSettings.get_solo().tabs_installed == [
        "CM_Subscriber_List__c",
        "CM_Email_Tracking__c",
    ]


# -- tab visibility: the permission sets' tab settings -----------------------------------------

MARKETING = "marketing@cmsync-demo.example"
INTEGRATION_USER = "integration@cmsync-demo.example"
NAMES = ["CM_Subscriber_List__c", "CM_Email_Tracking__c"]


def seen_tabs(sf_emulator, username: str) -> list[str]:
    """The custom tabs a Salesforce user sees (the REST API's /tabs, as that user)."""
    user = SalesforceGateway(sf_emulator.root_url, sf_emulator.issue_token(username), retries=0)
    return [tab["name"] for tab in user.rest("tabs") if tab["custom"]]


def tab_settings(gateway) -> dict[tuple[str, str], dict]:
    """(permission set name, tab name) -> cmsync's sets' PermissionSetTabSetting rows."""
    rows = gateway.query(
        "SELECT Id, Name, Visibility, Parent.Name FROM PermissionSetTabSetting "
        "WHERE Parent.Name IN ('cmsync_Integration', 'cmsync_Reader')"
    )
    return {(row["Parent"]["Name"], row["Name"]): row for row in rows}


def choose_reader(client, sf_emulator, username: str) -> None:
    user = next(u["Id"] for u in sf_emulator.info()["users"] if u["Username"] == username)
    client.post("/maintenance/components/readers/", {"user": [user]})


def check(client) -> str:
    return client.post("/maintenance/components/", {"action": "check"}, follow=True).text


def test_install_makes_the_tabs_visible_to_the_holders_of_cmsyncs_sets(
    alice_client, sf_emulator, connected
):
    install(alice_client)
    assert "cmsync_Reader: CM_Subscriber_List__c tab (visible)" in last_action()
    settings = tab_settings(connected)
    assert {key: row["Visibility"] for key, row in settings.items()} == {
        (name, tab): "DefaultOn"
        for name in (permissions.INTEGRATION, permissions.READER)
        for tab in NAMES
    }
    # The sync user (alice's connection, the System Administrator) holds the integration set.
    assert seen_tabs(sf_emulator, sf_emulator.info()["users"][0]["Username"]) == NAMES
    # Nobody else sees them until they are given the reader set.
    assert seen_tabs(sf_emulator, MARKETING) == []
    choose_reader(alice_client, sf_emulator, MARKETING)
    assert seen_tabs(sf_emulator, MARKETING) == NAMES
    assert seen_tabs(sf_emulator, INTEGRATION_USER) == []


def test_show_tabs_off_removes_the_tabs_and_their_settings_and_on_restores_both(
    alice_client, sf_emulator, connected
):
    install(alice_client)
    choose_reader(alice_client, sf_emulator, MARKETING)
    show_tabs(alice_client, False)
    assert org_tabs(connected) == {} and tab_settings(connected) == {}
    assert seen_tabs(sf_emulator, MARKETING) == []
    page = check(alice_client)
    assert "everything is installed." in page and "Access is missing" not in page
    assert SalesforceSettings.get_solo().permissions_missing == []

    show_tabs(alice_client, True)
    assert len(tab_settings(connected)) == 4
    assert seen_tabs(sf_emulator, MARKETING) == NAMES
    assert SalesforceSettings.get_solo().permissions_missing == []
    assert "everything is installed." in check(alice_client)


def test_a_deleted_or_hidden_tab_setting_is_reported_by_check_and_restored_by_install(
    alice_client, sf_emulator, connected
):
    install(alice_client)
    choose_reader(alice_client, sf_emulator, MARKETING)
    settings = tab_settings(connected)
    # Someone hid a tab from the readers in Salesforce, and set the other to Default Off.
    connected.delete([settings[(permissions.READER, "CM_Subscriber_List__c")]["Id"]])
    row = settings[(permissions.INTEGRATION, "CM_Email_Tracking__c")]
    connected.update("PermissionSetTabSetting", [{"Id": row["Id"], "Visibility": "DefaultOff"}])
    assert seen_tabs(sf_emulator, MARKETING) == ["CM_Email_Tracking__c"]

    page = check(alice_client)
    assert "Access is missing: 2 grants." in page
    assert "cmsync_Reader: CM_Subscriber_List__c tab (visible)" in page
    assert "cmsync_Integration: CM_Email_Tracking__c tab (visible)" in page
    assert 'value="install"' in page

    page = install(alice_client)
    assert "everything is installed." in page and "Access is missing" not in page
    assert {row["Visibility"] for row in tab_settings(connected).values()} == {"DefaultOn"}
    assert len(tab_settings(connected)) == 4
    assert seen_tabs(sf_emulator, MARKETING) == NAMES


def test_tab_settings_wait_for_the_permission_sets(sf_gateway):
    """The tabs can exist before cmsync's sets (an org where they were removed): no set, no
    setting to add; the next Install adds both."""
    schema.install(sf_gateway)
    tabs.install(sf_gateway)
    assert permissions.show_tabs(sf_gateway, NAMES) == []
    permissions.install(sf_gateway)
    added = permissions.show_tabs(sf_gateway, NAMES)
    assert len(added) == 4 and "cmsync_Reader: CM_Email_Tracking__c tab (visible)" in added
    assert permissions.show_tabs(sf_gateway, NAMES) == []  # nothing twice
    assert permissions.status(sf_gateway, tabs=NAMES) == [
        f"{permissions.INTEGRATION}: no sync user to assign it to"
    ]
