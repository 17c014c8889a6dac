"""The Salesforce gateway against the emulator over real HTTP, through simple-salesforce."""

import pytest

from salesforce import errors, permissions, schema
from salesforce.gateway import SalesforceGateway

pytestmark = pytest.mark.django_db


def people(n: int, start: int = 0) -> list[dict]:
    return [{"LastName": f"Person {i}", "Email": f"person{i}@example.com"} for i in range(start, n)]


def calls(emulator, key: str) -> int:
    return sum(v for k, v in emulator.request_counts().items() if k == key)


@pytest.mark.parametrize("count, expected_calls", [(1, 1), (200, 1), (201, 2), (450, 3)])
def test_create_and_update_go_in_collections_of_200(sf_emulator, sf_gateway, count, expected_calls):
    sf_emulator.reset_request_counts()
    created = sf_gateway.create("Contact", people(count))
    assert all(r.success for r in created) and len(created) == count
    assert calls(sf_emulator, "POST /composite/sobjects") == expected_calls

    updates = [{"Id": r.id, "HasOptedOutOfEmail": True} for r in created]
    results = sf_gateway.update("Contact", updates)
    assert all(r.success for r in results)
    assert calls(sf_emulator, "PATCH /composite/sobjects") == expected_calls
    assert (
        sf_gateway.count(
            "SELECT COUNT() FROM Contact WHERE HasOptedOutOfEmail = true AND Email LIKE 'person%'"
        )
        == count
    )


def test_per_record_failures_come_back_as_data(sf_gateway):
    records = people(3)
    records[1]["Email"] = "not-an-email"
    del records[2]["LastName"]
    results = sf_gateway.create("Contact", records)
    assert [r.success for r in results] == [True, False, False]
    assert results[1].errors[0].status_code == "INVALID_EMAIL_ADDRESS"
    assert results[2].errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert results[2].record["Email"] == "person2@example.com"  # the record that failed


def test_restricted_picklist_failure_names_the_field(sf_gateway):
    lead = {"LastName": "L", "Company": "C", "Status": "Not a status", "Email": "l@example.com"}
    (result,) = sf_gateway.create("Lead", [lead])
    assert result.errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert result.errors[0].fields == ("Status",)


def test_delete_many(sf_gateway):
    ids = [r.id for r in sf_gateway.create("Contact", people(205))]
    results = sf_gateway.delete(ids)
    assert all(r.success for r in results)
    assert sf_gateway.count("SELECT COUNT() FROM Contact WHERE Email LIKE 'person%'") == 0
    deleted = list(
        sf_gateway.query("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True)
    )
    assert len(deleted) == 205


def test_query_pages_through_next_records_url(sf_emulator, sf_gateway):
    for start in range(0, 5200, 200):
        sf_gateway.create("Contact", people(start + 200, start))
    sf_emulator.reset_request_counts()
    rows = list(sf_gateway.query("SELECT Id, Email FROM Contact WHERE Email LIKE 'person%'"))
    assert len(rows) == 5200
    assert len({r["Id"] for r in rows}) == 5200
    assert "attributes" not in rows[0]
    assert sum(sf_emulator.request_counts().values()) == 3  # 2000 + 2000 + 1200


@pytest.mark.parametrize("how_many", [1, 200, 450])
def test_find_people_by_email_case_insensitively(sf_gateway, how_many):
    sf_gateway.create("Contact", people(how_many))
    asked = [f"PERSON{i}@Example.COM" for i in range(how_many)] + ["nobody@example.com"]
    found = sf_gateway.find_people(asked)
    assert len(found) == how_many
    assert found["person0@example.com"][0].sobject == "Contact"
    assert "nobody@example.com" not in found


def test_find_people_puts_the_most_recently_modified_first(sf_emulator, sf_gateway):
    older, newer = sf_gateway.create(
        "Contact",
        [
            {"LastName": "Older", "Email": "twin@example.com"},
            {"LastName": "Newer", "Email": "Twin@Example.com"},
        ],
    )
    sf_emulator.advance_clock(60)
    sf_gateway.update("Contact", [{"Id": newer.id, "Title": "touched"}])
    sf_gateway.create("Lead", [{"LastName": "L", "Company": "C", "Email": "twin@example.com"}])
    found = sf_gateway.find_people(["twin@example.com"])["twin@example.com"]
    assert [p.sobject for p in found].count("Contact") == 2
    contacts = [p for p in found if p.sobject == "Contact"]
    assert contacts[0].id == newer.id
    assert any(p.sobject == "Lead" for p in found)


@pytest.mark.parametrize("unordered", ["insertion", "reverse"])
def test_find_people_breaks_a_tie_on_last_modified_by_the_lowest_id(
    sf_emulator, sf_gateway, unordered
):
    """Salesforce promises no row order without ORDER BY: of records modified at the same
    moment, the lowest Id comes first whatever order the org answers in."""
    stamp = {"CreatedDate": "2026-01-05T10:00:00.000Z", "LastModifiedDate": "2026-01-05T10:00:00Z"}
    newest = {"CreatedDate": "2026-01-04T10:00:00Z", "LastModifiedDate": "2026-01-06T10:00:00Z"}
    twins = [
        {"LastName": "Alpha", "Email": "twin@example.com", **stamp},
        {"LastName": "Beta", "Email": "TWIN@example.com", **stamp},
        {"LastName": "Gamma", "Email": "twin@example.com", **stamp},
    ]
    contacts = [r["id"] for r in sf_emulator.insert("Contact", twins)]
    leads = [
        r["id"] for r in sf_emulator.insert("Lead", [{**t, "Company": "Co"} for t in twins[:2]])
    ]
    (latest,) = [
        r["id"] for r in sf_emulator.insert("Lead", [{**twins[2], "Company": "Co", **newest}])
    ]
    sf_emulator.set_unordered_rows(unordered)

    found = sf_gateway.find_people(["twin@example.com"])["twin@example.com"]
    assert [p.id for p in found if p.sobject == "Contact"] == sorted(contacts)
    assert [p.id for p in found if p.sobject == "Lead"] == [latest, *sorted(leads)]


def test_expired_session_is_refreshed_once(sf_emulator):
    info = sf_emulator.info()
    from salesforce import auth

    tokens = []

    def sign_in() -> str:
        oauth = info["oauth"]
        token = auth.client_credentials(
            info["login_url"], oauth["client_id"], oauth["client_secret"]
        )
        tokens.append(token.access_token)
        return token.access_token

    gateway = SalesforceGateway(info["instance_url"], sign_in(), refresh=sign_in)
    sf_emulator.expire_sessions()
    assert gateway.count("SELECT COUNT() FROM Account") >= 0
    assert len(tokens) == 2


def test_expired_session_without_refresh_is_an_authentication_error(sf_emulator, sf_gateway):
    gateway = SalesforceGateway(sf_gateway.instance_url, sf_gateway.sf.session_id)
    sf_emulator.expire_sessions()
    with pytest.raises(errors.AuthenticationError):
        gateway.count("SELECT COUNT() FROM Account")


def test_spent_daily_limit_is_reported_not_retried(sf_emulator, sf_gateway):
    sf_emulator.set_limit(used=100_000, max=100_000)
    sf_emulator.reset_request_counts()
    with pytest.raises(errors.LimitExceededError):
        sf_gateway.count("SELECT COUNT() FROM Contact")
    assert sum(sf_emulator.request_counts().values()) == 1


def test_api_usage_is_read_after_each_call(sf_emulator, sf_gateway):
    sf_emulator.set_limit(used=41, max=15000)
    sf_gateway.count("SELECT COUNT() FROM Contact")
    assert sf_gateway.usage.total == 15000
    assert sf_gateway.usage.used == 42
    limits = sf_gateway.limits()["DailyApiRequests"]
    assert limits["Max"] == 15000


def test_a_row_lock_is_retried_after_a_pause(sf_emulator, sf_gateway, monkeypatch):
    monkeypatch.setattr("salesforce.gateway.LOCK_RETRY_PAUSES", (0.01, 0.01, 0.01))
    ids = [r.id for r in sf_gateway.create("Contact", people(2))]
    sf_emulator.add_fault("unable_to_lock_row", count=1, path="composite/sobjects")
    sf_emulator.reset_request_counts()
    results = sf_gateway.update("Contact", [{"Id": i, "Title": "x"} for i in ids])
    assert all(r.success for r in results)
    assert sf_emulator.request_counts()["PATCH /composite/sobjects"] == 2


def test_a_lasting_row_lock_is_a_per_record_failure(sf_emulator, sf_gateway, monkeypatch):
    monkeypatch.setattr("salesforce.gateway.LOCK_RETRY_PAUSES", (0.01, 0.01, 0.01))
    ids = [r.id for r in sf_gateway.create("Contact", people(2))]
    sf_emulator.add_fault("unable_to_lock_row", count=10, path="composite/sobjects")
    results = sf_gateway.update("Contact", [{"Id": i, "Title": "x"} for i in ids])
    assert {e.status_code for r in results for e in r.errors} == {"UNABLE_TO_LOCK_ROW"}


@pytest.fixture
def quick_retries(settings):
    """Transport retries without real back-off (0, 1, 2, 4 s by default). Ask for it before
    the gateway: the gateway reads the setting when it is made."""
    settings.SALESFORCE_RETRY_BACKOFF_SECONDS = 0.001


def test_server_unavailable_is_retried_then_reported(quick_retries, sf_emulator, sf_gateway):
    sf_emulator.add_fault("server_unavailable", count=1, path="query")
    assert sf_gateway.count("SELECT COUNT() FROM Contact") >= 0
    sf_emulator.add_fault("server_unavailable", count=20, path="query")
    with pytest.raises(errors.ServerError):
        sf_gateway.count("SELECT COUNT() FROM Contact")


def test_bad_soql_is_a_request_error_with_the_code(sf_gateway):
    with pytest.raises(errors.RequestError) as caught:
        list(sf_gateway.query("SELECT Nope__c FROM Contact"))
    assert caught.value.code == "INVALID_FIELD"
    with pytest.raises(errors.RequestError) as caught:
        list(sf_gateway.query("SELEKT Id FROM Contact"))
    assert caught.value.code == "MALFORMED_QUERY"


def test_describe_reports_restricted_picklists_and_read_only_fields(sf_gateway):
    lead = sf_gateway.describe("Lead")
    status = lead.field("status")
    assert status.restricted_picklist and "Open - Not Contacted" in status.picklist_values
    campaign = sf_gateway.describe("Campaign")
    assert campaign.field("NumberOfResponses").updateable is False
    assert campaign.field("NumberSent").updateable is True


def test_schema_install_makes_cmsync_objects_usable(sf_gateway):
    everything = {c.full_name for c in schema.components()}
    assert {c.full_name for c in schema.missing(sf_gateway)} == everything
    with pytest.raises(errors.SalesforceError):
        list(sf_gateway.query("SELECT Id FROM CM_Email_Tracking__c"))

    created = schema.install(sf_gateway)
    assert set(created) == everything
    assert schema.missing(sf_gateway) == []
    assert schema.install(sf_gateway) == []  # nothing twice
    # Installed, but nobody may use the fields yet: the grant comes with cmsync's permission set.
    with pytest.raises(errors.RequestError, match="No such column 'CM_Event_Key__c'"):
        list(sf_gateway.query("SELECT CM_Event_Key__c FROM CM_Email_Tracking__c"))
    permissions.install(sf_gateway, [sf_gateway.identity()["user_id"]])

    key = "k" * 40
    event = {"CM_Event_Key__c": key, "CM_Email__c": "a@example.com", "CM_Type__c": "Opened"}
    first = sf_gateway.upsert("CM_Email_Tracking__c", "CM_Event_Key__c", [event])
    again = sf_gateway.upsert("CM_Email_Tracking__c", "CM_Event_Key__c", [event])
    assert first[0].created is True and again[0].created is False
    assert first[0].id == again[0].id
    bad = sf_gateway.upsert(
        "CM_Email_Tracking__c", "CM_Event_Key__c", [{**event, "CM_Type__c": "Forwarded"}]
    )
    assert bad[0].errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_member_status_helpers(sf_gateway):
    (campaign,) = sf_gateway.create("Campaign", [{"Name": "Spring newsletter"}])
    existing = sf_gateway.member_statuses([campaign.id])[campaign.id]
    assert [(s["Label"], s["HasResponded"]) for s in existing] == [
        ("Sent", False),
        ("Responded", True),
    ]
    added = sf_gateway.add_member_statuses(
        campaign.id, existing, [("Sent", False), ("Opened", True), ("Clicked", True)]
    )
    assert [r.record["Label"] for r in added] == ["Opened", "Clicked"]
    assert all(r.success for r in added)
    labels = [s["Label"] for s in sf_gateway.member_statuses([campaign.id])[campaign.id]]
    assert labels == ["Sent", "Responded", "Opened", "Clicked"]

    (contact,) = sf_gateway.create("Contact", people(1))
    member = {"CampaignId": campaign.id, "ContactId": contact.id, "Status": "Opened"}
    assert sf_gateway.create("CampaignMember", [member])[0].success
    (row,) = sf_gateway.campaign_members(campaign.id)
    assert row["Status"] == "Opened" and row["HasResponded"] is True
    duplicate = sf_gateway.create("CampaignMember", [member])[0]
    assert duplicate.errors[0].status_code == "DUPLICATE_VALUE"


def test_plain_http_is_refused_for_remote_hosts():
    with pytest.raises(errors.RequestError):
        SalesforceGateway("http://salesforce.example.com", "token")
