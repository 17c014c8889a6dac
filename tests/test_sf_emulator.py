"""The Salesforce emulator, driven over real HTTP, mostly through simple-salesforce.

Every rule is checked by the error code Salesforce itself would return, because the point of
the emulator is to fail where Salesforce fails.
"""

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_external_id, format_soql

from emulators.salesforce import SalesforceEmulator

LEGAL_HOLD = "LEGAL HOLD - do not modify"


class LocalSession(requests.Session):
    """simple-salesforce hard-codes https://; point it (and the login hosts) at the emulator."""

    def __init__(self, root_url: str) -> None:
        super().__init__()
        self.root_url = root_url

    def request(self, method, url, *args, **kwargs):
        url = re.sub(r"^https://127\.0\.0\.1", "http://127.0.0.1", url)
        url = re.sub(r"^https://[\w.-]+\.salesforce\.com", self.root_url, url)
        kwargs.setdefault("timeout", 10)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def emu(sf_emulator):
    """The session's shared emulator, reset to its seed for this test (conftest.py)."""
    return sf_emulator


@pytest.fixture
def sf(emu):
    return connect(emu)


def connect(emu: SalesforceEmulator, token: str | None = None) -> Salesforce:
    return Salesforce(
        instance_url=emu.root_url,
        session_id=token or emu.issue_token(),
        session=LocalSession(emu.root_url),
        version="62.0",
    )


def error_code(excinfo) -> str:
    return excinfo.value.content[0]["errorCode"]


def fails(exception, call, code: str):
    with pytest.raises(exception) as excinfo:
        call()
    assert error_code(excinfo) == code, excinfo.value.content
    return excinfo.value.content[0]


def query_ids(sf: Salesforce, soql: str) -> set[str]:
    return {r["Id"] for r in sf.query_all(soql)["records"]}


def collection(sf: Salesforce, method: str, records: list, all_or_none: bool = False, path=""):
    body = {"allOrNone": all_or_none, "records": records}
    return sf.restful(f"composite/sobjects{path}", method=method, json=body)


def campaign_id(sf: Salesforce, name: str = "Spring Newsletter 2026") -> str:
    return sf.query(format_soql("SELECT Id FROM Campaign WHERE Name = {}", name))["records"][0][
        "Id"
    ]


# -- queries -------------------------------------------------------------------------------


def test_records_come_back_typed_with_attributes(sf):
    account = sf.query("SELECT Id FROM Account WHERE Name = 'Acme Corporation'")["records"][0]
    sf.Contact.create(
        {"LastName": "Typed", "Email": "typed@example.com", "AccountId": account["Id"]}
    )
    page = sf.query(
        "SELECT Id, Email, HasOptedOutOfEmail, CreatedDate, Account.Name, Title "
        "FROM Contact WHERE Email = 'TYPED@example.com'"
    )
    assert page["totalSize"] == 1 and page["done"] is True and "nextRecordsUrl" not in page
    record = page["records"][0]
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v62.0/sobjects/Contact/{record['Id']}",
    }
    assert len(record["Id"]) == 18 and record["Id"].startswith("003")
    assert record["HasOptedOutOfEmail"] is False and record["Title"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", record["CreatedDate"])
    assert record["Account"]["Name"] == "Acme Corporation"
    assert record["Account"]["attributes"]["type"] == "Account"


def test_names_are_case_insensitive_but_answers_use_canonical_case(sf):
    created = sf.contact.create({"lastname": "Lower", "EMAIL": "lower@example.com"})
    record = sf.query(f"select id, email, account.name from contact where ID = '{created['id']}'")
    assert record["records"][0]["Email"] == "lower@example.com"
    assert record["records"][0]["Account"] is None
    fifteen = created["id"][:15]
    assert sf.Contact.get(fifteen)["Id"] == created["id"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'spring newsletter 2026'", {"Spring Newsletter 2026"}),
        ("Type != 'Email'", {"Product Launch Webinar", "Partner Roadshow"}),
        ("Type <> 'Email'", {"Product Launch Webinar", "Partner Roadshow"}),
        ("StartDate < 2026-02-01", {"Customer Survey Q1"}),
        ("StartDate > 2026-02-01", {"Spring Newsletter 2026"}),
        ("StartDate <= 2026-01-05", {"Customer Survey Q1"}),
        ("StartDate >= 2026-01-05", {"Customer Survey Q1", "Spring Newsletter 2026"}),
        (
            "Status IN ('planned', 'Completed')",
            {"Product Launch Webinar", "Partner Roadshow", "Customer Survey Q1"},
        ),
        ("Status NOT IN ('Planned')", {"Spring Newsletter 2026", "Customer Survey Q1"}),
        ("Name LIKE '%NEWS%'", {"Spring Newsletter 2026"}),
        ("Name LIKE 'Customer_Survey%'", {"Customer Survey Q1"}),
        ("StartDate = null", {"Product Launch Webinar", "Partner Roadshow"}),
        ("EndDate != null", {"Customer Survey Q1"}),
        ("IsActive = true AND Type = 'Email'", {"Spring Newsletter 2026"}),
        ("Type = 'Webinar' OR Type = 'Conference'", {"Product Launch Webinar", "Partner Roadshow"}),
        ("NOT Name LIKE 'P%'", {"Spring Newsletter 2026", "Customer Survey Q1"}),
        (
            "(IsActive = false OR Type = 'Webinar') AND Status = 'Planned'",
            {"Product Launch Webinar", "Partner Roadshow"},
        ),
        ("Name = 'it\\'s not there'", set()),
        (
            "CreatedDate = TODAY",
            {
                "Spring Newsletter 2026",
                "Product Launch Webinar",
                "Customer Survey Q1",
                "Partner Roadshow",
            },
        ),
        ("CreatedDate < YESTERDAY", set()),
    ],
)
def test_soql_operators(sf, where, expected):
    records = sf.query(f"SELECT Name FROM Campaign WHERE {where}")["records"]
    assert {r["Name"] for r in records} == expected


def column(sf: Salesforce, soql: str, field: str = "Name") -> list:
    return [record[field] for record in sf.query(soql)["records"]]


def test_order_by_limit_offset_and_count(sf):
    names = column(sf, "SELECT Name FROM Campaign ORDER BY Name DESC LIMIT 2 OFFSET 1")
    assert names == ["Product Launch Webinar", "Partner Roadshow"]
    nulls_last = column(sf, "SELECT Name FROM Campaign ORDER BY StartDate ASC NULLS LAST")
    assert nulls_last[:2] == ["Customer Survey Q1", "Spring Newsletter 2026"]
    count = sf.query("SELECT COUNT() FROM Campaign WHERE IsActive = true")
    assert count == {"totalSize": 2, "done": True, "records": []}
    aggregate = sf.query("SELECT COUNT(Id) total FROM Campaign")["records"][0]
    assert aggregate["total"] == 4 and aggregate["attributes"]["type"] == "AggregateResult"


def test_rows_no_order_by_decides_come_back_in_insertion_order_or_reversed(emu, sf):
    """Salesforce promises no order without ORDER BY, nor among ties: the emulator can
    reverse its insertion order to show code that relies on one."""
    stamp = {"LastModifiedDate": "2026-01-05T10:00:00Z", "CreatedDate": "2026-01-05T10:00:00Z"}
    emu.insert("Contact", [{"LastName": n, "Title": "T", **stamp} for n in ("A", "B", "C")])
    emu.insert("Contact", [{"LastName": "D", "Title": "U"}])
    plain = "SELECT LastName FROM Contact"
    ties = "SELECT LastName FROM Contact ORDER BY Title"
    assert column(sf, plain, "LastName") == ["A", "B", "C", "D"]
    control = f"{emu.root_url}/_emulator/query_order"
    reply = requests.post(control, json={"unordered": "reverse"}, timeout=5)
    assert reply.json() == {"unordered": "reverse"}
    assert column(sf, plain, "LastName") == ["D", "C", "B", "A"]
    assert column(sf, ties, "LastName") == ["C", "B", "A", "D"]  # ORDER BY still holds
    assert requests.post(control, json={"unordered": "random"}, timeout=5).status_code == 400
    emu.set_unordered_rows("insertion")
    assert requests.get(control, timeout=5).json() == {"unordered": "insertion"}
    assert column(sf, ties, "LastName") == ["A", "B", "C", "D"]


def test_last_n_days_and_date_literals_follow_the_clock(emu, sf):
    old = "2020-06-01T10:00:00.000+0000"
    emu.insert("Contact", [{"LastName": "Old", "CreatedDate": old, "LastModifiedDate": old}])
    sf.Contact.create({"LastName": "New"})
    recent = "SELECT LastName FROM Contact WHERE LastModifiedDate = LAST_N_DAYS:30"
    assert column(sf, recent, "LastName") == ["New"]
    older = sf.query("SELECT LastName FROM Contact WHERE CreatedDate < 2021-01-01T00:00:00Z")
    assert [r["LastName"] for r in older["records"]] == ["Old"]
    offset = sf.query("SELECT LastName FROM Contact WHERE CreatedDate < 2020-06-01T11:00:00+02:00")
    assert offset["totalSize"] == 0  # 11:00+02:00 is 09:00 UTC, before the record
    emu.advance_clock(40 * 86400)
    assert column(sf, recent, "LastName") == []


def test_parent_relationship_fields(sf):
    contact = sf.Contact.create({"LastName": "Member", "Email": "member@example.com"})["id"]
    sf.CampaignMember.create({"CampaignId": campaign_id(sf), "ContactId": contact})
    record = sf.query(
        "SELECT Status, Contact.Email, Lead.Email, Campaign.Name, Campaign.Owner.Name "
        "FROM CampaignMember"
    )["records"][0]
    assert record["Contact"]["Email"] == "member@example.com"
    assert record["Lead"] is None
    assert record["Campaign"]["Name"] == "Spring Newsletter 2026"
    assert record["Campaign"]["Owner"]["Name"] == "Ada Admin"
    filtered = sf.query("SELECT Id FROM CampaignMember WHERE Contact.Email = 'MEMBER@example.com'")
    assert filtered["totalSize"] == 1


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id FORM Contact", "MALFORMED_QUERY", "unexpected token: FORM"),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'",
            "MALFORMED_QUERY",
            "unexpected token: OR",
        ),
        ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY", "duplicate field selected"),
        ("SELECT Id FROM Contact WHERE Email = 'unterminated", "MALFORMED_QUERY", "unexpected"),
        (
            "SELECT Id, CM_Foo__c FROM Contact",
            "INVALID_FIELD",
            "No such column 'CM_Foo__c' on entity 'Contact'",
        ),
        ("SELECT Id, Nope.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship"),
        (
            "SELECT Id FROM Contact WHERE CreatedDate > 2020-01-01",
            "INVALID_FIELD",
            "must be of type dateTime",
        ),
        (
            "SELECT Id FROM Contact WHERE HasOptedOutOfEmail = 'true'",
            "INVALID_FIELD",
            "must be of type boolean",
        ),
        ("SELECT Id FROM Contact WHERE Description = 'x'", "INVALID_FIELD", "can not be filtered"),
        (
            "SELECT Id FROM Contact WHERE Id = 'nope'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: nope",
        ),
        (
            "SELECT Id FROM CM_Email_Tracking__c",
            "INVALID_TYPE",
            "sObject type 'CM_Email_Tracking__c' is not supported",
        ),
        ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "offset"),
    ],
)
def test_soql_errors(sf, soql, code, fragment):
    error = fails(SalesforceMalformedRequest, lambda: sf.query(soql), code)
    assert fragment in error["message"]


def test_invalid_field_message_points_at_the_column(sf):
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.query("SELECT Id, CM_Foo__c FROM Contact"),
        "INVALID_FIELD",
    )
    assert error["message"].startswith(
        "\nSELECT Id, CM_Foo__c FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
    )


def test_paging_follows_next_records_url(emu, sf):
    emu.seed_people(f"person{n}@example.com" for n in range(6000))
    total = sf.query("SELECT COUNT() FROM Contact")["totalSize"]
    assert total > 5000
    first = sf.query("SELECT Id, Email FROM Contact")
    assert first["done"] is False and len(first["records"]) == 2000
    assert re.fullmatch(r"/services/data/v62\.0/query/01g\w{15}-2000", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["totalSize"] == total
    everything = sf.query_all("SELECT Id FROM Contact")["records"]
    assert len({r["Id"] for r in everything}) == total
    small = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(small["records"]) == 500 and small["nextRecordsUrl"].endswith("-500")
    fails(
        SalesforceMalformedRequest,
        lambda: sf.query_more("/services/data/v62.0/query/01gBOGUS-2000", identifier_is_url=True),
        "INVALID_QUERY_LOCATOR",
    )


# -- record rules ----------------------------------------------------------------------------


def test_required_fields(sf):
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"FirstName": "No"}),
        "REQUIRED_FIELD_MISSING",
    )
    assert error == {
        "message": "Required fields are missing: [LastName]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName"],
    }
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Lead.create({"FirstName": "No"}),
        "REQUIRED_FIELD_MISSING",
    )
    assert error["fields"] == ["LastName", "Company"]
    contact = sf.Contact.create({"LastName": "Kept"})["id"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.update(contact, {"LastName": ""}),
        "REQUIRED_FIELD_MISSING",
    )


def test_email_format_and_lengths(sf):
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"LastName": "X", "Email": "not an email"}),
        "INVALID_EMAIL_ADDRESS",
    )
    assert error["fields"] == ["Email"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"LastName": "X" * 81}),
        "STRING_TOO_LONG",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Campaign.create({"Name": "C" * 81}),
        "STRING_TOO_LONG",
    )


def test_restricted_picklists(sf):
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Lead.create({"LastName": "L", "Company": "C", "Status": "Hot"}),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    )
    assert error["message"] == "bad value for restricted picklist field: Hot"
    assert error["fields"] == ["Status"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Campaign.create({"Name": "C", "Type": "Podcast"}),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    )
    lead = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    assert sf.Lead.get(lead)["Status"] == "Open - Not Contacted"
    contact = sf.Contact.create({"LastName": "L", "LeadSource": "Trade Fair"})["id"]
    assert sf.Contact.get(contact)["LeadSource"] == "Trade Fair"  # not restricted


def test_read_only_and_unknown_fields(sf):
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Campaign.create({"Name": "C", "NumberOfResponses": 3}),
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    )
    assert error["message"].startswith("Unable to create/update fields: NumberOfResponses.")
    assert error["fields"] == ["NumberOfResponses"]
    contact = sf.Contact.create({"LastName": "X"})["id"]
    for field in ("IsEmailBounced", "CreatedDate", "IsDeleted", "Name"):
        fails(
            SalesforceMalformedRequest,
            lambda f=field: sf.Contact.update(contact, {f: None}),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        )
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"LastName": "X", "Shoe_Size__c": 9}),
        "INVALID_FIELD",
    )
    assert "No such column 'Shoe_Size__c' on sobject of type Contact" in error["message"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"LastName": "X", "HasOptedOutOfEmail": 7}),
        "JSON_PARSER_ERROR",
    )


def test_references(sf):
    create = sf.Contact.create
    fails(
        SalesforceMalformedRequest,
        lambda: create({"LastName": "X", "AccountId": "nope"}),
        "MALFORMED_ID",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: create({"LastName": "X", "AccountId": "001000000000000AAA"}),
        "INVALID_CROSS_REFERENCE_KEY",
    )
    campaign = campaign_id(sf)
    fails(
        SalesforceMalformedRequest,
        lambda: create({"LastName": "X", "AccountId": campaign}),
        "FIELD_INTEGRITY_EXCEPTION",
    )


def test_unknown_objects(sf):
    fails(SalesforceResourceNotFound, lambda: sf.Shoe__c.create({"Name": "x"}), "NOT_FOUND")
    fails(SalesforceResourceNotFound, lambda: sf.Shoe__c.describe(), "NOT_FOUND")
    fails(SalesforceResourceNotFound, lambda: sf.Contact.get("003000000000000AAA"), "NOT_FOUND")
    result = collection(sf, "POST", [{"attributes": {"type": "Shoe__c"}, "Name": "x"}])
    assert result[0]["errors"][0]["statusCode"] == "INVALID_TYPE"


def test_deleted_records(sf):
    contact = sf.Contact.create({"LastName": "Gone", "Email": "gone@example.com"})["id"]
    assert sf.Contact.delete(contact) == 204
    for call in (
        lambda: sf.Contact.get(contact),
        lambda: sf.Contact.update(contact, {"Title": "x"}),
        lambda: sf.Contact.delete(contact),
    ):
        fails(SalesforceResourceNotFound, call, "ENTITY_IS_DELETED")
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{contact}'"
    assert sf.query(soql)["totalSize"] == 0
    assert sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"] is True
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.create({"CampaignId": campaign_id(sf), "ContactId": contact}),
        "ENTITY_IS_DELETED",
    )


def test_validation_rules(emu, sf):
    contact = sf.Contact.create({"LastName": "Held"})["id"]
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.update(contact, {"Description": LEGAL_HOLD}),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )
    assert error["message"] == "This contact is under legal hold: it cannot be changed."
    emu.add_validation_rule("Lead", "Company", "Blocked Inc", "Blocked companies are refused.")
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Lead.create({"LastName": "L", "Company": "Blocked Inc"}),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )
    emu.clear_validation_rules()
    sf.Contact.update(contact, {"Description": LEGAL_HOLD})


def test_seed_people_matches_case_insensitively_with_duplicates_and_traps(emu, sf):
    emails = [f"Subscriber.{n}@Example.COM" for n in range(400)] + ["broken@", "x@y"]
    counts = emu.seed_people(emails)
    assert counts["contacts"] + counts["leads"] >= 380
    assert counts["duplicates"] > 0 and counts["unmatched"] >= 2
    assert counts["validation_traps"] >= 3
    again = SalesforceEmulator(seed="demo")
    assert again.seed_people(emails) == counts  # deterministic
    again.stop()
    lower = [e.lower() for e in emails[:200]]
    found = sf.query_all(format_soql("SELECT Id, Email FROM Contact WHERE Email IN {}", lower))
    assert len(found["records"]) > 150
    assert any(r["Email"] not in emails for r in found["records"])  # stored in another case
    traps = sf.query_all(
        "SELECT Id, Description FROM Contact WHERE HasOptedOutOfEmail = false LIMIT 2000"
    )["records"]
    trap = next(r for r in traps if r["Description"] == LEGAL_HOLD)
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.update(trap["Id"], {"HasOptedOutOfEmail": True}),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )


# -- campaigns -------------------------------------------------------------------------------


def test_new_campaign_gets_sent_and_responded(sf):
    campaign = sf.Campaign.create({"Name": "Launch", "Type": "Email"})["id"]
    statuses = sf.query(
        "SELECT Label, IsDefault, HasResponded, SortOrder FROM CampaignMemberStatus "
        f"WHERE CampaignId = '{campaign}' ORDER BY SortOrder"
    )["records"]
    assert [(s["Label"], s["IsDefault"], s["HasResponded"], s["SortOrder"]) for s in statuses] == [
        ("Sent", True, False, 1),
        ("Responded", False, True, 2),
    ]
    assert sf.Campaign.get(campaign)["Status"] == "Planned"


def test_campaign_members(sf):
    campaign = campaign_id(sf)
    contact = sf.Contact.create({"LastName": "C", "Email": "c@example.com"})["id"]
    lead = sf.Lead.create({"LastName": "L", "Company": "Co"})["id"]
    member = sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact})["id"]
    saved = sf.CampaignMember.get(member)
    assert saved["Status"] == "Sent" and saved["HasResponded"] is False
    duplicate = fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact}),
        "DUPLICATE_VALUE",
    )
    assert duplicate["message"] == "Already a campaign member."
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.create(
            {"CampaignId": campaign, "LeadId": lead, "Status": "Opened"}
        ),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    )
    assert error["fields"] == ["Status"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.update(member, {"HasResponded": True}),
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.update(member, {"ContactId": contact}),
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.create({"CampaignId": campaign}),
        "REQUIRED_FIELD_MISSING",
    )
    sf.CampaignMember.update(member, {"Status": "Responded"})
    responded = sf.CampaignMember.get(member)
    assert responded["HasResponded"] is True and responded["FirstRespondedDate"]
    sf.CampaignMember.create({"CampaignId": campaign, "LeadId": lead})
    stats = sf.query(
        "SELECT NumberOfContacts, NumberOfLeads, NumberOfResponses FROM Campaign "
        f"WHERE Id = '{campaign}'"
    )["records"][0]
    assert (stats["NumberOfContacts"], stats["NumberOfLeads"], stats["NumberOfResponses"]) == (
        1,
        1,
        1,
    )


def test_campaign_member_statuses(sf):
    campaign = campaign_id(sf)
    new = sf.CampaignMemberStatus.create
    opened = new({"CampaignId": campaign, "Label": "Opened", "HasResponded": True, "SortOrder": 3})
    for duplicate in ({"Label": "OPENED", "SortOrder": 4}, {"Label": "Clicked", "SortOrder": 3}):
        fails(
            SalesforceMalformedRequest,
            lambda d=duplicate: new({"CampaignId": campaign, **d}),
            "DUPLICATE_VALUE",
        )
    statuses = {
        s["Label"]: s["Id"]
        for s in sf.query(
            f"SELECT Id, Label FROM CampaignMemberStatus WHERE CampaignId = '{campaign}'"
        )["records"]
    }
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMemberStatus.delete(statuses["Sent"]),
        "DELETE_FAILED",
    )
    contact = sf.Contact.create({"LastName": "C"})["id"]
    member = sf.CampaignMember.create(
        {"CampaignId": campaign, "ContactId": contact, "Status": "Opened"}
    )["id"]
    assert sf.CampaignMember.get(member)["HasResponded"] is True
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMemberStatus.delete(opened["id"]),
        "DELETE_FAILED",
    )
    sf.CampaignMemberStatus.update(opened["id"], {"IsDefault": True})
    defaults = sf.query(
        "SELECT Label FROM CampaignMemberStatus "
        f"WHERE CampaignId = '{campaign}' AND IsDefault = true"
    )["records"]
    assert [d["Label"] for d in defaults] == ["Opened"]
    sf.CampaignMemberStatus.delete(statuses["Sent"])  # no longer the default, not in use


# -- custom objects and fields ---------------------------------------------------------------


def install_field(sf, full_name: str, grant: bool = True, **metadata):
    """Install a custom field and (unless grant=False) give the session's user read and edit
    on it, as Salesforce needs before anyone sees a new field (test_sf_emulator_security)."""
    body = {"FullName": full_name, "Metadata": {"label": full_name.split(".")[1], **metadata}}
    created = sf.restful("tooling/sobjects/CustomField", method="POST", json=body)
    if grant:
        grant_field(sf, full_name, edit=not metadata.get("formula"))
    return created


def grant_field(sf, full_name: str, edit: bool = True) -> None:
    """Field read (and edit) for the session's user, through a permission set of the tests'
    own assigned to it, with object access when the field is on a custom object."""
    user_id = sf.oauth2("userinfo")["user_id"]
    found = sf.query("SELECT Id FROM PermissionSet WHERE Name = 'Emulator_Tests'")["records"]
    if found:
        set_id = found[0]["Id"]
    else:
        set_id = sf.PermissionSet.create({"Name": "Emulator_Tests", "Label": "Emulator tests"})[
            "id"
        ]
    assigned = sf.query(
        f"SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = '{set_id}' "
        f"AND AssigneeId = '{user_id}'"
    )["records"]
    if not assigned:
        sf.PermissionSetAssignment.create({"AssigneeId": user_id, "PermissionSetId": set_id})
    sobject = full_name.split(".")[0]
    if sobject.endswith("__c"):
        rows = sf.query(
            f"SELECT Id FROM ObjectPermissions WHERE ParentId = '{set_id}' "
            f"AND SobjectType = '{sobject}'"
        )["records"]
        if not rows:
            sf.ObjectPermissions.create(
                {
                    "ParentId": set_id,
                    "SobjectType": sobject,
                    **dict.fromkeys(
                        ("PermissionsRead", "PermissionsCreate", "PermissionsEdit"), True
                    ),
                    "PermissionsDelete": True,
                }
            )
    sf.FieldPermissions.create(
        {
            "ParentId": set_id,
            "SobjectType": sobject,
            "Field": full_name,
            "PermissionsRead": True,
            "PermissionsEdit": edit,
        }
    )


def test_custom_field_exists_only_once_installed(sf):
    contact = sf.Contact.create({"LastName": "C"})["id"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.query("SELECT CM_Key__c FROM Contact"),
        "INVALID_FIELD",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.update(contact, {"CM_Key__c": "k"}),
        "INVALID_FIELD",
    )
    created = install_field(
        sf, "Contact.CM_Key__c", type="Text", length=40, externalId=True, unique=True
    )
    assert created["success"] is True and created["id"].startswith("00N")
    described = {f["name"]: f for f in sf.Contact.describe()["fields"]}["CM_Key__c"]
    assert described["externalId"] and described["unique"] and described["custom"]
    rows = sf.toolingexecute(
        "query/?q=SELECT+Id,DeveloperName,NamespacePrefix,TableEnumOrId+FROM+CustomField"
    )["records"]
    assert [(r["DeveloperName"], r["TableEnumOrId"]) for r in rows] == [("CM_Key", "Contact")]
    sf.Contact.update(contact, {"CM_Key__c": "k-1"})
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"LastName": "D", "CM_Key__c": "K-1"}),
        "DUPLICATE_VALUE",
    )
    assert error["message"].startswith("duplicate value found: CM_Key__c duplicates value")
    fails(
        SalesforceMalformedRequest,
        lambda: install_field(sf, "Contact.CM_Key__c", type="Text", length=5),
        "DUPLICATE_DEVELOPER_NAME",
    )
    sf.restful(f"tooling/sobjects/CustomField/{created['id']}", method="DELETE")
    fails(
        SalesforceMalformedRequest,
        lambda: sf.query("SELECT CM_Key__c FROM Contact"),
        "INVALID_FIELD",
    )


def test_custom_picklists_and_metadata_errors(sf):
    install_field(
        sf,
        "CampaignMember.CM_Last_Event__c",
        type="Picklist",
        valueSet={
            "restricted": True,
            "valueSetDefinition": {
                "value": [
                    {"fullName": "Opened", "label": "Opened", "default": False},
                    {"fullName": "Clicked", "label": "Clicked", "default": False},
                ]
            },
        },
    )
    contact = sf.Contact.create({"LastName": "C"})["id"]
    member = sf.CampaignMember.create({"CampaignId": campaign_id(sf), "ContactId": contact})["id"]
    sf.CampaignMember.update(member, {"CM_Last_Event__c": "Clicked"})
    fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.update(member, {"CM_Last_Event__c": "Bounced"}),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: install_field(sf, "Contact.CM_Flag__c", type="Checkbox"),
        "FIELD_INTEGRITY_EXCEPTION",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: install_field(sf, "Contact.Bad__Name__c", type="Text", length=5),
        "FIELD_INTEGRITY_EXCEPTION",
    )
    install_field(sf, "Contact.CM_Flag__c", type="Checkbox", defaultValue="false")
    assert sf.Contact.get(contact)["CM_Flag__c"] is False


def test_custom_object_lifecycle(sf):
    fails(
        SalesforceMalformedRequest,
        lambda: sf.query("SELECT Id FROM CM_Email_Tracking__c"),
        "INVALID_TYPE",
    )
    metadata = {
        "label": "Email Tracking",
        "pluralLabel": "Email Trackings",
        "nameField": {"type": "AutoNumber", "label": "Tracking", "displayFormat": "T-{000000}"},
        "deploymentStatus": "Deployed",
        "sharingModel": "ReadWrite",
    }
    body = {"FullName": "CM_Email_Tracking__c", "Metadata": metadata}
    created = sf.restful("tooling/sobjects/CustomObject", method="POST", json=body)
    fails(
        SalesforceMalformedRequest,
        lambda: sf.restful("tooling/sobjects/CustomObject", method="POST", json=body),
        "DUPLICATE_DEVELOPER_NAME",
    )
    install_field(
        sf,
        "CM_Email_Tracking__c.CM_Contact__c",
        type="Lookup",
        referenceTo="Contact",
        relationshipName="CM_Contact",
        deleteConstraint="SetNull",
    )
    install_field(
        sf,
        "CM_Email_Tracking__c.CM_Event_Key__c",
        type="Text",
        length=80,
        externalId=True,
        unique=True,
    )
    contact = sf.Contact.create({"LastName": "T", "Email": "t@example.com"})["id"]
    tracking = sf.CM_Email_Tracking__c
    assert tracking.upsert("CM_Event_Key__c/e1", {"CM_Contact__c": contact}) == 201
    assert tracking.upsert("CM_Event_Key__c/E1", {"CM_Contact__c": contact}) == 200
    record = sf.query("SELECT Name, CM_Contact__r.Email, CM_Event_Key__c FROM CM_Email_Tracking__c")
    row = record["records"][0]
    assert row["Name"] == "T-000001" and row["CM_Contact__r"]["Email"] == "t@example.com"
    assert row["attributes"]["url"].split("/")[-1].startswith("a01")
    sf.Contact.delete(contact)
    assert (
        sf.query("SELECT CM_Contact__c FROM CM_Email_Tracking__c")["records"][0]["CM_Contact__c"]
        is None
    )  # SetNull
    sf.restful(f"tooling/sobjects/CustomObject/{created['id']}", method="DELETE")
    fails(SalesforceResourceNotFound, lambda: tracking.describe(), "NOT_FOUND")


def test_upsert_and_get_by_an_external_id_that_needs_escaping(sf):
    install_field(sf, "Contact.CM_Subscriber__c", type="Text", length=40, externalId=True)
    key = format_external_id("CM_Subscriber__c", "list/1 a+b")
    assert sf.Contact.upsert(key, {"LastName": "Escaped"}) == 201
    assert sf.Contact.get_by_custom_id("CM_Subscriber__c", "list/1 a+b")["LastName"] == "Escaped"


def test_upsert_on_a_non_unique_external_id_matching_twice(sf):
    install_field(sf, "Contact.CM_Subscriber__c", type="Text", length=40, externalId=True)
    for name in ("A", "B"):
        sf.Contact.create({"LastName": name, "CM_Subscriber__c": "same"})
    with pytest.raises(SalesforceMoreThanOneRecord) as excinfo:
        sf.Contact.upsert("CM_Subscriber__c/same", {"Title": "x"})
    assert len(excinfo.value.content) == 2
    assert excinfo.value.content[0].startswith("/services/data/v62.0/sobjects/Contact/003")
    fails(
        SalesforceResourceNotFound,
        lambda: sf.Contact.upsert("Email/x@example.com", {}),
        "NOT_FOUND",
    )


# -- sObject Collections ---------------------------------------------------------------------


def contacts(count: int, **extra) -> list[dict]:
    return [
        {
            "attributes": {"type": "Contact"},
            "LastName": f"C{n}",
            "Email": f"c{n}@example.com",
            **extra,
        }
        for n in range(count)
    ]


def test_collections_report_per_record(sf):
    records = contacts(3)
    records[1]["Email"] = "broken"
    results = collection(sf, "POST", records)
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "INVALID_EMAIL_ADDRESS",
                "message": "Email: invalid email address: broken",
                "fields": ["Email"],
            }
        ],
    }
    ids = [results[0]["id"], results[2]["id"]]
    updates = [
        {"attributes": {"type": "Contact"}, "Id": ids[0], "Title": "Boss"},
        {"attributes": {"type": "Contact"}, "Id": ids[1], "LastName": None},
    ]
    updated = collection(sf, "PATCH", updates)
    assert updated[0] == {"id": ids[0], "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}
    )
    assert [d["success"] for d in deleted] == [True, True]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_all_or_none_rolls_everything_back(sf):
    records = contacts(3)
    records[2]["LastName"] = None
    results = collection(sf, "POST", records, all_or_none=True)
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK"] * 2 + ["REQUIRED_FIELD_MISSING"]
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_collections_refuse_more_than_200_records(sf):
    fails(
        SalesforceMalformedRequest,
        lambda: collection(sf, "POST", contacts(201)),
        "EXCEEDED_ID_LIMIT",
    )
    assert len(collection(sf, "POST", contacts(200))) == 200
    campaign = campaign_id(sf)
    members = [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign, "ContactId": r["Id"]}
        for r in sf.query("SELECT Id FROM Contact")["records"]
    ]
    members.append(members[0])
    fails(SalesforceMalformedRequest, lambda: collection(sf, "POST", members), "EXCEEDED_ID_LIMIT")
    sf.CampaignMember.create({"CampaignId": campaign, "ContactId": members[0]["ContactId"]})
    results = collection(sf, "POST", members[-2:])
    assert results[0]["success"] is True and results[1]["success"] is False
    assert results[1]["errors"][0] == {
        "statusCode": "DUPLICATE_VALUE",
        "message": "Already a campaign member.",
        "fields": [],
    }


def test_collection_upsert_reports_created(sf):
    install_field(sf, "Contact.CM_Key__c", type="Text", length=40, externalId=True, unique=True)
    sf.Contact.create({"LastName": "Old", "CM_Key__c": "k1"})
    records = [
        {"attributes": {"type": "Contact"}, "CM_Key__c": "K1", "Title": "Updated"},
        {"attributes": {"type": "Contact"}, "CM_Key__c": "k2", "LastName": "New"},
        {"attributes": {"type": "Contact"}, "Title": "no key"},
    ]
    results = collection(sf, "PATCH", records, path="/Contact/CM_Key__c")
    assert [r.get("created") for r in results] == [False, True, None]
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert (
        sf.query("SELECT Title FROM Contact WHERE CM_Key__c = 'k1'")["records"][0]["Title"]
        == "Updated"
    )


# -- limits and faults -----------------------------------------------------------------------


def test_api_usage_and_daily_limit(emu, sf):
    raw = requests.get(
        f"{emu.root_url}/services/data/v62.0/limits",
        timeout=5,
        headers={"Authorization": f"Bearer {emu.issue_token()}"},
    )
    assert re.fullmatch(r"api-usage=\d+/100000", raw.headers["Sforce-Limit-Info"])
    sf.query("SELECT Id FROM Account")
    used = sf.api_usage["api-usage"].used
    assert sf.api_usage["api-usage"].total == 100_000
    requests.get(f"{emu.root_url}/_emulator/info", timeout=5)  # control calls don't count
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == used + 1
    assert sf.limits()["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - used - 2}
    emu.set_limit(used=9, max=10)
    sf.query("SELECT Id FROM Account")
    error = fails(
        SalesforceRefusedRequest,
        lambda: sf.query("SELECT Id FROM Account"),
        "REQUEST_LIMIT_EXCEEDED",
    )
    assert error["message"] == "TotalRequests Limit exceeded."


def test_fault_unable_to_lock_row(emu, sf):
    campaign = campaign_id(sf)
    contact = sf.Contact.create({"LastName": "C"})["id"]
    emu.add_fault("unable_to_lock_row", count=1, path="/sobjects/CampaignMember")
    sf.query("SELECT Id FROM Contact")  # reads are not writes
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact}),
        "UNABLE_TO_LOCK_ROW",
    )
    assert error["message"] == (
        f"unable to obtain exclusive access to this record or 1 records: {campaign}"
    )
    sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact})
    emu.add_fault("unable_to_lock_row", count=1, path="composite/sobjects")
    results = collection(sf, "POST", contacts(2))
    assert {r["errors"][0]["statusCode"] for r in results} == {"UNABLE_TO_LOCK_ROW"}
    assert all(r["success"] for r in collection(sf, "POST", contacts(2)))


def test_fault_server_unavailable(emu, sf):
    emu.add_fault("server_unavailable", count=2, path="/query")
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as excinfo:
            sf.query("SELECT Id FROM Account")
        assert excinfo.value.status == 503
        assert excinfo.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 3


def test_fault_expire_session_and_limit_exhausted(emu, sf):
    emu.add_fault("expire_session")
    fails(
        SalesforceExpiredSession, lambda: sf.query("SELECT Id FROM Account"), "INVALID_SESSION_ID"
    )
    fresh = connect(emu)
    emu.add_fault("limit_exhausted")
    fails(
        SalesforceRefusedRequest,
        lambda: fresh.query("SELECT Id FROM Account"),
        "REQUEST_LIMIT_EXCEEDED",
    )
    emu.set_limit(used=0)
    assert fresh.query("SELECT Id FROM Account")["totalSize"] == 3


def test_control_surface_over_http(emu, sf):
    root = f"{emu.root_url}/_emulator"
    assert requests.get(f"{root}/info", timeout=5).json()["org"]["Name"] == "cmsync Demo"
    response = requests.post(
        f"{root}/faults", json={"kind": "server_unavailable", "count": 1}, timeout=5
    )
    assert response.status_code == 201
    requests.delete(f"{root}/faults", timeout=5)
    requests.delete(f"{root}/requests", timeout=5)
    sf.query("SELECT Id FROM Account")
    sf.Contact.create({"LastName": "C"})
    counts = requests.get(f"{root}/requests", timeout=5).json()
    assert counts == {"GET /query": 1, "POST /sobjects/{type}": 1}
    people = requests.post(f"{root}/people", json={"emails": ["a@example.com"]}, timeout=5)
    assert set(people.json()) == {
        "contacts",
        "leads",
        "duplicates",
        "unmatched",
        "validation_traps",
        "converted_leads",
    }
    inserted = requests.post(
        f"{root}/records",
        timeout=5,
        json={"type": "Contact", "records": [{"LastName": "Direct"}, {"FirstName": "NoLast"}]},
    ).json()
    assert [r["success"] for r in inserted] == [True, False]
    rule = {"object": "Contact", "field": "Title", "equals": "CEO", "message": "No CEOs"}
    assert requests.post(f"{root}/validation_rules", json=rule, timeout=5).status_code == 201
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create({"LastName": "B", "Title": "CEO"}),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )
    requests.delete(f"{root}/validation_rules", timeout=5)
    sf.Contact.create({"LastName": "B", "Title": "CEO"})
    limits = requests.post(f"{root}/limits", json={"used": 5, "max": 50}, timeout=5).json()
    assert limits == {"used": 5, "max": 50}


# -- OAuth -----------------------------------------------------------------------------------


def test_authorization_code_through_the_approve_form_then_refresh(emu):
    oauth = emu.info()["oauth"]
    redirect = "http://localhost:8000/salesforce/callback"
    page = requests.get(
        oauth["authorize_url"],
        timeout=5,
        params={
            "response_type": "code",
            "client_id": oauth["client_id"],
            "redirect_uri": redirect,
            "state": "s1",
        },
    )
    assert page.status_code == 200 and "Approve" in page.text and "cmsync Demo" in page.text
    form = dict(re.findall(r'name="?(\w+)"?(?: type=\w+)? value="([^"]*)"', page.text))
    approved = requests.post(
        oauth["authorize_url"], data={**form, "action": "approve"}, allow_redirects=False, timeout=5
    )
    assert approved.status_code == 302
    location = urlsplit(approved.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/salesforce/callback" and query["state"] == ["s1"]
    exchange = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "client_id": oauth["client_id"],
        "client_secret": oauth["client_secret"],
        "redirect_uri": redirect,
    }
    token = requests.post(oauth["token_url"], data=exchange, timeout=5).json()
    assert token["instance_url"] == emu.root_url and token["token_type"] == "Bearer"
    assert {"access_token", "refresh_token", "id", "issued_at", "signature"} <= set(token)
    sf = connect(emu, token["access_token"])
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 3
    reused = requests.post(oauth["token_url"], data=exchange, timeout=5)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    identity = requests.get(
        token["id"], timeout=5, headers={"Authorization": f"Bearer {token['access_token']}"}
    ).json()
    assert identity["preferred_username"] == "admin@cmsync-demo.example"
    emu.expire_sessions()
    fails(
        SalesforceExpiredSession, lambda: sf.query("SELECT Id FROM Account"), "INVALID_SESSION_ID"
    )
    refreshed = requests.post(
        oauth["token_url"],
        timeout=5,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": oauth["client_id"],
            "client_secret": oauth["client_secret"],
        },
    ).json()
    assert "refresh_token" not in refreshed
    assert connect(emu, refreshed["access_token"]).query("SELECT Id FROM Account")["totalSize"]


def test_authorization_code_with_pkce(emu):
    oauth = emu.info()["oauth"]
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    form = {
        "response_type": "code",
        "client_id": oauth["client_id"],
        "action": "approve",
        "redirect_uri": "http://localhost/cb",
        "code_challenge": challenge.decode().rstrip("="),
        "username": "admin@cmsync-demo.example",
        "password": "demo-admin-password",
    }
    exchange = {
        "grant_type": "authorization_code",
        "client_id": oauth["client_id"],
        "client_secret": oauth["client_secret"],
        "redirect_uri": "http://localhost/cb",
    }
    for sent, status in ((None, 400), ("wrong", 400), (verifier, 200)):
        approved = requests.post(
            oauth["authorize_url"], data=form, allow_redirects=False, timeout=5
        )
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
        data = {**exchange, "code": code, **({"code_verifier": sent} if sent else {})}
        assert requests.post(oauth["token_url"], data=data, timeout=5).status_code == status


def test_authorize_rejects_an_unknown_client(emu):
    oauth = emu.info()["oauth"]
    page = requests.get(
        oauth["authorize_url"],
        timeout=5,
        params={
            "response_type": "code",
            "client_id": "nope",
            "redirect_uri": "http://localhost/cb",
        },
    )
    assert page.status_code == 400 and "invalid_client_id" in page.text


def test_client_credentials_jwt_and_password_through_simple_salesforce(emu):
    info, session = emu.info(), LocalSession(emu.root_url)
    oauth, user = info["oauth"], info["users"][1]
    client = Salesforce(
        consumer_key=oauth["client_id"],
        consumer_secret=oauth["client_secret"],
        domain="cmsync-demo.my",
        session=session,
        version="62.0",
    )
    assert (
        client.query("SELECT Id FROM User")["totalSize"] == 3
    )  # admin, integration and marketing users
    signed = Salesforce(
        username=info["jwt"]["username"],
        consumer_key=info["jwt"]["client_id"],
        privatekey=info["jwt"]["private_key_pem"],
        session=session,
        version="62.0",
    )
    assert signed.sf_instance == emu.root_url.removeprefix("http://")
    assert signed.query("SELECT COUNT() FROM Campaign")["totalSize"] == 4
    password = Salesforce(
        username=user["Username"],
        password=user["password"],
        consumer_key=oauth["client_id"],
        consumer_secret=oauth["client_secret"],
        session=session,
        version="62.0",
    )
    assert password.limits()["DailyApiRequests"]["Max"] == 100_000
    with pytest.raises(SalesforceAuthenticationFailed) as excinfo:
        Salesforce(
            username=user["Username"],
            password=user["password"],
            consumer_key=oauth["client_id"],
            consumer_secret="wrong",
            session=session,
            version="62.0",
        )
    assert excinfo.value.code == "invalid_client"
    with pytest.raises(SalesforceAuthenticationFailed) as excinfo:
        Salesforce(
            username=user["Username"],
            password="wrong",
            consumer_key=oauth["client_id"],
            consumer_secret=oauth["client_secret"],
            session=session,
            version="62.0",
        )
    assert excinfo.value.code == "invalid_grant"


def test_jwt_signed_with_another_key_is_refused(emu):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    info = emu.info()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    claims = {
        "iss": info["jwt"]["client_id"],
        "sub": info["jwt"]["username"],
        "aud": emu.root_url,
        "exp": 2_000_000_000,
    }
    for key, expected in ((other, 400), (info["jwt"]["private_key_pem"], 200)):
        assertion = jwt.encode(claims, key, algorithm="RS256")
        response = requests.post(
            info["oauth"]["token_url"],
            timeout=5,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        )
        assert response.status_code == expected, response.text


# -- identity and persistence ----------------------------------------------------------------


def test_same_seed_gives_the_same_org(emu):
    other = SalesforceEmulator(seed="demo")
    try:
        first, second = emu.info(), other.org.info()
        assert first["org"] == second["org"] and first["users"] == second["users"]
        assert first["oauth"]["client_secret"] == second["oauth"]["client_secret"]
        assert first["jwt"]["private_key_pem"] == second["jwt"]["private_key_pem"]
    finally:
        other.stop()


def test_data_dir_keeps_installs_and_records(tmp_path):
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as first:
        sf = connect(first)
        install_field(sf, "Contact.CM_Key__c", type="Text", length=20, externalId=True)
        sf.Contact.create({"LastName": "Kept", "CM_Key__c": "k"})
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as second:
        sf = connect(second)
        assert sf.query("SELECT LastName FROM Contact WHERE CM_Key__c = 'k'")["totalSize"] == 1
        assert sf.Contact.create({"LastName": "Next"})["id"] != ""


# -- page layouts and custom buttons (Tooling API) --------------------------------------------


def tooling_rows(sf, soql: str) -> list[dict]:
    return sf.toolingexecute("query/", params={"q": soql})["records"]


def layout(sf, object_name: str) -> dict:
    (row,) = tooling_rows(sf, f"SELECT Id FROM Layout WHERE TableEnumOrId = '{object_name}'")
    return sf.toolingexecute(f"sobjects/Layout/{row['Id']}")


def patch_layout(sf, record: dict, metadata: dict) -> None:
    sf.restful(
        f"tooling/sobjects/Layout/{record['Id']}", method="PATCH", json={"Metadata": metadata}
    )


def layout_fields(metadata: dict) -> list[str]:
    return [
        item["field"]
        for section in metadata["layoutSections"]
        for column in section["layoutColumns"]
        for item in column["layoutItems"]
        if item.get("field")
    ]


def related_lists(metadata: dict) -> list[str]:
    return [entry["relatedList"] for entry in metadata["relatedLists"]]


def button_body(full_name: str, **changes) -> dict:
    metadata = {
        "displayType": "button",
        "linkType": "url",
        "masterLabel": "Campaign Monitor",
        "openType": "newWindow",
        "url": "https://cmsync.example.com/open/?email={!Contact.Email}",
        **changes,
    }
    return {"FullName": full_name, "Metadata": metadata}


def test_standard_layouts_are_seeded_and_readable(sf):
    rows = tooling_rows(
        sf,
        "SELECT Id, Name, TableEnumOrId FROM Layout "
        "WHERE TableEnumOrId IN ('Contact', 'Lead', 'Campaign') ORDER BY Name",
    )
    assert [(r["Name"], r["TableEnumOrId"]) for r in rows] == [
        ("Campaign Layout", "Campaign"),
        ("Contact Layout", "Contact"),
        ("Lead Layout", "Lead"),
    ]
    assert all(r["Id"].startswith("00h") for r in rows)
    contact = layout(sf, "Contact")
    assert contact["FullName"] == "Contact-Contact Layout" and contact["Name"] == "Contact Layout"
    metadata = contact["Metadata"]
    assert {"Email", "Name", "OwnerId"} <= set(layout_fields(metadata))
    assert metadata["layoutSections"][0]["style"] == "TwoColumnsTopToBottom"
    assert "RelatedActivityList" in related_lists(metadata)
    assert metadata["customButtons"] == []
    assert "RelatedCampaignMemberList" in related_lists(layout(sf, "Campaign")["Metadata"])
    # FullName and Metadata only for a query that returns one row.
    error = fails(
        SalesforceMalformedRequest,
        lambda: tooling_rows(sf, "SELECT Id, FullName FROM Layout"),
        "MALFORMED_QUERY",
    )
    assert "no more than one row" in error["message"]
    (one,) = tooling_rows(sf, "SELECT FullName, Metadata FROM Layout WHERE Name = 'Lead Layout'")
    assert one["FullName"] == "Lead-Lead Layout" and "Company" in layout_fields(one["Metadata"])


def test_every_seed_has_the_standard_layouts():
    with SalesforceEmulator(seed="empty") as other:
        rows = tooling_rows(connect(other), "SELECT Name FROM Layout")
    assert sorted(r["Name"] for r in rows) == ["Campaign Layout", "Contact Layout", "Lead Layout"]


def test_layout_updates_are_checked_like_salesforce(emu, sf):
    install_field(sf, "Contact.CM_Key__c", type="Text", length=40)
    record = layout(sf, "Contact")
    metadata = record["Metadata"]
    metadata["layoutSections"][0]["layoutColumns"][1]["layoutItems"].append(
        {"behavior": "Edit", "field": "cm_key__c"}
    )
    emu.reset_request_counts()
    patch_layout(sf, record, metadata)
    assert emu.request_counts() == {"PATCH /tooling/sobjects/{type}/{id}": 1}
    saved = layout(sf, "Contact")
    assert "CM_Key__c" in layout_fields(saved["Metadata"])  # canonical case
    assert saved["LastModifiedDate"] >= record["LastModifiedDate"]

    def refused(change, code: str = "FIELD_INTEGRITY_EXCEPTION") -> str:
        bad = saved["Metadata"] | change
        return fails(SalesforceMalformedRequest, lambda: patch_layout(sf, record, bad), code)[
            "message"
        ]

    section = {"label": "X", "style": "OneColumn", "layoutColumns": [{"layoutItems": []}]}
    items = section["layoutColumns"][0]["layoutItems"]
    items.append({"behavior": "Edit", "field": "CM_Nope__c"})
    assert "CM_Nope__c" in refused({"layoutSections": [section]})
    items[0] = {"behavior": "Edit", "field": "Company"}  # a Lead field
    refused({"layoutSections": [section]})
    items[0] = {"behavior": "Edit", "field": "Email"}  # already in Contact Information
    assert "more than once" in refused(
        {"layoutSections": [*saved["Metadata"]["layoutSections"], section]}
    )
    items[0] = {"behavior": "Sometimes", "field": "Title"}
    refused({"layoutSections": [section]})
    # A custom related list needs the lookup; standard ones must be the object's own.
    tracking = {"relatedList": "CM_Email_Tracking__c.CM_Contact__c", "fields": ["NAME"]}
    assert "CM_Email_Tracking__c.CM_Contact__c" in refused({"relatedLists": [tracking]})
    refused({"relatedLists": [{"relatedList": "RelatedCampaignMemberList"}]})
    assert "CM_Open_Campaign_Monitor" in refused({"customButtons": ["CM_Open_Campaign_Monitor"]})
    refused({"layoutSections": "not a list"}, "JSON_PARSER_ERROR")
    assert layout(sf, "Contact")["Metadata"] == saved["Metadata"]  # nothing half-applied


def test_custom_related_lists_need_their_lookup(sf):
    sf.restful(
        "tooling/sobjects/CustomObject",
        method="POST",
        json={
            "FullName": "CM_Email_Tracking__c",
            "Metadata": {
                "label": "Email Tracking",
                "pluralLabel": "Email Trackings",
                "nameField": {"type": "AutoNumber", "label": "T", "displayFormat": "T-{0}"},
                "deploymentStatus": "Deployed",
                "sharingModel": "ReadWrite",
            },
        },
    )
    install_field(
        sf,
        "CM_Email_Tracking__c.CM_Contact__c",
        type="Lookup",
        referenceTo="Contact",
        relationshipName="CM_Contact",
    )
    install_field(sf, "CM_Email_Tracking__c.CM_Type__c", type="Text", length=20)
    record = layout(sf, "Contact")
    metadata = record["Metadata"]
    entry = {"relatedList": "cm_email_tracking__c.cm_contact__c", "fields": ["NAME", "CM_Nope__c"]}
    metadata["relatedLists"].append(entry)
    error = fails(
        SalesforceMalformedRequest,
        lambda: patch_layout(sf, record, metadata),
        "FIELD_INTEGRITY_EXCEPTION",
    )
    assert "CM_Nope__c" in error["message"]
    entry["fields"] = ["NAME", "cm_type__c"]
    patch_layout(sf, record, metadata)
    saved = layout(sf, "Contact")["Metadata"]["relatedLists"][-1]
    assert saved == {
        "relatedList": "CM_Email_Tracking__c.CM_Contact__c",
        "fields": ["NAME", "CM_Type__c"],
    }
    # Salesforce gives a new custom object a layout of its own.
    (own,) = tooling_rows(
        sf, "SELECT Name, FullName FROM Layout WHERE Name = 'Email Tracking Layout'"
    )
    assert own["FullName"] == "CM_Email_Tracking__c-Email Tracking Layout"


def test_web_links_are_created_queried_and_deleted(sf):
    created = sf.restful(
        "tooling/sobjects/WebLink", method="POST", json=button_body("Contact.CM_Open")
    )
    assert created["success"] is True and created["id"].startswith("00b")
    fails(
        SalesforceMalformedRequest,
        lambda: sf.restful(
            "tooling/sobjects/WebLink", method="POST", json=button_body("Contact.cm_open")
        ),
        "DUPLICATE_DEVELOPER_NAME",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: sf.restful(
            "tooling/sobjects/WebLink", method="POST", json=button_body("Lead.CM_X", url="")
        ),
        "REQUIRED_FIELD_MISSING",
    )
    fails(
        SalesforceMalformedRequest,
        lambda: sf.restful(
            "tooling/sobjects/WebLink",
            method="POST",
            json=button_body("Lead.CM_X", openType="popup"),
        ),
        "FIELD_INTEGRITY_EXCEPTION",
    )
    sf.restful("tooling/sobjects/WebLink", method="POST", json=button_body("Lead.CM_Open"))
    rows = tooling_rows(
        sf,
        "SELECT Id, Name, EntityDefinitionId FROM WebLink "
        "WHERE EntityDefinitionId IN ('Contact', 'Lead') ORDER BY EntityDefinitionId",
    )
    assert [(r["Name"], r["EntityDefinitionId"]) for r in rows] == [
        ("CM_Open", "Contact"),
        ("CM_Open", "Lead"),
    ]
    link = sf.toolingexecute(f"sobjects/WebLink/{created['id']}")
    assert link["FullName"] == "Contact.CM_Open" and link["Metadata"]["displayType"] == "button"
    # On a layout it cannot be deleted; off it, it can.
    record = layout(sf, "Contact")
    metadata = record["Metadata"] | {"customButtons": ["cm_open"]}
    patch_layout(sf, record, metadata)
    assert layout(sf, "Contact")["Metadata"]["customButtons"] == ["CM_Open"]
    error = fails(
        SalesforceMalformedRequest,
        lambda: sf.restful(f"tooling/sobjects/WebLink/{created['id']}", method="DELETE"),
        "DELETE_FAILED",
    )
    assert error["message"].startswith("This custom button is referenced elsewhere")
    patch_layout(sf, record, metadata | {"customButtons": []})
    sf.restful(f"tooling/sobjects/WebLink/{created['id']}", method="DELETE")
    rows = tooling_rows(sf, "SELECT Id FROM WebLink WHERE EntityDefinitionId = 'Contact'")
    assert rows == []
    fails(
        SalesforceResourceNotFound,
        lambda: sf.restful(f"tooling/sobjects/WebLink/{created['id']}", method="DELETE"),
        "NOT_FOUND",
    )


def test_deleting_a_field_or_object_takes_it_off_the_layouts(sf):
    key = install_field(sf, "Contact.CM_Key__c", type="Text", length=40)
    metadata = {
        "label": "Membership",
        "pluralLabel": "Memberships",
        "nameField": {"type": "Text", "label": "Name"},
        "deploymentStatus": "Deployed",
        "sharingModel": "ReadWrite",
    }
    membership = sf.restful(
        "tooling/sobjects/CustomObject",
        method="POST",
        json={"FullName": "CM_Membership__c", "Metadata": metadata},
    )
    install_field(
        sf,
        "CM_Membership__c.CM_Contact__c",
        type="Lookup",
        referenceTo="Contact",
        relationshipName="CM_Contact",
    )
    state = install_field(sf, "CM_Membership__c.CM_State__c", type="Text", length=20)
    record = layout(sf, "Contact")
    edited = record["Metadata"]
    edited["layoutSections"][0]["layoutColumns"][0]["layoutItems"].append(
        {"behavior": "Readonly", "field": "CM_Key__c"}
    )
    edited["relatedLists"].append(
        {"relatedList": "CM_Membership__c.CM_Contact__c", "fields": ["NAME", "CM_State__c"]}
    )
    patch_layout(sf, record, edited)

    sf.restful(f"tooling/sobjects/CustomField/{key['id']}", method="DELETE")
    after = layout(sf, "Contact")["Metadata"]
    assert "CM_Key__c" not in layout_fields(after)
    assert "CM_Membership__c.CM_Contact__c" in related_lists(after)
    sf.restful(f"tooling/sobjects/CustomField/{state['id']}", method="DELETE")
    assert layout(sf, "Contact")["Metadata"]["relatedLists"][-1]["fields"] == ["NAME"]

    sf.restful(f"tooling/sobjects/CustomObject/{membership['id']}", method="DELETE")
    after = layout(sf, "Contact")["Metadata"]
    assert "CM_Membership__c.CM_Contact__c" not in related_lists(after)
    assert related_lists(after) == related_lists(record["Metadata"])[:-1]
    assert tooling_rows(sf, "SELECT Id FROM Layout WHERE Name = 'Membership Layout'") == []


def test_data_dir_keeps_layouts_and_buttons(tmp_path):
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as first:
        sf = connect(first)
        sf.restful("tooling/sobjects/WebLink", method="POST", json=button_body("Contact.CM_Open"))
        record = layout(sf, "Contact")
        patch_layout(sf, record, record["Metadata"] | {"customButtons": ["CM_Open"]})
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as second:
        sf = connect(second)
        assert layout(sf, "Contact")["Metadata"]["customButtons"] == ["CM_Open"]
        assert len(tooling_rows(sf, "SELECT Id FROM Layout")) == 3
        (kept,) = tooling_rows(sf, "SELECT Id FROM WebLink")
        created = sf.restful(
            "tooling/sobjects/WebLink", method="POST", json=button_body("Lead.CM_Open")
        )
        assert created["id"].startswith("00b") and created["id"] != kept["Id"]
