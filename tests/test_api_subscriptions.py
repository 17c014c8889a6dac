"""A list's subscription rules, custom field mappings and imports over the REST API, against
both emulators: the console's validation, the role of the key, client ownership and the
audit log."""

import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from salesforce.gateway import memo_describe
from salesforce.models import SalesforceSettings
from security.models import ClientOwnership, IntegrationKey
from security.service import create_key
from settings_app.models import GeneralSettings
from subscriptions.criteria import parse
from subscriptions.imports import work as imports
from subscriptions.models import FieldMapping, ImportFailure, ImportJob, SubscriptionRule
from subscriptions.rules import work as rules

from .test_field_mappings import CUSTOM_FIELDS
from .test_import_wizard import job_for, people
from .test_subscription_rules import person, state

pytestmark = pytest.mark.django_db

TO_CM, TO_SF = FieldMapping.Direction.TO_CM, FieldMapping.Direction.TO_SF


def api_for(access: str, alice) -> APIClient:
    _, secret = create_key(f"{access} key", access, alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def key_user(access: str):
    return IntegrationKey.objects.get(name=f"{access} key").user


def when(field: str, value: str = "", operator: str = "equals") -> dict:
    return {"field": field, "operator": operator, "value": value}


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.fixture
def full(alice):
    return api_for("full", alice)


@pytest.fixture
def fields_world(world):
    """The world with the Contact and Lead fields the list's custom fields map to."""
    for sobject in ("Contact", "Lead"):
        for name, metadata in CUSTOM_FIELDS.items():
            world.custom_field(f"{sobject}.{name}", metadata)
    return world


def rules_url(world, action: str = "") -> str:
    return f"/api/v1/lists/{world.list_a}/rules/" + (f"{action}/" if action else "")


def mappings_url(world, pk: int | None = None) -> str:
    return f"/api/v1/lists/{world.list_a}/field-mappings/" + (f"{pk}/" if pk else "")


def imports_url(world, pk: int | None = None) -> str:
    return f"/api/v1/lists/{world.list_a}/imports/" + (f"{pk}/" if pk else "")


# -- subscription rules -------------------------------------------------------------------------


def test_a_full_key_creates_reads_changes_and_deletes_a_rule(world, full):
    conditions = [
        when("LeadSource", "Web"),
        {"field": "Account.Industry", "value": "Banking"},  # operator: equals
        when("Title", "Chief", "contains"),
    ]
    body = {"action": "add_contact", "conditions": conditions, "logic": "1 and (2 or 3)"}
    created = full.post(rules_url(world), body, format="json")

    assert created.status_code == 201, created.content
    shown = created.json()
    assert shown["list_id"] == world.list_a and shown["action"] == "add_contact"
    assert shown["sobject"] == "Contact" and shown["active"] is True
    assert shown["conditions"][1] == when("Account.Industry", "Banking")
    assert shown["retro_status"] == "" and shown["retro_result"] == {}
    saved = SubscriptionRule.objects.get(list_id=world.list_a, action="add_contact")
    assert saved.conditions[1] == when("Account.Industry", "Banking")
    assert saved.logic == "1 and (2 or 3)"
    assert full.get(rules_url(world)).json() == [shown]
    assert full.get(rules_url(world, "add_contact")).json() == shown

    again = full.post(rules_url(world), body, format="json")
    assert "already has this rule" in errors(again)["action"][0]

    paused = full.patch(rules_url(world, "add_contact"), {"active": False}, format="json")
    assert paused.status_code == 200
    assert paused.json()["active"] is False and paused.json()["conditions"] == shown["conditions"]

    replaced = full.put(
        rules_url(world, "add_contact"), {"conditions": [when("Title", "CEO")]}, format="json"
    )
    assert replaced.status_code == 200
    saved.refresh_from_db()
    assert (saved.conditions, saved.logic, saved.active) == ([when("Title", "CEO")], "", True)

    assert full.delete(rules_url(world, "add_contact")).status_code == 204
    assert not SubscriptionRule.objects.exists()
    missing = full.get(rules_url(world, "add_contact"))
    assert missing.status_code == 404 and missing.json()["error"]["status"] == 404
    assert full.get(rules_url(world, "bogus")).status_code == 404
    assert full.patch(rules_url(world, "add_lead"), {}, format="json").status_code == 404


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"conditions": [when("Name FROM Contact --", "x")]}, "conditions", "Select a valid"),
        ({"conditions": [when("LastName = '' OR Id", "x")]}, "conditions", "Select a valid"),
        ({"conditions": [when("LastName", "x", "DROP")]}, "conditions", "Select a valid"),
        ({"conditions": [when("LastName", "x")], "logic": "1 OR 1=1"}, "logic", "cannot read"),
        ({"conditions": [when("LastName", "x")], "logic": "1; DELETE"}, "logic", "cannot read"),
        ({"conditions": [when("LastName", "x")], "logic": "1 OR 2"}, "logic", "not there"),
        (
            {"conditions": [when("LastName", "x"), when("Title", "y")], "logic": "1 AND 2 OR 1"},
            "logic",
            "parentheses",
        ),
        ({"conditions": [when("HasOptedOutOfEmail", "maybe")]}, "conditions", "true or false"),
        ({"conditions": [when("LeadSource", "Fax")]}, "conditions", "is not a value of"),
        ({"conditions": [when("HasOptedOutOfEmail", "x", "contains")]}, "conditions", "cannot be"),
        ({"conditions": [when("LastName", "x" * 256)]}, "conditions", "at most 255"),
        ({"conditions": []}, "non_field_errors", "Add at least one condition"),
        ({"conditions": [when("Title", "x")] * 11}, "conditions", "at most 10 conditions"),
        ({"conditions": "LastName = 'x'"}, "conditions", "Expected a list"),
        ({"conditions": [when("Title", "x")], "active": "maybe"}, "active", "valid boolean"),
        ({"logic": ""}, "conditions", "This field is required"),
    ],
)
def test_bad_rules_get_the_consoles_errors_and_nothing_is_saved(world, full, body, field, message):
    response = full.post(rules_url(world), {"action": "add_contact", **body}, format="json")
    assert any(message in e for e in errors(response)[field]), errors(response)
    assert not SubscriptionRule.objects.exists()


def test_a_rule_row_and_the_logic_are_refused_together_beside_their_fields(world, full):
    body = {"action": "add_contact", "conditions": [when("LeadSource", "Fax")], "logic": "1 OR 1=1"}
    fields = errors(full.post(rules_url(world), body, format="json"))
    (row,) = fields["conditions"]
    assert row.startswith("Condition 1: “Fax” is not a value of Lead Source; choose one of")
    assert fields["logic"] == ["Custom logic: cannot read “=1”."]


def test_lead_rules_have_no_account_fields_and_actions_are_the_four(world, full):
    lead = {"action": "add_lead", "conditions": [when("Account.Industry", "Banking")]}
    assert (
        "Select a valid choice"
        in errors(full.post(rules_url(world), lead, format="json"))["conditions"][0]
    )
    bogus = {"action": "add_account", "conditions": [when("Title", "x")]}
    assert errors(full.post(rules_url(world), bogus, format="json"))["action"]
    assert not SubscriptionRule.objects.exists()


def test_a_bad_change_leaves_the_stored_rule_as_it_was(world, full):
    full.post(
        rules_url(world),
        {"action": "remove_lead", "conditions": [when("Title", "Left")]},
        format="json",
    )
    url = rules_url(world, "remove_lead")
    assert errors(full.patch(url, {"logic": "1 OR 2"}, format="json"))["logic"]
    assert errors(full.put(url, {"conditions": [when("Nope__c", "x")]}, format="json"))
    saved = SubscriptionRule.objects.get()
    assert (saved.conditions, saved.logic) == ([when("Title", "Left")], "")


@pytest.mark.parametrize("value", ["x' OR Name != '", "' OR Id != null OR LastName = '", "{ids}"])
def test_hostile_values_are_kept_literally_and_match_nothing(world, full, value):
    person(world, "plain@example.com", LastName="Plain")
    body = {"action": "add_contact", "conditions": [when("LastName", value, "contains")]}
    created = full.post(rules_url(world), body, format="json")

    assert created.status_code == 201
    assert created.json()["conditions"] == [when("LastName", value, "contains")]
    saved = SubscriptionRule.objects.get()
    assert saved.conditions == [when("LastName", value, "contains")]
    where = parse(saved.conditions, "", memo_describe(world.gateway), "Contact").where()
    assert where.startswith("LastName LIKE '%") and where.count("'") - where.count("\\'") == 2

    queued = full.post(f"{rules_url(world, 'add_contact')}retrospective/")
    assert queued.status_code == 202 and queued.json()["retro_status"] == "queued"
    assert rules.run_retrospective(saved.pk) == SubscriptionRule.RetroStatus.SUCCEEDED
    assert state(world, world.list_a, "plain@example.com") is None
    assert full.get(rules_url(world, "add_contact")).json()["retro_result"]["matched"] == 0


def test_the_retrospective_run_is_queued_audited_and_runs_as_the_consoles(world, full):
    person(world, "web@example.com", LeadSource="Web")
    body = {"action": "add_contact", "conditions": [when("LeadSource", "Web")]}
    full.post(rules_url(world), body, format="json")
    url = f"{rules_url(world, 'add_contact')}retrospective/"

    queued = full.post(url)

    assert queued.status_code == 202
    assert queued.json()["retro_status"] == "queued" and queued.json()["retro_requested_at"]
    entry = LogEntry.objects.get(additional_data__action__startswith="Retrospective run")
    assert entry.actor == key_user("full")
    assert "requested through the API" in entry.additional_data["action"]
    busy = errors(full.post(url))
    assert "already queued or running" in busy["non_field_errors"][0]

    rule = SubscriptionRule.objects.get()
    rules.run_retrospective(rule.pk)
    shown = full.get(rules_url(world, "add_contact")).json()
    assert shown["retro_status"] == "succeeded" and shown["retro_result"]["written"] == 1
    assert state(world, world.list_a, "web@example.com") == "Active"


def test_a_retrospective_run_is_refused_while_triggers_are_disabled(world, full):
    body = {"action": "add_contact", "conditions": [when("LeadSource", "Web")]}
    full.post(rules_url(world), body, format="json")
    GeneralSettings.objects.update(disable_triggers=True)
    url = f"{rules_url(world, 'add_contact')}retrospective/"

    refused = errors(full.post(url))

    assert "Triggers are disabled" in refused["non_field_errors"][0]
    assert SubscriptionRule.objects.get().retro_status == ""
    assert not LogEntry.objects.filter(additional_data__action__startswith="Retrospective")

    GeneralSettings.objects.update(disable_triggers=False)
    full.patch(rules_url(world, "add_contact"), {"active": False}, format="json")
    assert "inactive" in errors(full.post(url))["non_field_errors"][0]
    assert full.post(f"{rules_url(world, 'add_lead')}retrospective/").status_code == 404


def test_rule_changes_through_a_key_are_audited_under_its_name(world, full):
    body = {"action": "add_lead", "conditions": [when("LeadSource", "Web")]}
    full.post(rules_url(world), body, format="json")
    full.patch(rules_url(world, "add_lead"), {"active": False}, format="json")
    full.delete(rules_url(world, "add_lead"))

    entries = LogEntry.objects.filter(object_repr__contains="Add lead").order_by("timestamp")
    assert [e.action for e in entries] == [
        LogEntry.Action.CREATE,
        LogEntry.Action.UPDATE,
        LogEntry.Action.DELETE,
    ]
    assert {e.actor for e in entries} == {key_user("full")}
    assert entries[1].changes_dict == {"active": ["True", "False"]}
    audit = full.get("/api/v1/audit/?area=sync").json()["results"]
    rows = [row for row in audit if row["object_repr"].startswith("Add lead")]
    assert len(rows) == 3 and {row["user"] for row in rows} == {"api-key: full key"}


def test_without_salesforce_a_rule_cannot_be_checked_so_it_is_not_saved(world, full):
    SalesforceSettings.objects.update(sync_user=None)  # and the key has no connection
    body = {"action": "add_contact", "conditions": [when("Title", "x")]}
    refused = errors(full.post(rules_url(world), body, format="json"))
    assert "Connect to Salesforce" in refused["non_field_errors"][0]
    assert not SubscriptionRule.objects.exists()


# -- custom field mappings ----------------------------------------------------------------------


def test_a_full_key_creates_reads_changes_and_deletes_a_mapping(fields_world, full):
    world = fields_world
    body = {
        "cm_key": "[Country]",
        "direction": TO_SF,
        "contact_field": "MailingCountry",
        "lead_field": "Country",
    }
    created = full.post(mappings_url(world), body, format="json")

    assert created.status_code == 201, created.content
    shown = created.json()
    assert shown == {
        "id": shown["id"],
        "list_id": world.list_a,
        "cm_key": "[Country]",
        "cm_type": "Country",
        "direction": TO_SF,
        "contact_field": "MailingCountry",
        "lead_field": "Country",
        "default_value": "",
        "create_only": False,
    }
    assert full.get(mappings_url(world)).json() == [shown]
    url = mappings_url(world, shown["id"])
    assert full.get(url).json() == shown

    changed = full.patch(url, {"lead_field": "", "default_value": "Ireland"}, format="json")
    assert changed.status_code == 200, changed.content
    saved = FieldMapping.objects.get()
    assert (saved.lead_field, saved.contact_field, saved.default_value) == (
        "",
        "MailingCountry",
        "Ireland",
    )
    replaced = full.put(
        url,
        {"cm_key": "[age]", "direction": TO_CM, "contact_field": "Age__c", "create_only": True},
        format="json",
    )
    assert replaced.status_code == 200
    saved.refresh_from_db()
    assert (saved.cm_key, saved.cm_type, saved.direction, saved.create_only) == (
        "[age]",
        "Number",
        TO_CM,
        True,
    )
    assert (saved.lead_field, saved.default_value) == ("", "")

    assert full.delete(url).status_code == 204
    assert not FieldMapping.objects.exists()
    assert full.get(url).status_code == 404
    assert full.get(mappings_url(world, 99999)).status_code == 404


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"cm_key": "[age]", "contact_field": "Birthday__c"}, "contact_field", "mapped into"),
        ({"cm_key": "[birthday]", "contact_field": "CreatedDate"}, "contact_field", "read-only"),
        ({"cm_key": "[website]", "contact_field": "Email"}, "contact_field", "kept by cmsync"),
        (
            {"cm_key": "[birthday]", "direction": TO_CM, "contact_field": "Age__c"},
            "contact_field",
            "cannot be mapped from",
        ),
        ({"cm_key": "[age]", "lead_field": "Nope__c"}, "lead_field", "Select a valid choice"),
        (
            {"cm_key": "[age]", "contact_field": "Age__c", "default_value": "many"},
            "default_value",
            "not a number",
        ),
        (
            {"cm_key": "[Country]", "contact_field": "MailingCountry", "default_value": "Narnia"},
            "default_value",
            "not a value of the Contact field",
        ),
        ({"cm_key": "[nope]", "contact_field": "Age__c"}, "cm_key", "Select a valid choice"),
        ({"cm_key": "[age]"}, "non_field_errors", "Choose a Contact field, a Lead field or both"),
        ({"cm_key": "[age]", "direction": "both"}, "direction", "Select a valid choice"),
        ({"cm_key": "[age]", "create_only": "maybe"}, "create_only", "valid boolean"),
        ({"direction": TO_SF}, "cm_key", "This field is required"),
    ],
)
def test_impossible_mappings_are_refused_by_the_consoles_form(
    fields_world, full, body, field, message
):
    response = full.post(mappings_url(fields_world), {"direction": TO_SF, **body}, format="json")
    assert any(message in e for e in errors(response)[field]), errors(response)
    assert not FieldMapping.objects.exists()


def test_one_mapping_per_custom_field_and_a_bad_change_keeps_the_mapping(fields_world, full):
    world = fields_world
    body = {"cm_key": "[age]", "direction": TO_SF, "contact_field": "Age__c"}
    first = full.post(mappings_url(world), body, format="json").json()
    again = full.post(mappings_url(world), body | {"direction": TO_CM}, format="json")
    assert "already mapped" in errors(again)["cm_key"][0]

    bad = full.patch(
        mappings_url(world, first["id"]), {"contact_field": "Birthday__c"}, format="json"
    )
    assert errors(bad)["contact_field"]
    assert FieldMapping.objects.get().contact_field == "Age__c"


def test_without_a_salesforce_sync_user_mappings_cannot_be_checked(fields_world, full):
    SalesforceSettings.objects.update(sync_user=None)
    body = {"cm_key": "[age]", "direction": TO_SF, "contact_field": "Age__c"}
    refused = errors(full.post(mappings_url(fields_world), body, format="json"))
    assert "Salesforce fields cannot be read" in refused["non_field_errors"][0]
    assert not FieldMapping.objects.exists()


def test_mapping_changes_through_a_key_are_audited_under_its_name(fields_world, full):
    body = {"cm_key": "[age]", "direction": TO_SF, "contact_field": "Age__c"}
    created = full.post(mappings_url(fields_world), body, format="json").json()
    full.delete(mappings_url(fields_world, created["id"]))
    entries = LogEntry.objects.filter(object_repr__startswith="[age]")
    assert {e.action for e in entries} == {LogEntry.Action.CREATE, LogEntry.Action.DELETE}
    assert {e.actor for e in entries} == {key_user("full")}


# -- imports -----------------------------------------------------------------------------------


def test_imports_are_listed_and_shown_with_their_failures_per_email(world, alice, carol):
    people(world, "fine@example.com", "blocked@example.com")
    people(world, "quiet@example.com", HasOptedOutOfEmail=True)
    world.cm.suppress(world.client["ClientID"], ["blocked@example.com"])
    done = imports.run(job_for(world, alice).pk)
    draft = job_for(world, alice, status=ImportJob.Status.DRAFT)
    elsewhere = job_for(world, alice, list_id=world.list_b)
    reader = api_for("read", alice)

    listed = reader.get(imports_url(world)).json()
    assert listed["count"] == 2
    assert [row["id"] for row in listed["results"]] == [draft.pk, done.pk]
    row = listed["results"][1]
    # The suppressed address is reported apart from failures: the import succeeded.
    assert row["status"] == "succeeded" and row["failure_count"] == 2
    assert row["source"] == "contacts" and row["created_by"] == "alice"
    assert row["source_description"] == "All contacts with their email address"
    assert row["totals"]["new"] == 1 and row["options"]["resubscribe"] is False
    assert "failures" not in row
    queued = reader.get(f"{imports_url(world)}?status=draft").json()["results"]
    assert [r["id"] for r in queued] == [draft.pk]
    assert "Not a status" in errors(reader.get(f"{imports_url(world)}?status=bogus"))["status"][0]

    shown = reader.get(imports_url(world, done.pk)).json()
    assert shown["started_at"] and shown["finished_at"] and shown["scheduled_for"] is None
    failures = {(f["kind"], f["email"], f["code"]) for f in shown["failures"]}
    assert failures == {
        ("skipped", "quiet@example.com", "opted_out"),
        ("suppressed", "blocked@example.com", "204"),
    }
    assert reader.get(imports_url(world, elsewhere.pk)).status_code == 404
    assert reader.get(imports_url(world, 10**17)).status_code == 404


def test_an_imports_failures_are_capped_with_their_count(world, alice):
    job = job_for(world, alice, status=ImportJob.Status.PARTIAL)
    ImportFailure.objects.bulk_create(
        ImportFailure(job=job, email=f"p{n}@example.com", code="204", message="In Suppression List")
        for n in range(130)
    )
    shown = api_for("read", alice).get(imports_url(world, job.pk)).json()
    assert shown["failure_count"] == 130 and len(shown["failures"]) == 100
    assert shown["failures"][0]["email"] == "p0@example.com"


def test_a_standard_key_cancels_an_import_as_the_console_does(world, alice):
    job = job_for(world, alice)
    standard = api_for("standard", alice)
    url = f"{imports_url(world, job.pk)}cancel/"

    assert api_for("read", alice).post(url).status_code == 403
    cancelled = standard.post(url)

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"]
    entry = LogEntry.objects.get(additional_data__action__endswith="cancelled")
    assert entry.actor == key_user("standard")
    again = errors(standard.post(url))
    assert "is cancelled" in again["non_field_errors"][0]
    draft = job_for(world, alice, status=ImportJob.Status.DRAFT)
    assert errors(standard.post(f"{imports_url(world, draft.pk)}cancel/"))
    assert ImportJob.objects.get(pk=draft.pk).status == ImportJob.Status.DRAFT


# -- who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "access, write, cancel",
    [("read", 403, 403), ("standard", 403, 200), ("full", None, 200)],
)
def test_what_each_key_kind_may_do(fields_world, alice, access, write, cancel):
    world = fields_world
    api = api_for(access, alice)
    rule = SubscriptionRule.objects.create(
        list_id=world.list_a, action="add_contact", conditions=[when("Title", "CEO")]
    )
    mapping = FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key="[age]",
        cm_type="Number",
        direction=TO_SF,
        contact_field="Age__c",
    )
    job = job_for(world, alice)
    for url in (rules_url(world), rules_url(world, "add_contact"), mappings_url(world)):
        assert api.get(url).status_code == 200, url
    assert api.get(mappings_url(world, mapping.pk)).status_code == 200
    assert api.get(imports_url(world)).status_code == 200
    assert api.get(imports_url(world, job.pk)).status_code == 200

    new_rule = {"action": "add_lead", "conditions": [when("Title", "x")]}
    new_mapping = {"cm_key": "[website]", "direction": TO_CM, "contact_field": "Website__c"}
    rule_url, mapping_url = rules_url(world, "add_contact"), mappings_url(world, mapping.pk)
    codes = [
        api.post(rules_url(world), new_rule, format="json").status_code,
        api.patch(rule_url, {"active": False}, format="json").status_code,
        api.put(rule_url, {"conditions": [when("Title", "x")]}, format="json").status_code,
        api.post(f"{rule_url}retrospective/").status_code,
        api.post(mappings_url(world), new_mapping, format="json").status_code,
        api.patch(mapping_url, {"create_only": True}, format="json").status_code,
        api.delete(rule_url).status_code,
        api.delete(mapping_url).status_code,
    ]
    assert codes == ([201, 200, 200, 202, 201, 200, 204, 204] if write is None else [write] * 8)
    assert api.post(f"{imports_url(world, job.pk)}cancel/").status_code == cancel
    if write is not None:
        rule.refresh_from_db()
        assert rule.active and rule.retro_status == "" and rule.conditions == [when("Title", "CEO")]
        assert FieldMapping.objects.count() == 1 and SubscriptionRule.objects.count() == 1


def test_a_key_without_a_role_or_a_key_at_all_gets_nothing(world, mallory):
    anonymous = APIClient()
    assert anonymous.get(rules_url(world)).status_code in (401, 403)
    nobody = APIClient()
    nobody.force_login(mallory)
    for url in (rules_url(world), mappings_url(world), imports_url(world)):
        assert nobody.get(url).status_code == 403


def test_lists_of_clients_the_key_may_not_see_are_not_found(fields_world, alice):
    world = fields_world
    full = api_for("full", alice)
    SubscriptionRule.objects.create(
        list_id=world.list_a, action="add_contact", conditions=[when("Title", "CEO")]
    )
    job = job_for(world, alice)
    ClientOwnership.objects.create(user=key_user("full"), client_id=world.other_client["ClientID"])

    for url in (
        rules_url(world),
        rules_url(world, "add_contact"),
        mappings_url(world),
        imports_url(world),
        imports_url(world, job.pk),
    ):
        response = full.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["message"].startswith("No list of a connected client")
    new_rule = {"action": "add_lead", "conditions": [when("Title", "x")]}
    assert full.post(rules_url(world), new_rule, format="json").status_code == 404
    assert full.delete(rules_url(world, "add_contact")).status_code == 404
    new_mapping = {"cm_key": "[age]", "direction": TO_SF, "contact_field": "Age__c"}
    assert full.post(mappings_url(world), new_mapping, format="json").status_code == 404
    assert full.post(f"{imports_url(world, job.pk)}cancel/").status_code == 404
    assert SubscriptionRule.objects.count() == 1 and not FieldMapping.objects.exists()
    assert ImportJob.objects.get().status == ImportJob.Status.QUEUED

    # Lists of clients that are not connected, or not lists at all, are not found either.
    ClientOwnership.objects.all().delete()
    assert full.get(rules_url(world)).status_code == 200
    for list_id in (world.other_list, "nope"):
        assert full.get(f"/api/v1/lists/{list_id}/rules/").status_code == 404
        assert full.get(f"/api/v1/lists/{list_id}/field-mappings/").status_code == 404
        assert full.get(f"/api/v1/lists/{list_id}/imports/").status_code == 404


def test_the_new_endpoints_are_in_the_schema(carol_client):
    schema = carol_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    assert set(paths["/api/v1/lists/{list_id}/rules/{action}/"]) >= {"get", "put", "patch"}
    assert "post" in paths["/api/v1/lists/{list_id}/rules/{action}/retrospective/"]
    assert "delete" in paths["/api/v1/lists/{list_id}/field-mappings/{id}/"]
    assert "post" in paths["/api/v1/lists/{list_id}/imports/{id}/cancel/"]
