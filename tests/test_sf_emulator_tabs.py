"""Custom object tabs (Tooling API CustomTab) in the Salesforce emulator, over real HTTP
through simple-salesforce."""

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from emulators.salesforce import SalesforceEmulator

from .test_sf_emulator import connect, fails, tooling_rows
from .test_sf_emulator_security import (
    MARKETING,
    assign,
    grant_object,
    permission_set,
    user_id,
)

OBJECT = {
    "label": "Subscriber List",
    "pluralLabel": "Subscriber Lists",
    "nameField": {"type": "Text", "label": "List Name"},
    "deploymentStatus": "Deployed",
    "sharingModel": "ReadWrite",
}


@pytest.fixture
def sf():
    with SalesforceEmulator(seed="empty") as emulator:
        yield connect(emulator)


def create_object(sf, name: str = "CM_List__c") -> str:
    body = {"FullName": name, "Metadata": OBJECT}
    return sf.restful("tooling/sobjects/CustomObject", method="POST", json=body)["id"]


def create_tab(sf, full_name: str, **metadata) -> dict:
    body = {"FullName": full_name, "Metadata": {"customObject": True, **metadata}}
    return sf.restful("tooling/sobjects/CustomTab", method="POST", json=body)


def tab_ids(sf, where: str = "") -> list[str]:
    return [row["Id"] for row in tooling_rows(sf, f"SELECT Id FROM CustomTab {where}")]


def refused(sf, full_name: str, code: str, **metadata) -> str:
    return fails(SalesforceMalformedRequest, lambda: create_tab(sf, full_name, **metadata), code)[
        "message"
    ]


def test_a_custom_object_tab_is_created_queried_read_and_deleted(sf):
    create_object(sf)
    created = create_tab(sf, "cm_list__c", motif="Custom55: Books", description="Lists")
    assert created["success"] is True and created["id"].startswith("01r")

    (row,) = tooling_rows(sf, "SELECT Id, Type, DeveloperName, MasterLabel FROM CustomTab")
    # A custom object tab names its object only in FullName.
    assert row["Type"] == "customObject"
    assert row["DeveloperName"] is None and row["MasterLabel"] is None
    tab = sf.toolingexecute(f"sobjects/CustomTab/{created['id']}")
    assert tab["FullName"] == "CM_List__c"  # the object's own spelling
    assert tab["Metadata"] == {
        "customObject": True,
        "motif": "Custom55: Books",
        "description": "Lists",
    }
    assert tab["Description"] == "Lists"
    assert tab_ids(sf, "WHERE Type = 'customObject'") == [row["Id"]]

    sf.restful(f"tooling/sobjects/CustomTab/{created['id']}", method="DELETE")
    assert tab_ids(sf) == []
    fails(
        SalesforceResourceNotFound,
        lambda: sf.restful(f"tooling/sobjects/CustomTab/{created['id']}", method="DELETE"),
        "NOT_FOUND",
    )
    # Once deleted, the object can have a tab again.
    assert create_tab(sf, "CM_List__c", motif="Custom55: Books")["success"] is True


def test_a_tab_needs_an_existing_custom_object(sf):
    message = refused(sf, "CM_List__c", "FIELD_INTEGRITY_EXCEPTION", motif="Custom55: Books")
    assert message == "In field: fullName - no CustomObject named CM_List__c found"
    message = refused(sf, "Contact", "FIELD_INTEGRITY_EXCEPTION", motif="Custom55: Books")
    assert message == "In field: fullName - no CustomObject named Contact found"
    assert tab_ids(sf) == []


def test_an_object_has_one_tab(sf):
    create_object(sf)
    create_tab(sf, "CM_List__c", motif="Custom55: Books")
    refused(sf, "CM_List__c", "DUPLICATE_DEVELOPER_NAME", motif="Custom23: Envelope")
    assert len(tab_ids(sf)) == 1


def test_tab_metadata_is_checked(sf):
    create_object(sf)
    assert refused(sf, "CM_List__c", "REQUIRED_FIELD_MISSING").endswith("[motif]")
    for motif in ("Books", "Custom0: Nothing", "Custom101: Beyond", "custom5: Leaf"):
        refused(sf, "CM_List__c", "FIELD_INTEGRITY_EXCEPTION", motif=motif)
    # A custom object tab takes the object's label.
    refused(sf, "CM_List__c", "FIELD_INTEGRITY_EXCEPTION", motif="Custom5: Leaf", label="Lists")
    # Exactly one kind of tab.
    refused(
        sf,
        "CM_List__c",
        "FIELD_INTEGRITY_EXCEPTION",
        motif="Custom5: Leaf",
        url="https://example.com",
    )
    body = {"FullName": "CM_List__c", "Metadata": {"motif": "Custom5: Leaf"}}
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.restful("tooling/sobjects/CustomTab", method="POST", json=body),
        "FIELD_INTEGRITY_EXCEPTION",
    )
    assert error["message"] == "Master label must be provided for non-custom object tabs"
    assert tab_ids(sf) == []


def test_full_name_is_read_one_tab_at_a_time(sf):
    create_object(sf, "CM_List__c")
    create_object(sf, "CM_Other__c")
    create_tab(sf, "CM_List__c", motif="Custom55: Books")
    create_tab(sf, "CM_Other__c", motif="Custom23: Envelope")
    fails(
        SalesforceMalformedRequest,
        lambda: tooling_rows(sf, "SELECT Id, FullName FROM CustomTab"),
        "MALFORMED_QUERY",
    )
    names = {
        sf.toolingexecute(f"sobjects/CustomTab/{row['Id']}")["FullName"]
        for row in tooling_rows(sf, "SELECT Id FROM CustomTab")
    }
    assert names == {"CM_List__c", "CM_Other__c"}


def test_deleting_the_object_deletes_its_tab(sf):
    object_id = create_object(sf)
    create_object(sf, "CM_Other__c")
    create_tab(sf, "CM_List__c", motif="Custom55: Books")
    kept = create_tab(sf, "CM_Other__c", motif="Custom23: Envelope")
    sf.restful(f"tooling/sobjects/CustomObject/{object_id}", method="DELETE")
    assert tab_ids(sf) == [kept["id"]]


def test_tabs_are_not_updated(sf):
    create_object(sf)
    created = create_tab(sf, "CM_List__c", motif="Custom55: Books")
    fails(
        SalesforceResourceNotFound,
        lambda: sf.restful(
            f"tooling/sobjects/CustomTab/{created['id']}",
            method="PATCH",
            json={"Metadata": {"customObject": True, "motif": "Custom5: Leaf"}},
        ),
        "NOT_FOUND",
    )


def test_data_dir_keeps_tabs(tmp_path):
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as first:
        sf = connect(first)
        create_object(sf)
        kept = create_tab(sf, "CM_List__c", motif="Custom55: Books")["id"]
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as second:
        sf = connect(second)
        assert tab_ids(sf) == [kept]
        refused(sf, "CM_List__c", "DUPLICATE_DEVELOPER_NAME", motif="Custom23: Envelope")


# -- tab visibility: PermissionSetTabSetting -----------------------------------------------


@pytest.fixture
def org():
    """The demo org, as its System Administrator and its marketing user (Standard User)."""
    with SalesforceEmulator(seed="demo") as emulator:
        yield connect(emulator), connect(emulator, emulator.issue_token(MARKETING))


def tab_setting(sf, set_id: str, name: str, visibility: str = "DefaultOn") -> str:
    record = {"ParentId": set_id, "Name": name, "Visibility": visibility}
    return sf.PermissionSetTabSetting.create(record)["id"]


def custom_tabs(sf) -> list[str]:
    """The custom tabs the user sees (REST /tabs)."""
    return [tab["name"] for tab in sf.restful("tabs") if tab["custom"]]


def profile_set(sf, profile: str) -> str:
    (owned,) = sf.query(f"SELECT Id FROM PermissionSet WHERE Profile.Name = '{profile}'")["records"]
    return owned["Id"]


def test_a_new_tab_is_hidden_until_a_permission_set_gives_it_a_tab_setting(org):
    admin, marketing = org
    create_object(admin)
    create_tab(admin, "CM_List__c", motif="Custom55: Books")
    # Created through the API, the tab has no setting: hidden even from the administrator,
    # who may read every object.
    assert custom_tabs(admin) == [] and custom_tabs(marketing) == []
    standard = [tab["name"] for tab in marketing.restful("tabs")]
    assert "standard-Contact" in standard

    set_id = permission_set(admin, "List_Readers")
    setting = tab_setting(admin, set_id, "cm_list__c", "DefaultOff")
    assign(admin, set_id, user_id(marketing))
    # A tab setting alone does not show a tab on an object the user may not read.
    assert custom_tabs(marketing) == []
    grant_object(admin, set_id, "CM_List__c", "Read")
    (tab,) = [t for t in marketing.restful("tabs") if t["custom"]]
    assert tab["name"] == tab["sobjectName"] == "CM_List__c"  # the object's own spelling
    assert tab["label"] == "Subscriber Lists" and tab["url"].endswith("/o")
    assert custom_tabs(admin) == []  # the set is not the administrator's

    (row,) = admin.query(
        f"SELECT Name, Visibility, Parent.Name FROM PermissionSetTabSetting WHERE Id = '{setting}'"
    )["records"]
    assert (row["Name"], row["Visibility"], row["Parent"]["Name"]) == (
        "CM_List__c",
        "DefaultOff",
        "List_Readers",
    )
    admin.PermissionSetTabSetting.update(setting, {"Visibility": "DefaultOn"})
    assert admin.PermissionSetTabSetting.get(setting)["Visibility"] == "DefaultOn"

    # A profile's tab settings live in the set the profile owns.
    tab_setting(admin, profile_set(admin, "System Administrator"), "CM_List__c")
    assert custom_tabs(admin) == ["CM_List__c"]

    # There is no hidden value: deleting the setting hides the tab.
    admin.PermissionSetTabSetting.delete(setting)
    assert custom_tabs(marketing) == []


def test_tab_settings_follow_salesforce_rules(org):
    admin, _ = org
    create_object(admin)
    set_id = permission_set(admin)

    def refused(record: dict, code: str) -> str:
        record = {"ParentId": set_id, "Visibility": "DefaultOn", **record}
        return fails(
            SalesforceMalformedRequest,
            lambda: admin.PermissionSetTabSetting.create(record),
            code,
        )["message"]

    # An object without a tab has no tab to set.
    message = refused({"Name": "CM_List__c"}, "FIELD_INTEGRITY_EXCEPTION")
    assert message == "You can't edit tab settings for CM_List__c, as it's not a valid tab."
    refused({"Name": "standard-Nothing"}, "FIELD_INTEGRITY_EXCEPTION")
    refused({"Name": "Contact"}, "FIELD_INTEGRITY_EXCEPTION")  # standard tabs: "standard-X"
    refused(
        {"Name": "standard-Contact", "Visibility": "Hidden"},
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    )
    refused({"Name": "standard-Contact", "Visibility": None}, "REQUIRED_FIELD_MISSING")

    create_tab(admin, "CM_List__c", motif="Custom55: Books")
    setting = tab_setting(admin, set_id, "CM_List__c")
    assert tab_setting(admin, set_id, "standard-contact", "DefaultOff")
    message = refused({"Name": "cm_list__c"}, "DUPLICATE_VALUE")
    assert message == (
        "Permission set already has a tab setting defined for tab. Update the existing tab setting."
    )
    # Name and ParentId can't be updated.
    fails(
        SalesforceMalformedRequest,
        lambda: admin.PermissionSetTabSetting.update(setting, {"Name": "standard-Lead"}),
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    )
    rows = admin.query(f"SELECT Name FROM PermissionSetTabSetting WHERE ParentId = '{set_id}'")
    assert sorted(r["Name"] for r in rows["records"]) == ["CM_List__c", "standard-Contact"]


def test_deleting_a_tab_or_its_object_deletes_its_tab_settings(org):
    admin, _ = org
    create_object(admin)
    tab = create_tab(admin, "CM_List__c", motif="Custom55: Books")
    set_id = permission_set(admin)
    tab_setting(admin, set_id, "CM_List__c")
    tab_setting(admin, set_id, "standard-Lead")
    settings = f"SELECT Name FROM PermissionSetTabSetting WHERE ParentId = '{set_id}'"

    admin.restful(f"tooling/sobjects/CustomTab/{tab['id']}", method="DELETE")
    assert [r["Name"] for r in admin.query(settings)["records"]] == ["standard-Lead"]
    # A new tab starts hidden again.
    create_tab(admin, "CM_List__c", motif="Custom55: Books")
    assert custom_tabs(admin) == []
    tab_setting(admin, set_id, "CM_List__c")
    (thing,) = tooling_rows(admin, "SELECT Id FROM CustomObject WHERE DeveloperName = 'CM_List'")
    admin.restful(f"tooling/sobjects/CustomObject/{thing['Id']}", method="DELETE")
    assert [r["Name"] for r in admin.query(settings)["records"]] == ["standard-Lead"]


def test_tab_settings_survive_reopening_a_data_dir(tmp_path):
    with SalesforceEmulator(seed="demo", data_dir=tmp_path) as emu:
        admin = connect(emu)
        create_object(admin)
        create_tab(admin, "CM_List__c", motif="Custom55: Books")
        tab_setting(admin, profile_set(admin, "System Administrator"), "CM_List__c")
    with SalesforceEmulator(seed="demo", data_dir=tmp_path) as emu:
        assert custom_tabs(connect(emu)) == ["CM_List__c"]
        assert custom_tabs(connect(emu, emu.issue_token(MARKETING))) == []
