"""cmsync grants itself access: its permission sets in Salesforce, installed, checked,
assigned to the sync user and to chosen readers, and removed, against the emulator (which
hides new objects and fields until a permission set grants them, as Salesforce does)."""

import pytest
from auditlog.models import LogEntry

from maintenance.models import Message
from salesforce import errors, permissions, schema
from salesforce.connection import (
    check_schema,
    connect_client_credentials,
    connect_jwt,
    install_components,
)
from salesforce.models import SalesforceSettings
from security.roles import FULL
from sync.models import SyncRun

from .conftest import make_user

pytestmark = pytest.mark.django_db

MARKETING = "marketing@cmsync-demo.example"


@pytest.fixture
def connected(alice, sf_emulator):
    """alice connected (client credentials: the org's System Administrator), sync user."""
    info = sf_emulator.info()
    oauth = info["oauth"]
    return connect_client_credentials(
        alice, info["login_url"], oauth["client_id"], oauth["client_secret"]
    )


def sf_user(sf_emulator, username: str) -> str:
    return next(u["Id"] for u in sf_emulator.info()["users"] if u["Username"] == username)


def test_before_the_grant_the_sync_skips_lists_and_tracking_and_install_fixes_it(world):
    gateway = world.gateway
    permissions.remove(gateway)  # installed, as an org where nobody granted access yet
    assert schema.missing(gateway) == []
    with pytest.raises(errors.RequestError) as excinfo:
        list(gateway.query("SELECT CM_Email__c FROM CM_Email_Tracking__c"))
    assert excinfo.value.code == "INVALID_FIELD"
    assert "No such column 'CM_Email__c' on entity 'CM_Email_Tracking__c'" in str(excinfo.value)

    world.subscriber(world.list_a, "ann@example.com", "Unsubscribed")
    contact = world.contact("ann@example.com")
    world.contact("bo@example.com")
    campaign = world.campaign("Spring", ["bo@example.com"])
    world.event(campaign, "open", "bo@example.com")
    run = world.sync()
    assert run.status == SyncRun.Status.PARTIAL, run.last_error
    assert world.opted_out(contact) is True  # opt-outs need no cmsync field
    codes = sorted(Message.objects.filter(run=run).values_list("code", flat=True))
    assert codes == ["SF_NO_ACCESS", "SF_NO_ACCESS"]  # lists and memberships; tracking
    assert gateway.count("SELECT COUNT() FROM CM_Email_Tracking__c") == 0

    added = install_components(world.sf_connection, "http://cmsync.example")
    assert f"{permissions.INTEGRATION}: the permission set" in added
    assert SalesforceSettings.get_solo().permissions_missing == []
    run = world.sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert sorted(r["CM_Type__c"] for r in world.tracking()) == ["Opened", "Sent"]
    memberships = list(gateway.query("SELECT CM_Email__c, CM_State__c FROM CM_List_Membership__c"))
    assert {m["CM_Email__c"] for m in memberships} >= {"ann@example.com", "bo@example.com"}


def test_install_grants_every_cmsync_field_and_is_idempotent(connected, sf_emulator):
    gateway = connected.gateway()
    check_schema(connected, install=True)
    assert permissions.status(gateway, connected.sf_user_id) == []
    assert permissions.install(gateway, [connected.sf_user_id]) == []  # nothing twice
    assert set(permissions.assignees(gateway, permissions.INTEGRATION)) == {connected.sf_user_id}
    # Every field of cmsync's schema is readable and writable by the sync user.
    for component in schema.components():
        if component.kind == "CustomField":
            info = gateway.describe(component.object_name)
            field = info.field(component.full_name.split(".")[1])
            assert field is not None and field.updateable, component.full_name


def test_check_reports_a_missing_assignment_and_install_fixes_it(alice_client, connected):
    alice_client.post("/maintenance/components/", {"action": "install"})
    gateway = connected.gateway()
    assignment = permissions.assignees(gateway, permissions.INTEGRATION)[connected.sf_user_id]
    gateway.delete([assignment])  # someone removed it in Salesforce

    page = alice_client.post("/maintenance/components/", {"action": "check"}, follow=True).text
    assert "Access is missing: 1 grants." in page
    assert f"{permissions.INTEGRATION}: not assigned to the sync user" in page
    assert 'value="install"' in page

    page = alice_client.post("/maintenance/components/", {"action": "install"}, follow=True).text
    assert "everything is installed." in page and "Access is missing" not in page
    assert connected.sf_user_id in permissions.assignees(gateway, permissions.INTEGRATION)


def test_set_to_current_user_assigns_the_set_to_the_new_sync_user(
    client, connected, sf_emulator, django_user_model
):
    check_schema(connected, install=True)
    info = sf_emulator.info()
    dave = make_user(django_user_model, "dave", FULL)
    mine = connect_jwt(
        dave,
        info["login_url"],
        info["jwt"]["client_id"],
        info["jwt"]["username"],
        info["jwt"]["private_key_pem"],
    )
    own = mine.gateway()
    with pytest.raises(errors.RequestError):  # the integration user sees nothing of cmsync yet
        list(own.query("SELECT Id FROM CM_Email_Tracking__c"))

    client.force_login(dave)
    page = client.post("/salesforce/sync-user/", follow=True).text
    assert "The sync now runs as you" in page
    assert mine.sf_user_id in permissions.assignees(own, permissions.INTEGRATION)
    assert list(own.query("SELECT CM_Event_Key__c FROM CM_Email_Tracking__c")) == []
    assert SalesforceSettings.get_solo().permissions_missing == []


def test_a_sync_user_that_cannot_be_granted_is_told_what_to_do(
    client, connected, sf_emulator, django_user_model
):
    check_schema(connected, install=True)
    info = sf_emulator.info()
    dave = make_user(django_user_model, "dave", FULL)
    connect_jwt(
        dave,
        info["login_url"],
        info["jwt"]["client_id"],
        info["jwt"]["username"],
        info["jwt"]["private_key_pem"],
    )
    sf_emulator.add_fault("server_unavailable", count=10)
    client.force_login(dave)
    page = client.post("/salesforce/sync-user/", follow=True).text
    assert "The sync now runs as you" in page
    assert "Press Install components on the Maintenance tab" in page
    assert SalesforceSettings.get_solo().sync_user == dave


def test_remove_everything_removes_the_permission_sets(alice_client, connected, sf_emulator):
    alice_client.post("/maintenance/components/", {"action": "install"})
    gateway = connected.gateway()
    marketing = sf_user(sf_emulator, MARKETING)
    permissions.set_readers(gateway, [marketing], among=[marketing])
    assert set(permissions.installed_sets(gateway)) == {permissions.INTEGRATION, permissions.READER}
    page = alice_client.get("/maintenance/components/remove/").text
    assert "cmsync's permission sets" in page

    alice_client.post("/maintenance/components/remove/", {"what": "everything"})
    assert permissions.installed_sets(gateway) == {}
    assert list(gateway.query("SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.Name "
                              "LIKE 'cmsync%'")) == []  # fmt: skip
    entry = LogEntry.objects.filter(additional_data__has_key="action").latest("timestamp")
    assert f"{permissions.READER}: the permission set" in entry.additional_data["action"]


def test_readers_are_chosen_on_the_maintenance_tab(alice_client, alice, connected, sf_emulator):
    alice_client.post("/maintenance/components/", {"action": "install"})
    marketing = sf_user(sf_emulator, MARKETING)
    page = alice_client.get("/maintenance/components/readers/").text
    assert "Mia Marketing" in page and MARKETING in page

    alice_client.post("/maintenance/components/readers/", {"user": [marketing, "005bogus"]})
    gateway = connected.gateway()
    assert set(permissions.assignees(gateway, permissions.READER)) == {marketing}
    entry = LogEntry.objects.filter(additional_data__has_key="action").latest("timestamp")
    assert "assigned to Mia Marketing" in entry.additional_data["action"]
    assert entry.actor == alice
    page = alice_client.get("/maintenance/components/readers/").text
    assert f'value="{marketing}" checked' in page

    # The reader reads cmsync's tracking but cannot write it.
    from salesforce.gateway import SalesforceGateway

    reader = SalesforceGateway(sf_emulator.root_url, sf_emulator.issue_token(MARKETING), retries=0)
    assert list(reader.query("SELECT CM_Email__c FROM CM_Email_Tracking__c")) == []
    (result,) = reader.create("CM_Email_Tracking__c", [{"CM_Event_Key__c": "k"}])
    assert not result.success

    alice_client.post("/maintenance/components/readers/", {})  # nobody ticked
    assert permissions.assignees(gateway, permissions.READER) == {}


def test_reader_page_checks_permissions_on_the_server(client, bob, alice, connected):
    client.force_login(bob)
    assert client.get("/maintenance/components/readers/").status_code == 403
    assert client.post("/maintenance/components/readers/", {"user": ["x"]}).status_code == 403


def test_readers_not_shown_keep_their_reader_set(alice_client, connected, sf_emulator):
    """Saving the readers page changes only the users it listed (an inactive user it did not
    list keeps the set an admin gave it in Salesforce)."""
    alice_client.post("/maintenance/components/", {"action": "install"})
    gateway = connected.gateway()
    marketing = sf_user(sf_emulator, MARKETING)
    other = next(u.id for u in permissions.active_users(gateway) if u.id != marketing)
    permissions.assign(gateway, permissions.READER, [other])

    added, removed = permissions.set_readers(gateway, [marketing], among=[marketing])
    assert (added, removed) == ([marketing], [])
    assert set(permissions.assignees(gateway, permissions.READER)) == {marketing, other}
    assert permissions.set_readers(gateway, [], among=[marketing]) == ([], [marketing])
    assert set(permissions.assignees(gateway, permissions.READER)) == {other}
