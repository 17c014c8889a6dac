"""Field-level and object security in the Salesforce emulator, over real HTTP through
simple-salesforce: a custom object or field installed through the Tooling API is hidden from
every user until a permission set grants it, and the permission records follow Salesforce's
rules (Object Reference: PermissionSet, ObjectPermissions, FieldPermissions,
PermissionSetAssignment)."""

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from emulators.salesforce import SalesforceEmulator

from .test_sf_emulator import connect, error_code, fails, install_field

MARKETING = "marketing@cmsync-demo.example"


@pytest.fixture
def emu(sf_emulator):
    """The session's shared emulator, reset to its seed for this test (conftest.py)."""
    return sf_emulator


@pytest.fixture
def admin(emu):
    """The System Administrator (View All Data, Modify All Data: every object, no field)."""
    return connect(emu)


@pytest.fixture
def marketing(emu):
    """A Standard User: no access to custom objects."""
    return connect(emu, emu.issue_token(MARKETING))


def user_id(sf) -> str:
    return sf.oauth2("userinfo")["user_id"]


def permission_set(sf, name: str = "Test_Access") -> str:
    return sf.PermissionSet.create({"Name": name, "Label": name.replace("_", " ")})["id"]


def grant_field(sf, set_id: str, full_name: str, edit: bool = True) -> str:
    record = {
        "ParentId": set_id,
        "SobjectType": full_name.split(".")[0],
        "Field": full_name,
        "PermissionsRead": True,
        "PermissionsEdit": edit,
    }
    return sf.FieldPermissions.create(record)["id"]


def grant_object(sf, set_id: str, sobject: str, *flags: str) -> str:
    record = {"ParentId": set_id, "SobjectType": sobject}
    record.update({f"Permissions{flag}": True for flag in flags})
    return sf.ObjectPermissions.create(record)["id"]


def assign(sf, set_id: str, assignee: str) -> str:
    return sf.PermissionSetAssignment.create({"AssigneeId": assignee, "PermissionSetId": set_id})[
        "id"
    ]


def install_object(sf, name: str = "CM_Thing__c") -> None:
    body = {
        "FullName": name,
        "Metadata": {
            "label": "Thing",
            "pluralLabel": "Things",
            "deploymentStatus": "Deployed",
            "sharingModel": "ReadWrite",
            "nameField": {"type": "Text", "label": "Thing Name"},
        },
    }
    sf.restful("tooling/sobjects/CustomObject", method="POST", json=body)


def collection(sf, method: str, records: list[dict]) -> requests.Response:
    """sObject Collections without simple-salesforce's exceptions (to read 400 bodies)."""
    return sf.session.request(
        method,
        f"{sf.base_url}composite/sobjects",
        headers=sf.headers,
        json={"allOrNone": False, "records": records},
    )


def test_a_new_custom_field_is_hidden_from_the_system_administrator_until_granted(admin):
    contact = admin.Contact.create({"LastName": "Hidden"})["id"]
    install_field(admin, "Contact.CM_Score__c", grant=False, type="Text", length=20)

    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        admin.query("SELECT Id, CM_Score__c FROM Contact")
    assert error_code(excinfo) == "INVALID_FIELD"
    assert excinfo.value.content[0]["message"].startswith(
        "\nSELECT Id, CM_Score__c FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'CM_Score__c' on entity 'Contact'."
    )
    fields = {f["name"] for f in admin.Contact.describe()["fields"]}
    assert "CM_Score__c" not in fields and "Email" in fields  # standard fields stay visible
    assert "CM_Score__c" not in admin.Contact.get(contact)
    fails(
        SalesforceMalformedRequest,
        lambda: admin.Contact.update(contact, {"CM_Score__c": "9"}),
        "INVALID_FIELD",
    )
    # In a collection an unknown field fails the whole call (the emulator's deviations list).
    answer = collection(
        admin,
        "POST",
        [{"attributes": {"type": "Contact"}, "LastName": "X", "CM_Score__c": "1"}],
    )
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_FIELD"
    # The Tooling API's metadata is not filtered: the field is installed.
    installed = admin.restful(
        "tooling/query", params={"q": "SELECT Id FROM CustomField WHERE DeveloperName = 'CM_Score'"}
    )
    assert installed["totalSize"] == 1

    set_id = permission_set(admin)
    grant_field(admin, set_id, "Contact.CM_Score__c")
    assign(admin, set_id, user_id(admin))
    admin.Contact.update(contact, {"CM_Score__c": "9"})
    (row,) = admin.query(f"SELECT CM_Score__c FROM Contact WHERE Id = '{contact}'")["records"]
    assert row["CM_Score__c"] == "9"


def test_a_read_only_field_permission_lets_users_read_but_not_write(admin):
    install_field(admin, "Contact.CM_Score__c", grant=False, type="Text", length=20)
    set_id = permission_set(admin)
    grant_field(admin, set_id, "Contact.CM_Score__c", edit=False)
    assign(admin, set_id, user_id(admin))

    assert admin.query("SELECT CM_Score__c FROM Contact")["totalSize"] >= 0
    described = {f["name"]: f for f in admin.Contact.describe()["fields"]}["CM_Score__c"]
    assert described["createable"] is False and described["updateable"] is False
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        admin.Contact.create({"LastName": "R", "CM_Score__c": "1"})
    assert excinfo.value.content == [
        {
            "message": "Unable to create/update fields: CM_Score__c. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "fields": ["CM_Score__c"],
        }
    ]
    # Per record inside a collection; the other record is written.
    answer = collection(
        admin,
        "POST",
        [
            {"attributes": {"type": "Contact"}, "LastName": "A", "CM_Score__c": "1"},
            {"attributes": {"type": "Contact"}, "LastName": "B"},
        ],
    ).json()
    assert answer[0]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert answer[1]["success"] is True


def test_a_custom_object_without_object_permissions_does_not_exist_for_the_user(
    admin, marketing, emu
):
    install_object(admin)
    install_field(admin, "CM_Thing__c.CM_Size__c", grant=False, type="Text", length=10)
    # The administrator reads the object (View All Data) but not its new field.
    thing = admin.CM_Thing__c.create({"Name": "one"})["id"]
    assert admin.query("SELECT Id, Name FROM CM_Thing__c")["totalSize"] == 1
    fails(
        SalesforceMalformedRequest,
        lambda: admin.query("SELECT CM_Size__c FROM CM_Thing__c"),
        "INVALID_FIELD",
    )

    # An ordinary user: as if the object were not there at all.
    fails(
        SalesforceMalformedRequest,
        lambda: marketing.query("SELECT Id FROM CM_Thing__c"),
        "INVALID_TYPE",
    )
    fails(SalesforceResourceNotFound, lambda: marketing.CM_Thing__c.describe(), "NOT_FOUND")
    fails(SalesforceResourceNotFound, lambda: marketing.CM_Thing__c.get(thing), "NOT_FOUND")
    fails(
        SalesforceResourceNotFound,
        lambda: marketing.CM_Thing__c.create({"Name": "two"}),
        "NOT_FOUND",
    )
    names = {o["name"] for o in marketing.describe()["sobjects"]}
    assert "CM_Thing__c" not in names and "Contact" in names
    answer = collection(marketing, "POST", [{"attributes": {"type": "CM_Thing__c"}, "Name": "x"}])
    assert answer.json()[0]["errors"][0]["statusCode"] == "INVALID_TYPE"

    # Read only: queries work, writes do not.
    set_id = permission_set(admin)
    grant_object(admin, set_id, "CM_Thing__c", "Read")
    assign(admin, set_id, user_id(marketing))
    assert marketing.query("SELECT Id, Name FROM CM_Thing__c")["totalSize"] == 1
    summary = next(o for o in marketing.describe()["sobjects"] if o["name"] == "CM_Thing__c")
    assert summary["createable"] is False and summary["queryable"] is True
    fails(
        SalesforceMalformedRequest,
        lambda: marketing.CM_Thing__c.create({"Name": "two"}),
        "INVALID_TYPE_FOR_OPERATION",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: marketing.CM_Thing__c.delete(thing),
        "INVALID_TYPE_FOR_OPERATION",
    )
    # The control surface is no user: unrestricted.
    assert emu.insert("CM_Thing__c", [{"Name": "seeded", "CM_Size__c": "L"}])[0]["success"]


def test_hidden_fields_fail_in_where_order_by_and_relationship_paths(admin):
    install_object(admin)
    install_field(
        admin,
        "CM_Thing__c.CM_Contact__c",
        grant=False,
        type="Lookup",
        referenceTo="Contact",
        relationshipName="CM_Thing_Contacts",
    )
    for soql in (
        "SELECT Id FROM CM_Thing__c WHERE CM_Contact__c = null",
        "SELECT Id FROM CM_Thing__c ORDER BY CM_Contact__c",
        "SELECT Id, CM_Thing_Contacts__r.Email FROM CM_Thing__c",
    ):
        fails(SalesforceMalformedRequest, lambda soql=soql: admin.query(soql), "INVALID_FIELD")
    relationships = admin.Contact.describe()["childRelationships"]
    assert "CM_Thing__c" not in {r["childSObject"] for r in relationships}

    set_id = permission_set(admin)
    grant_field(admin, set_id, "CM_Thing__c.CM_Contact__c")
    assign(admin, set_id, user_id(admin))
    assert admin.query("SELECT Id, CM_Thing_Contacts__r.Email FROM CM_Thing__c")["totalSize"] == 0
    relationships = admin.Contact.describe()["childRelationships"]
    assert "CM_Thing__c" in {r["childSObject"] for r in relationships}


def test_permission_records_follow_salesforce_rules(admin, marketing):
    install_object(admin)
    install_field(admin, "CM_Thing__c.CM_Size__c", grant=False, type="Text", length=10)
    set_id = permission_set(admin)
    fails(
        SalesforceMalformedRequest,
        lambda: grant_object(admin, set_id, "CM_Thing__c", "Create"),
        "FIELD_INTEGRITY_EXCEPTION",  # Create needs Read
    )
    fails(
        SalesforceMalformedRequest,
        lambda: grant_object(admin, set_id, "CM_Thing__c", "Read", "Delete"),
        "FIELD_INTEGRITY_EXCEPTION",  # Delete needs Edit
    )
    fails(
        SalesforceMalformedRequest,
        lambda: grant_object(admin, set_id, "No_Such__c", "Read"),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    )
    grant_object(admin, set_id, "CM_Thing__c", "Read", "Create", "Edit", "Delete")
    fails(
        SalesforceMalformedRequest,
        lambda: grant_object(admin, set_id, "CM_Thing__c", "Read"),
        "DUPLICATE_VALUE",  # one row per set and object
    )
    fails(
        SalesforceMalformedRequest,
        lambda: admin.FieldPermissions.create(
            {
                "ParentId": set_id,
                "SobjectType": "CM_Thing__c",
                "Field": "CM_Thing__c.CM_Size__c",
                "PermissionsEdit": True,
            }
        ),
        "FIELD_INTEGRITY_EXCEPTION",  # Edit needs Read
    )
    for bad in ("CM_Size__c", "CM_Thing__c.Nope__c", "Contact.CM_Size__c", "CM_Thing__c.Id"):
        fails(
            SalesforceMalformedRequest,
            lambda bad=bad: grant_field(admin, set_id, bad),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",  # Field is "Object.Field", permissionable
        )
    row = grant_field(admin, set_id, "cm_thing__c.cm_size__c")
    assert admin.FieldPermissions.get(row)["Field"] == "CM_Thing__c.CM_Size__c"
    fails(
        SalesforceMalformedRequest,
        lambda: grant_field(admin, set_id, "CM_Thing__c.CM_Size__c"),
        "DUPLICATE_VALUE",  # one row per set and field
    )
    # A row without Read is deleted.
    admin.FieldPermissions.update(row, {"PermissionsRead": False, "PermissionsEdit": False})
    assert admin.query(f"SELECT Id FROM FieldPermissions WHERE Id = '{row}'")["totalSize"] == 0

    # Assignments: once per user and set; never a profile's own set.
    marketing_id = user_id(marketing)
    assign(admin, set_id, marketing_id)
    fails(
        SalesforceMalformedRequest, lambda: assign(admin, set_id, marketing_id), "DUPLICATE_VALUE"
    )
    (owned,) = admin.query(
        "SELECT Id FROM PermissionSet WHERE IsOwnedByProfile = true "
        "AND Profile.Name = 'Standard User'"
    )["records"]
    fails(
        SalesforceMalformedRequest,
        lambda: assign(admin, owned["Id"], marketing_id),
        "FIELD_INTEGRITY_EXCEPTION",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: admin.PermissionSet.delete(owned["Id"]),
        "INSUFFICIENT_ACCESS_OR_READONLY",
    )
    # An assigned set cannot be deleted; unassigned, it goes with its permissions.
    fails(SalesforceMalformedRequest, lambda: admin.PermissionSet.delete(set_id), "DELETE_FAILED")
    (assignment,) = admin.query(
        "SELECT Id, Assignee.Username, PermissionSet.Name FROM PermissionSetAssignment "
        f"WHERE PermissionSetId = '{set_id}'"
    )["records"]
    assert assignment["Assignee"]["Username"] == MARKETING
    assert assignment["PermissionSet"]["Name"] == "Test_Access"
    admin.PermissionSetAssignment.delete(assignment["Id"])
    admin.PermissionSet.delete(set_id)
    assert (
        admin.query(f"SELECT Id FROM ObjectPermissions WHERE ParentId = '{set_id}'")["totalSize"]
        == 0
    )


def test_the_profiles_own_permissions_count_for_its_users(admin, marketing):
    install_object(admin)
    (owned,) = admin.query(
        "SELECT Id FROM PermissionSet WHERE IsOwnedByProfile = true "
        "AND Profile.Name = 'Standard User'"
    )["records"]
    grant_object(admin, owned["Id"], "CM_Thing__c", "Read")
    assert marketing.query("SELECT Id FROM CM_Thing__c")["totalSize"] == 0


def test_deleting_a_field_or_object_deletes_its_permissions(admin):
    install_object(admin)
    field = install_field(admin, "CM_Thing__c.CM_Size__c", grant=False, type="Text", length=10)
    set_id = permission_set(admin)
    grant_object(admin, set_id, "CM_Thing__c", "Read")
    grant_field(admin, set_id, "CM_Thing__c.CM_Size__c")
    admin.restful(f"tooling/sobjects/CustomField/{field['id']}", method="DELETE")
    rows = f"FROM FieldPermissions WHERE ParentId = '{set_id}'"
    assert admin.query(f"SELECT Id {rows}")["totalSize"] == 0
    (thing,) = admin.restful(
        "tooling/query",
        params={"q": "SELECT Id FROM CustomObject WHERE DeveloperName = 'CM_Thing'"},
    )["records"]
    admin.restful(f"tooling/sobjects/CustomObject/{thing['Id']}", method="DELETE")
    rows = f"FROM ObjectPermissions WHERE ParentId = '{set_id}'"
    assert admin.query(f"SELECT Id {rows}")["totalSize"] == 0


def test_permissions_survive_reopening_a_data_dir(tmp_path):
    with SalesforceEmulator(seed="demo", data_dir=tmp_path) as emu:
        sf = connect(emu)
        install_field(sf, "Contact.CM_Score__c", grant=False, type="Text", length=20)
        set_id = permission_set(sf)
        grant_field(sf, set_id, "Contact.CM_Score__c")
        assign(sf, set_id, user_id(sf))
    with SalesforceEmulator(seed="demo", data_dir=tmp_path) as emu:
        sf = connect(emu)
        assert sf.query("SELECT CM_Score__c FROM Contact")["done"] is True
        marketing = connect(emu, emu.issue_token(MARKETING))
        fails(
            SalesforceMalformedRequest,
            lambda: marketing.query("SELECT CM_Score__c FROM Contact"),
            "INVALID_FIELD",
        )
