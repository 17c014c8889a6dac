"""The Salesforce emulator's duplicate rules, converted leads and whole-second timestamps,
over real HTTP through simple-salesforce, checked by the codes Salesforce returns."""

from datetime import UTC, datetime

import pytest
import requests
import time_machine
from simple_salesforce.exceptions import SalesforceMalformedRequest

from emulators.salesforce import SalesforceEmulator

from .test_sf_emulator import collection, connect, fails

ALLOW_SAVE = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}
JANE = {"FirstName": "Jane", "LastName": "Doe", "Email": "jane.doe@example.com"}


@pytest.fixture
def emu(sf_emulator):
    """The session's shared emulator, reset to its seed for this test (conftest.py)."""
    return sf_emulator


@pytest.fixture
def sf(emu):
    return connect(emu)


def duplicate_result(error: dict) -> dict:
    return error["duplicateResut"]  # Salesforce's own spelling in REST responses


def matched_ids(result: dict) -> dict[str, list[str]]:
    return {
        match["entityType"]: [r["record"]["Id"] for r in match["matchRecords"]]
        for match in result["matchResults"]
    }


# -- duplicate rules -----------------------------------------------------------------------


def test_the_demo_org_has_alert_rules_on_contact_and_lead(emu):
    rules = {(r["object"], r["name"], r["action"]) for r in emu.duplicate_rules()}
    assert rules == {
        ("Contact", "Standard_Contact_Duplicate_Rule", "alert"),
        ("Lead", "Standard_Lead_Duplicate_Rule", "alert"),
    }
    with SalesforceEmulator(seed="empty") as empty:
        assert empty.duplicate_rules() == []
    with SalesforceEmulator(seed="demo", duplicate_rules="none") as plain:
        assert plain.duplicate_rules() == []
    with pytest.raises(ValueError):
        SalesforceEmulator(seed="demo", duplicate_rules="sometimes")


def test_an_alert_rule_refuses_a_duplicate_create_unless_the_header_allows_it(sf):
    first = sf.Contact.create(JANE)["id"]
    refused = fails(
        SalesforceMalformedRequest, lambda: sf.Contact.create(JANE), "DUPLICATES_DETECTED"
    )
    assert refused["message"] == "Use one of these records?"
    result = duplicate_result(refused)
    assert result["duplicateRule"] == "Standard_Contact_Duplicate_Rule"
    assert result["allowSave"] is True and result["duplicateRuleEntityType"] == "Contact"
    assert matched_ids(result) == {"Contact": [first]}
    assert result["matchResults"][0]["rule"] == "Standard_Contact_Match_Rule_v1_1"
    assert sf.query("SELECT Id FROM Contact WHERE Email = 'jane.doe@example.com'")["totalSize"] == 1

    second = sf.Contact.create(JANE, headers=ALLOW_SAVE)
    assert second["success"] is True
    count = "SELECT COUNT() FROM Contact WHERE Email = 'jane.doe@example.com'"
    assert sf.query(count)["totalSize"] == 2


def test_an_alert_rule_runs_on_edits_of_any_field(sf):
    """Once two records match, editing either (even a field the rule does not look at) is
    refused without the header: why an integration writing opt-outs must send it."""
    sf.Contact.create(JANE)
    twin = sf.Contact.create(JANE, headers=ALLOW_SAVE)["id"]
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.update(twin, {"HasOptedOutOfEmail": True}),
        "DUPLICATES_DETECTED",
    )
    assert sf.Contact.get(twin)["HasOptedOutOfEmail"] is False
    assert sf.Contact.update(twin, {"HasOptedOutOfEmail": True}, headers=ALLOW_SAVE) == 204
    assert sf.Contact.get(twin)["HasOptedOutOfEmail"] is True
    # Upsert by Id is an edit too.
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.upsert(f"Id/{twin}", {"Title": "Boss"}),
        "DUPLICATES_DETECTED",
    )


def test_the_header_needs_api_52(emu):
    old = connect(emu)
    old.sf_version = "51.0"
    old.base_url = old.base_url.replace("v62.0", "v51.0")
    new = connect(emu)
    new.Contact.create(JANE)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        old.restful("sobjects/Contact/", method="POST", json=JANE, headers=ALLOW_SAVE)
    assert refused.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"


def test_matching_is_email_and_names_case_insensitive_and_blanks_never_match(sf):
    sf.Contact.create(JANE)
    shouted = {"FirstName": " JANE", "LastName": "doe ", "Email": "Jane.Doe@EXAMPLE.com"}
    fails(SalesforceMalformedRequest, lambda: sf.Contact.create(shouted), "DUPLICATES_DETECTED")
    assert sf.Contact.create({**JANE, "FirstName": "Janet"})["success"]
    assert sf.Contact.create({**JANE, "Email": "jane@example.com"})["success"]
    nameless = {"LastName": "Doe", "Email": "jane.doe@example.com"}
    assert sf.Contact.create(nameless)["success"]
    assert sf.Contact.create(nameless)["success"]  # a blank FirstName matches nothing


def test_deleted_records_are_not_duplicates(sf):
    first = sf.Contact.create(JANE)["id"]
    sf.Contact.delete(first)
    assert sf.Contact.create(JANE)["success"]


def test_a_lead_is_compared_with_leads_and_contacts(sf):
    contact = sf.Contact.create(JANE)["id"]
    lead = {**JANE, "Company": "Acme"}
    refused = fails(SalesforceMalformedRequest, lambda: sf.Lead.create(lead), "DUPLICATES_DETECTED")
    result = duplicate_result(refused)
    assert result["duplicateRule"] == "Standard_Lead_Duplicate_Rule"
    assert matched_ids(result) == {"Contact": [contact]}
    first_lead = sf.Lead.create(lead, headers=ALLOW_SAVE)["id"]
    refused = fails(SalesforceMalformedRequest, lambda: sf.Lead.create(lead), "DUPLICATES_DETECTED")
    assert matched_ids(duplicate_result(refused)) == {"Lead": [first_lead], "Contact": [contact]}
    # A Contact is compared with Contacts only.
    sf.Contact.delete(contact)
    assert sf.Contact.create(JANE)["success"]


def test_a_block_rule_refuses_even_with_the_header(emu, sf):
    emu.add_duplicate_rule("Contact", "block")
    assert {r["object"]: r["action"] for r in emu.duplicate_rules()} == {
        "Contact": "block",
        "Lead": "alert",
    }
    sf.Contact.create(JANE)
    refused = fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.create(JANE, headers=ALLOW_SAVE),
        "DUPLICATES_DETECTED",
    )
    assert duplicate_result(refused)["allowSave"] is False


def test_collections_refuse_duplicates_per_record(emu, sf):
    sf.Contact.create(JANE)
    twin = sf.Contact.create(JANE, headers=ALLOW_SAVE)["id"]
    other = sf.Contact.create({"LastName": "Other", "Email": "other@example.com"})["id"]
    records = [
        {"attributes": {"type": "Contact"}, "Id": twin, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Contact"}, "Id": other, "HasOptedOutOfEmail": True},
    ]
    results = collection(sf, "PATCH", records)
    assert results[1] == {"id": other, "success": True, "errors": []}
    assert results[0]["success"] is False
    (error,) = results[0]["errors"]
    assert error["statusCode"] == "DUPLICATES_DETECTED"
    assert duplicate_result(error)["duplicateRule"] == "Standard_Contact_Duplicate_Rule"

    body = {"allOrNone": False, "records": records}
    allowed = sf.restful("composite/sobjects", method="PATCH", json=body, headers=ALLOW_SAVE)
    assert [r["success"] for r in allowed] == [True, True]

    emu.add_duplicate_rule("Contact", "block")
    new = [
        {"attributes": {"type": "Contact"}, **JANE},
        {"attributes": {"type": "Contact"}, "LastName": "Fine"},
    ]
    body = {"allOrNone": False, "records": new}
    blocked = sf.restful("composite/sobjects", method="POST", json=body, headers=ALLOW_SAVE)
    assert [r["success"] for r in blocked] == [False, True]
    assert blocked[0]["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"


def test_the_control_insert_is_not_stopped_by_duplicate_rules(emu):
    emu.add_duplicate_rule("Contact", "block")
    inserted = emu.insert("Contact", [JANE, JANE])
    assert [r["success"] for r in inserted] == [True, True]


def test_duplicate_rules_over_http_and_kept_in_a_data_dir(tmp_path):
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as first:
        root = f"{first.root_url}/_emulator/duplicate_rules"
        made = requests.post(root, json={"object": "Lead", "action": "block"}, timeout=5)
        assert made.status_code == 201 and made.json()["name"] == "Standard_Lead_Duplicate_Rule"
        bad = requests.post(root, json={"object": "Account", "action": "block"}, timeout=5)
        assert bad.status_code == 400
        bad = requests.post(root, json={"object": "Lead", "action": "warn"}, timeout=5)
        assert bad.status_code == 400
        assert [r["action"] for r in requests.get(root, timeout=5).json()] == ["block"]
    with SalesforceEmulator(seed="empty", data_dir=tmp_path) as second:
        assert [r["object"] for r in second.duplicate_rules()] == ["Lead"]
        root = f"{second.root_url}/_emulator/duplicate_rules"
        assert requests.delete(root, timeout=5).json() == []
        assert second.duplicate_rules() == []


def test_seeded_people_include_duplicates_the_alert_rule_matches(emu, sf):
    counts = emu.seed_people(f"person{n}@example.com" for n in range(400))
    assert counts["duplicates"] > 0
    rows = sf.query_all("SELECT Id, Email FROM Contact WHERE Email != null")["records"]
    by_email: dict[str, list[str]] = {}
    for row in rows:
        by_email.setdefault(row["Email"].lower(), []).append(row["Id"])
    twins = next(ids for ids in by_email.values() if len(ids) == 2)
    fails(
        SalesforceMalformedRequest,
        lambda: sf.Contact.update(twins[0], {"HasOptedOutOfEmail": True}),
        "DUPLICATES_DETECTED",
    )
    assert sf.Contact.update(twins[0], {"HasOptedOutOfEmail": True}, headers=ALLOW_SAVE) == 204


# -- converted leads -----------------------------------------------------------------------


def test_converting_a_lead_creates_a_contact_and_sets_the_conversion_fields(emu, sf):
    lead_id = sf.Lead.create({**JANE, "Company": "Doe Widgets", "HasOptedOutOfEmail": True})["id"]
    converted = emu.convert_lead(lead_id)
    lead = sf.Lead.get(lead_id)
    assert lead["IsConverted"] is True and lead["Status"] == "Closed - Converted"
    assert lead["ConvertedContactId"] == converted["ConvertedContactId"]
    assert lead["ConvertedDate"] == datetime.now(UTC).date().isoformat()
    contact = sf.Contact.get(lead["ConvertedContactId"])
    assert (contact["FirstName"], contact["LastName"], contact["Email"]) == (
        "Jane",
        "Doe",
        "jane.doe@example.com",
    )
    assert contact["HasOptedOutOfEmail"] is True
    assert contact["AccountId"] == lead["ConvertedAccountId"]
    assert sf.Account.get(contact["AccountId"])["Name"] == "Doe Widgets"


def test_a_lead_converts_into_an_existing_contact_over_http(emu, sf):
    contact = sf.Contact.create({"LastName": "Existing", "Email": "x@example.com"})["id"]
    lead = sf.Lead.create({"LastName": "Existing", "Company": "X", "Email": "x@example.com"})
    answer = requests.post(
        f"{emu.root_url}/_emulator/leads/convert",
        json={"lead_id": lead["id"], "contact_id": contact},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["ConvertedContactId"] == contact
    count = "SELECT COUNT() FROM Contact WHERE Email = 'x@example.com'"
    assert sf.query(count)["totalSize"] == 1
    again = requests.post(
        f"{emu.root_url}/_emulator/leads/convert", json={"lead_id": lead["id"]}, timeout=5
    )
    assert again.status_code == 400
    assert again.json()["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_a_converted_lead_is_still_queried_but_never_updated(emu, sf):
    lead_id = sf.Lead.create({"LastName": "Gone", "Company": "G", "Email": "g@example.com"})["id"]
    live_id = sf.Lead.create({"LastName": "Live", "Company": "L", "Email": "g@example.com"})["id"]
    emu.convert_lead(lead_id)
    everyone = "SELECT Id FROM Lead WHERE Email = 'g@example.com'"
    assert {r["Id"] for r in sf.query(everyone)["records"]} == {lead_id, live_id}
    unconverted = everyone + " AND IsConverted = false"
    assert [r["Id"] for r in sf.query(unconverted)["records"]] == [live_id]

    refused = fails(
        SalesforceMalformedRequest,
        lambda: sf.Lead.update(lead_id, {"HasOptedOutOfEmail": True}),
        "CANNOT_UPDATE_CONVERTED_LEAD",
    )
    assert refused["message"] == "cannot reference converted lead"
    records = [
        {"attributes": {"type": "Lead"}, "Id": lead_id, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Lead"}, "Id": live_id, "HasOptedOutOfEmail": True},
    ]
    results = collection(sf, "PATCH", records)
    assert results[0]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert results[1]["success"] is True
    assert sf.Lead.get(lead_id)["HasOptedOutOfEmail"] is False


def test_seeded_people_include_converted_leads(emu, sf):
    emails = [f"person{n}@example.com" for n in range(400)]
    counts = emu.seed_people(emails)
    assert counts["converted_leads"] >= 2
    converted = sf.query_all(
        "SELECT Id, Email, ConvertedContactId, Status FROM Lead WHERE IsConverted = true"
    )["records"]
    assert len(converted) == counts["converted_leads"]
    for lead in converted:
        contact = sf.Contact.get(lead["ConvertedContactId"])
        assert contact["Email"].lower() == lead["Email"].lower()
        assert lead["Status"] == "Closed - Converted"


# -- timestamps ------------------------------------------------------------------------------


def test_datetimes_come_back_in_whole_seconds(sf):
    created = sf.Contact.create({"LastName": "Stamp"})["id"]
    record = sf.Contact.get(created)
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert record[name].endswith(".000+0000"), record[name]
    sf.Contact.update(created, {"EmailBouncedDate": "2026-03-04T05:06:07.890Z"})
    assert sf.Contact.get(created)["EmailBouncedDate"] == "2026-03-04T05:06:07.000+0000"


def test_records_written_within_one_second_share_a_stamp_and_compare_by_it(sf):
    # Time stands still (in the emulator's thread too): every write lands in one second.
    moment = datetime(2026, 12, 3, 10, 15, 30, 250_000, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        body = [{"attributes": {"type": "Contact"}, "LastName": f"Same{n}"} for n in range(20)]
        ids = [r["id"] for r in collection(sf, "POST", body)]
    rows = sf.query_all("SELECT Id, SystemModstamp FROM Contact WHERE LastName LIKE 'Same%'")
    assert {r["SystemModstamp"] for r in rows["records"]} == {"2026-12-03T10:15:30.000+0000"}
    at_or_after = sf.query_all(
        "SELECT Id FROM Contact WHERE SystemModstamp >= 2026-12-03T10:15:30Z"
    )
    assert set(ids) <= {r["Id"] for r in at_or_after["records"]}
    later = sf.query_all("SELECT Id FROM Contact WHERE SystemModstamp > 2026-12-03T10:15:30.500Z")
    assert not set(ids) & {r["Id"] for r in later["records"]}
