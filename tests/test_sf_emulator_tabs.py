"""Custom object tabs (Tooling API CustomTab) in the Salesforce emulator, over real HTTP
through simple-salesforce."""

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from emulators.salesforce import SalesforceEmulator

from .test_sf_emulator import connect, fails, tooling_rows

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
