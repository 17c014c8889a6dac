"""Custom field mappings per list: Salesforce → Campaign Monitor (on import and on change) and
Campaign Monitor → Salesforce (in the primary sync), the type check and the page, against
both emulators over HTTP."""

from datetime import date

import pytest
from django.urls import reverse

from campaign_monitor.models import Connection
from campaign_monitor.records import CustomField, NewSubscriber
from maintenance.models import Message
from salesforce.gateway import FieldInfo, ObjectInfo
from salesforce.models import SalesforceSettings
from security.models import ClientOwnership
from subscriptions.fields import types as field_types
from subscriptions.fields.forms import FieldMappingForm
from subscriptions.fields.mappings import cm_value, sf_fields, to_cm_fields
from subscriptions.models import FieldMapping
from sync.models import SyncRun

from .test_sync_changes import cm_state, react, set_fields

pytestmark = pytest.mark.django_db

TO_CM, TO_SF = FieldMapping.Direction.TO_CM, FieldMapping.Direction.TO_SF
INTERESTS = ("Baking", "Cycling", "Hiking", "Music", "Travel")
# Fields a customer adds to Contact and Lead to receive the list's custom fields.
CUSTOM_FIELDS = {
    "Website__c": {"label": "Website", "type": "Url"},
    "Age__c": {"label": "Age", "type": "Number", "precision": 3, "scale": 0},
    "Birthday__c": {"label": "Birthday", "type": "Date"},
    "Interests__c": {
        "label": "Interests",
        "type": "MultiselectPicklist",
        "visibleLines": 4,
        "valueSet": {
            "restricted": True,
            "valueSetDefinition": {"value": [{"fullName": v} for v in INTERESTS]},
        },
    },
}


@pytest.fixture
def fields_world(world):
    for sobject in ("Contact", "Lead"):
        for name, metadata in CUSTOM_FIELDS.items():
            world.custom_field(f"{sobject}.{name}", metadata)
    return world


def mapping(list_id, key, cm_type, direction, contact="", lead="", **extra) -> FieldMapping:
    return FieldMapping.objects.create(
        list_id=list_id,
        cm_key=f"[{key}]",
        cm_type=cm_type,
        direction=direction,
        contact_field=contact,
        lead_field=lead,
        **extra,
    )


def cm_fields(world, list_id: str, email: str, *pairs: tuple[str, str]) -> None:
    """Set custom field values in Campaign Monitor (the subscriber's state stays as it is)."""
    api = Connection.current().api()
    subscriber = NewSubscriber(email, name=None, custom_fields=pairs)
    api.update_subscriber(list_id, email, subscriber)


def cm_values(list_id: str, email: str) -> dict[str, list[str]]:
    api = Connection.current().api()
    found: dict[str, list[str]] = {}
    for item in api.get(f"subscribers/{list_id}.json", {"email": email})["CustomFields"]:
        found.setdefault(item["Key"], []).append(item["Value"])
    return found


def record(world, record_id: str, fields: str, sobject: str = "Contact") -> dict:
    (row,) = world.gateway.query(f"SELECT {fields} FROM {sobject} WHERE Id = '{record_id}'")
    return row


def person(world, email: str, sobject: str = "Contact", **fields) -> str:
    values = {"LastName": "Test", "Email": email, **fields}
    if sobject == "Lead":
        values["Company"] = "Test Co"
    (result,) = world.gateway.create(sobject, [values])
    assert result.success, result.errors
    return result.id


def cm_puts(world) -> int:
    return world.cm.request_counts().get("PUT /subscribers/{id}.json", 0)


# -- Salesforce → Campaign Monitor: the values -------------------------------------------------


def unsaved(key, cm_type, contact="", lead="", **extra) -> FieldMapping:
    return FieldMapping(
        list_id="L",
        cm_key=f"[{key}]",
        cm_type=cm_type,
        direction=TO_CM,
        contact_field=contact,
        lead_field=lead,
        **extra,
    )


def test_salesforce_values_become_campaign_monitor_values_by_type():
    assert cm_value("Number", 42.0) == ["42"]
    assert cm_value("Number", 3.50) == ["3.5"]
    assert cm_value("Date", "1980-05-17") == ["1980/05/17"]
    assert cm_value("Date", "2026-01-31T23:30:00.000+0000") == ["2026/01/31"]
    assert cm_value("Date", date(2026, 2, 1)) == ["2026/02/01"]
    assert cm_value("MultiSelectMany", "Cycling;Travel") == ["Cycling", "Travel"]
    assert cm_value("MultiSelectOne", "Web") == ["Web"]
    assert cm_value("Text", True) == ["true"]
    assert cm_value("Text", "") == [] and cm_value("Number", None) == []


def test_to_cm_fields_maps_each_sobject_with_defaults_and_create_only():
    mappings = [
        unsaved("website", "Text", "Website__c", "Website__c", default_value="https://none"),
        unsaved("age", "Number", "Age__c", ""),
        unsaved("interests", "MultiSelectMany", "Interests__c", "Interests__c"),
        unsaved("Country", "Country", "MailingCountry", "Country", create_only=True),
    ]
    values = {"Age__c": 37.0, "Interests__c": "Music;Travel", "MailingCountry": "Ireland"}

    new = to_cm_fields("L", "Contact", values, new=True, mappings=mappings)
    assert new == (
        ("website", "https://none"),
        ("age", "37"),
        ("interests", "Music"),
        ("interests", "Travel"),
        ("Country", "Ireland"),
    )
    again = to_cm_fields("L", "Contact", values, new=False, mappings=mappings)
    assert ("Country", "Ireland") not in again  # create-only: new subscribers only
    lead = to_cm_fields("L", "Lead", {"Interests__c": None}, new=False, mappings=mappings)
    assert lead == (("website", "https://none"),)
    cleared = to_cm_fields(
        "L", "Lead", {"Interests__c": None}, new=False, clear_blanks=True, mappings=mappings
    )
    assert ("interests", "") in cleared
    assert sf_fields("L", "Lead", mappings) == ["Country", "Interests__c", "Website__c"]


def test_salesforce_field_names_match_whatever_their_case():
    mappings = [unsaved("age", "Number", "age__c")]
    assert to_cm_fields("L", "Contact", {"Age__c": 5}, new=True, mappings=mappings) == (
        ("age", "5"),
    )


# -- Salesforce → Campaign Monitor: on change --------------------------------------------------


@pytest.fixture
def watching(fields_world):
    from sync import change_poll

    change_poll.poll()
    react(fields_world)
    return fields_world


def test_a_contact_edit_updates_the_custom_fields_on_its_lists_and_no_state(watching):
    world = watching
    world.subscriber(world.list_a, "ann@example.com", "Active")
    world.subscriber(world.list_b, "ann@example.com", "Unsubscribed")
    world.cm.set_subscriber(world.list_a, "ann@example.com", "Active", name="Ann Smith")
    for list_id in (world.list_a, world.list_b):
        mapping(list_id, "age", "Number", TO_CM, contact="Age__c")
        mapping(list_id, "interests", "MultiSelectMany", TO_CM, contact="Interests__c")
        mapping(list_id, "Country", "Country", TO_CM, contact="MailingCountry", create_only=True)
    world.sync()
    ann = person(world, "ann@example.com")
    react(world)

    set_fields(world, ann, Age__c=37, Interests__c="Cycling;Travel", MailingCountry="Ireland")
    run = react(world)

    assert run.counts["field_mappings"]["written"] == 2
    for list_id in (world.list_a, world.list_b):
        values = cm_values(list_id, "ann@example.com")
        assert values["age"] == ["37"] and values["interests"] == ["Cycling", "Travel"]
        assert "Country" not in values  # create-only: not on a change
    assert cm_state(world, world.list_a, "ann@example.com") == "Active"
    assert cm_state(world, world.list_b, "ann@example.com") == "Unsubscribed"
    api = Connection.current().api()
    details = api.get(f"subscribers/{world.list_a}.json", {"email": "ann@example.com"})
    assert details["Name"] == "Ann Smith"  # not a custom field: left alone


def test_an_edit_that_leaves_mapped_values_alone_sends_nothing(watching):
    world = watching
    world.subscriber(world.list_a, "bea@example.com", "Active")
    mapping(world.list_a, "age", "Number", TO_CM, contact="Age__c")
    world.sync()
    bea = person(world, "bea@example.com", Age__c=40)
    react(world)
    assert cm_values(world.list_a, "bea@example.com")["age"] == ["40"]
    before = cm_puts(world)

    set_fields(world, bea, LastName="Renamed")
    run = react(world)

    assert cm_puts(world) == before
    assert run.counts["field_mappings"]["unchanged"] == 1


def test_a_value_blanked_in_salesforce_clears_what_cmsync_sent(watching):
    world = watching
    world.subscriber(world.list_a, "cat@example.com", "Active")
    cm_fields(world, world.list_a, "cat@example.com", ("website", "https://cat.example"))
    mapping(world.list_a, "age", "Number", TO_CM, contact="Age__c")
    world.sync()
    cat = person(world, "cat@example.com", Age__c=51)
    react(world)
    assert cm_values(world.list_a, "cat@example.com")["age"] == ["51"]

    set_fields(world, cat, Age__c=None)
    react(world)

    values = cm_values(world.list_a, "cat@example.com")
    assert "age" not in values and values["website"] == ["https://cat.example"]


def test_a_lead_edit_uses_the_lead_field_and_the_default(watching):
    world = watching
    world.subscriber(world.list_a, "leo@example.com", "Active")
    mapping(world.list_a, "website", "Text", TO_CM, lead="Website__c", default_value="none")
    world.sync()
    leo = person(world, "leo@example.com", "Lead")
    react(world)
    assert cm_values(world.list_a, "leo@example.com")["website"] == ["none"]

    set_fields(world, leo, "Lead", Website__c="https://leo.example")
    react(world)
    assert cm_values(world.list_a, "leo@example.com")["website"] == ["https://leo.example"]


# -- Campaign Monitor → Salesforce: the primary sync -------------------------------------------


def to_sf_mappings(list_id: str) -> None:
    mapping(list_id, "website", "Text", TO_SF, contact="Website__c", lead="Website__c")
    mapping(list_id, "age", "Number", TO_SF, contact="Age__c", lead="Age__c")
    mapping(list_id, "birthday", "Date", TO_SF, contact="Birthday__c")
    mapping(list_id, "interests", "MultiSelectMany", TO_SF, contact="Interests__c")


def test_the_primary_sync_writes_text_number_date_and_multi_select(fields_world):
    world = fields_world
    to_sf_mappings(world.list_a)
    world.subscriber(world.list_a, "dan@example.com", "Active")
    cm_fields(
        world,
        world.list_a,
        "dan@example.com",
        ("website", "https://dan.example"),
        ("age", "42"),
        ("birthday", "1980/05/17"),
        ("interests", "Cycling"),
        ("interests", "Travel"),
    )
    dan = person(world, "dan@example.com")
    lead = person(world, "dan@example.com", "Lead")

    run = world.sync()

    row = record(world, dan, "Website__c, Age__c, Birthday__c, Interests__c")
    assert row["Website__c"] == "https://dan.example" and row["Age__c"] == 42
    assert row["Birthday__c"] == "1980-05-17"
    assert set(row["Interests__c"].split(";")) == {"Cycling", "Travel"}
    lead_row = record(world, lead, "Website__c, Age__c", "Lead")
    assert (lead_row["Website__c"], lead_row["Age__c"]) == ("https://dan.example", 42)
    assert run.counts["field_mappings"]["written"] == 2
    assert run.status == SyncRun.Status.SUCCEEDED


def test_only_differing_values_are_written_and_a_quiet_run_writes_nothing(fields_world):
    world = fields_world
    to_sf_mappings(world.list_a)
    world.subscriber(world.list_a, "eve@example.com", "Active")
    cm_fields(world, world.list_a, "eve@example.com", ("age", "42"), ("website", "https://e.x"))
    same = person(world, "eve@example.com", Age__c=42, Website__c="https://e.x")
    world.subscriber(world.list_a, "fay@example.com", "Active")
    cm_fields(world, world.list_a, "fay@example.com", ("age", "30"), ("website", "https://f.x"))
    fay = person(world, "fay@example.com", Age__c=29, Website__c="https://f.x", Title="Keep")

    first = world.sync()
    assert first.counts["field_mappings"]["written"] == 1
    assert first.counts["field_mappings"]["unchanged"] == 1
    assert record(world, fay, "Age__c, Title")["Age__c"] == 30
    assert record(world, same, "Age__c")["Age__c"] == 42

    quiet = world.sync(full=True)  # reads every subscriber again
    assert quiet.counts["field_mappings"]["written"] == 0
    assert quiet.counts["field_mappings"]["unchanged"] == 2


def test_a_blank_value_takes_the_default_and_create_only_fills_empty_fields(fields_world):
    world = fields_world
    mapping(world.list_a, "website", "Text", TO_SF, contact="Website__c", default_value="n/a")
    mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c", create_only=True)
    for email in ("gil@example.com", "hal@example.com"):
        world.subscriber(world.list_a, email, "Active")
        cm_fields(world, world.list_a, email, ("age", "55"))
    gil = person(world, "gil@example.com")
    hal = person(world, "hal@example.com", Age__c=30)

    world.sync()

    gil_row, hal_row = record(world, gil, "Website__c, Age__c"), record(world, hal, "Age__c")
    assert (gil_row["Website__c"], gil_row["Age__c"]) == ("n/a", 55)
    assert hal_row["Age__c"] == 30  # create-only: a field with a value is left alone


def test_the_most_recently_modified_contact_gets_the_values(fields_world):
    world = fields_world
    mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    world.subscriber(world.list_a, "ida@example.com", "Active")
    cm_fields(world, world.list_a, "ida@example.com", ("age", "61"))
    older = person(world, "ida@example.com")
    newer = person(world, "IDA@example.com")
    world.sf.advance_clock(1)  # Salesforce's stamps are whole seconds: later is a later second
    set_fields(world, newer, Title="touched later")

    world.sync()

    assert record(world, newer, "Age__c")["Age__c"] == 61
    assert record(world, older, "Age__c")["Age__c"] is None


def test_a_restricted_picklist_refusal_becomes_a_message_and_the_rest_is_written(fields_world):
    """The seed's example: a country Salesforce's picklist does not have."""
    world = fields_world
    mapping(world.list_a, "Country", "Country", TO_SF, contact="MailingCountry", lead="Country")
    mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    world.subscriber(world.list_a, "jo@example.com", "Active")
    cm_fields(world, world.list_a, "jo@example.com", ("Country", "Narnia"), ("age", "33"))
    world.subscriber(world.list_a, "kim@example.com", "Active")
    cm_fields(world, world.list_a, "kim@example.com", ("Country", "Ireland"))
    jo = person(world, "jo@example.com")
    kim = person(world, "kim@example.com")

    run = world.sync()

    assert record(world, jo, "Age__c")["Age__c"] == 33
    assert record(world, jo, "MailingCountry")["MailingCountry"] is None
    assert record(world, kim, "MailingCountry")["MailingCountry"] == "Ireland"
    (message,) = Message.objects.filter(run=run)
    assert message.code == "SF_RESTRICTED_PICKLIST" and message.step == "field_mappings"
    assert message.record["fields"] == {"Id": jo, "MailingCountry": "Narnia"}
    assert message.retryable
    assert message.client_id == world.client["ClientID"]
    assert run.status == SyncRun.Status.PARTIAL
    assert run.counts["field_mappings"]["failed"] == 1
    assert run.counts["field_mappings"]["written"] == 2


def test_a_value_that_cannot_fit_is_reported_and_skipped(fields_world):
    world = fields_world
    mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    mapping(world.list_a, "website", "Text", TO_SF, contact="Website__c")
    world.subscriber(world.list_a, "lou@example.com", "Active")
    cm_fields(world, world.list_a, "lou@example.com", ("age", "forty"), ("website", "https://l"))
    lou = person(world, "lou@example.com")

    run = world.sync()

    assert record(world, lou, "Website__c")["Website__c"] == "https://l"
    (message,) = Message.objects.filter(run=run)
    assert message.code == "CM_FIELD_VALUE_INVALID" and "forty" in message.upstream_message


def test_a_mapping_to_a_deleted_field_is_reported_once_and_the_run_goes_on(fields_world):
    world = fields_world
    mapping(world.list_a, "age", "Number", TO_SF, contact="Gone__c")
    mapping(world.list_a, "website", "Text", TO_SF, contact="Website__c")
    for n in range(2):
        world.subscriber(world.list_a, f"m{n}@example.com", "Active")
        cm_fields(world, world.list_a, f"m{n}@example.com", ("age", "1"), ("website", "w"))
        person(world, f"m{n}@example.com")

    run = world.sync()

    assert run.counts["field_mappings"]["written"] == 2
    (message,) = Message.objects.filter(run=run)
    assert message.code == "FIELD_MAPPING_BROKEN" and "Gone__c" in message.summary


def test_fields_written_by_the_sync_do_not_touch_states_or_opt_out(fields_world):
    """The "Salesforce changes" run sees the primary sync's writes; it sends custom fields
    at most, never a state."""
    world = fields_world
    from sync import change_poll

    change_poll.poll()
    react(world)
    mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    mapping(world.list_a, "website", "Text", TO_CM, contact="Website__c")
    world.subscriber(world.list_a, "max@example.com", "Unsubscribed")
    cm_fields(world, world.list_a, "max@example.com", ("age", "44"))
    mx = person(world, "max@example.com", Website__c="https://max")

    world.sync()
    assert record(world, mx, "Age__c, HasOptedOutOfEmail")["Age__c"] == 44
    opted_out = record(world, mx, "HasOptedOutOfEmail")["HasOptedOutOfEmail"]
    run = react(world)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert cm_state(world, world.list_a, "max@example.com") == "Unsubscribed"
    assert record(world, mx, "HasOptedOutOfEmail")["HasOptedOutOfEmail"] == opted_out
    assert cm_values(world.list_a, "max@example.com")["age"] == ["44"]


# -- the type check ----------------------------------------------------------------------------


def info(name, type_, updateable=True, picklist=(), restricted=False) -> FieldInfo:
    return FieldInfo(
        name=name,
        type=type_,
        label=name,
        updateable=updateable,
        createable=updateable,
        restricted_picklist=restricted,
        picklist_values=tuple(picklist),
    )


SF_FIELDS = [
    info("Title", "string"),
    info("Email", "email"),
    info("HasOptedOutOfEmail", "boolean"),
    info("Age__c", "double"),
    info("Count__c", "int"),
    info("Birthday__c", "date"),
    info("Subscribed__c", "boolean"),
    info("Interests__c", "multipicklist", picklist=INTERESTS, restricted=True),
    info("MailingCountry", "picklist", picklist=("Ireland", "Japan"), restricted=True),
    info("CreatedDate", "datetime", updateable=False),
]
DESCRIBE = ObjectInfo(
    "Contact", "Contact", True, True, fields={f.name.lower(): f for f in SF_FIELDS}
)
CM_FIELDS = [
    CustomField("website", "[website]", "Text"),
    CustomField("age", "[age]", "Number"),
    CustomField("birthday", "[birthday]", "Date"),
    CustomField("interests", "[interests]", "MultiSelectMany", INTERESTS),
    CustomField("level", "[level]", "MultiSelectOne", ("Gold", "Silver")),
    CustomField("Country", "[Country]", "Country"),
]


def form(direction=TO_SF, **data) -> FieldMappingForm:
    return FieldMappingForm(
        {"direction": direction, **data},
        list_id="L1",
        cm_fields=CM_FIELDS,
        describes={"Contact": DESCRIBE, "Lead": DESCRIBE},
    )


@pytest.mark.parametrize(
    ("cm_key", "direction", "field", "words"),
    [
        ("[age]", TO_SF, "Birthday__c", "number field cannot be mapped into"),
        ("[birthday]", TO_CM, "Age__c", "date field cannot be mapped from"),
        ("[birthday]", TO_SF, "Subscribed__c", "checkbox"),
        ("[interests]", TO_SF, "Count__c", "multiple choice field cannot"),
        ("[interests]", TO_CM, "Age__c", "multiple choice field cannot"),
        ("[Country]", TO_SF, "Birthday__c", "country field cannot"),
        ("[website]", TO_SF, "CreatedDate", "date/time"),
        ("[birthday]", TO_SF, "CreatedDate", "read-only"),
        ("[website]", TO_SF, "Email", "kept by cmsync"),
        ("[level]", TO_SF, "HasOptedOutOfEmail", "kept by cmsync"),
    ],
)
def test_impossible_pairs_are_refused(cm_key, direction, field, words):
    checked = form(direction, cm_key=cm_key, contact_field=field)
    assert not checked.is_valid()
    assert words in " ".join(checked.errors["contact_field"])


@pytest.mark.parametrize(
    ("cm_key", "direction", "field"),
    [
        ("[age]", TO_SF, "Age__c"),
        ("[age]", TO_CM, "Count__c"),
        ("[birthday]", TO_SF, "Birthday__c"),
        ("[birthday]", TO_CM, "CreatedDate"),
        ("[interests]", TO_SF, "Interests__c"),
        ("[website]", TO_CM, "Age__c"),
        ("[Country]", TO_SF, "MailingCountry"),
        ("[level]", TO_SF, "Subscribed__c"),
        ("[website]", TO_CM, "Email"),
    ],
)
def test_fitting_pairs_are_saved(cm_key, direction, field):
    checked = form(direction, cm_key=cm_key, contact_field=field, lead_field=field)
    assert checked.is_valid(), checked.errors
    saved = checked.save()
    key = cm_key.strip("[]")
    expected_type = next(f.data_type for f in CM_FIELDS if f.key == cm_key)
    assert (saved.list_id, saved.key, saved.cm_type) == ("L1", key, expected_type)


@pytest.mark.parametrize(
    ("cm_key", "direction", "field", "default", "words"),
    [
        ("[age]", TO_SF, "Age__c", "many", "not a number"),
        ("[birthday]", TO_CM, "Birthday__c", "31/12/2020", "not a date"),
        ("[level]", TO_CM, "Title", "Bronze", "not one of the field's options"),
        ("[interests]", TO_SF, "Interests__c", "Music;Knitting", "not one of the field's"),
        ("[Country]", TO_SF, "MailingCountry", "Narnia", "not a value of the Contact field"),
        ("[age]", TO_SF, "Count__c", "2.5", "not a whole number"),
    ],
)
def test_a_default_must_fit_the_types(cm_key, direction, field, default, words):
    checked = form(direction, cm_key=cm_key, contact_field=field, default_value=default)
    assert not checked.is_valid()
    assert words in " ".join(checked.errors["default_value"])


def test_one_mapping_per_field_and_one_source_per_salesforce_field():
    first = form(cm_key="[website]", contact_field="Title")
    assert first.is_valid() and first.save()
    again = form(TO_CM, cm_key="[website]", contact_field="Title")
    assert not again.is_valid() and "already mapped" in " ".join(again.errors["cm_key"])
    clash = form(cm_key="[level]", contact_field="Title")
    assert not clash.is_valid() and "already writes" in " ".join(clash.errors["contact_field"])
    nothing = form(cm_key="[website]")
    assert not nothing.is_valid() and "Contact field, a Lead field" in str(nothing.errors)


def test_field_types_compare_values_as_salesforce_keeps_them():
    multi = info("M", "multipicklist")
    assert field_types.same(multi, "Travel;Music", "Music;Travel")
    assert field_types.same(info("N", "double"), 42.0, 42)
    assert field_types.same(info("D", "datetime"), "1980-05-17T00:00:00.000+0000", "1980-05-17")
    assert not field_types.same(info("T", "string"), None, "x")
    assert field_types.to_sf_value(info("B", "boolean"), ["Yes"]) is True
    with pytest.raises(field_types.BadValue):
        field_types.to_sf_value(info("D", "date"), ["2020-02-30"])


def test_the_salesforce_emulator_refuses_unknown_countries_and_interests(fields_world):
    world = fields_world
    contact = person(world, "pat@example.com")
    (bad,) = world.gateway.update("Contact", [{"Id": contact, "MailingCountry": "Narnia"}])
    assert bad.errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert bad.errors[0].fields == ("MailingCountry",)
    (bad,) = world.gateway.update("Contact", [{"Id": contact, "Interests__c": "Music;Knitting"}])
    assert bad.errors[0].status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    (good,) = world.gateway.update("Contact", [{"Id": contact, "Interests__c": "Music;Travel"}])
    assert good.success
    described = world.gateway.describe("Contact")
    assert described.field("Interests__c").type == "multipicklist"
    assert described.field("MailingCountry").restricted_picklist


def test_the_client_reads_a_lists_custom_fields(world):
    fields = Connection.current().api().custom_fields(world.list_a)
    by_key = {f.key: f for f in fields}
    assert by_key["[Country]"] == CustomField("Country", "[Country]", "Country", (), True)
    assert by_key["[interests]"].data_type == "MultiSelectMany"
    assert by_key["[interests]"].options == INTERESTS and by_key["[age]"].bare_key == "age"


# -- the page ----------------------------------------------------------------------------------


def page(world) -> str:
    return reverse("subscriptions-fields", args=[world.list_a])


def test_full_access_adds_a_mapping_from_the_live_fields(fields_world, alice_client):
    world = fields_world
    response = alice_client.get(page(world))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Country (country)" in body and "Interests (Interests__c, multi-select picklist)" in body

    response = alice_client.post(
        page(world),
        {
            "cm_key": "[Country]",
            "direction": TO_SF,
            "contact_field": "MailingCountry",
            "lead_field": "Country",
        },
    )
    assert response.status_code == 302
    saved = FieldMapping.objects.get(list_id=world.list_a)
    assert (saved.cm_type, saved.contact_field, saved.lead_field) == (
        "Country",
        "MailingCountry",
        "Country",
    )


def test_the_page_refuses_an_impossible_pair_with_words(fields_world, alice_client):
    world = fields_world
    response = alice_client.post(
        page(world), {"cm_key": "[age]", "direction": TO_SF, "contact_field": "Birthday__c"}
    )
    assert response.status_code == 200
    assert "cannot be mapped into" in response.content.decode()
    assert not FieldMapping.objects.exists()


def test_full_access_edits_and_deletes(fields_world, alice_client):
    world = fields_world
    saved = mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    edit = reverse("subscriptions-field-edit", args=[world.list_a, saved.pk])
    response = alice_client.post(
        edit,
        {"cm_key": "[age]", "direction": TO_SF, "contact_field": "Age__c", "lead_field": "Age__c"},
    )
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.lead_field == "Age__c"
    delete = reverse("subscriptions-field-delete", args=[world.list_a, saved.pk])
    assert alice_client.post(delete).status_code == 302
    assert not FieldMapping.objects.exists()


@pytest.mark.parametrize("persona", ["bob_client", "carol_client"])
def test_other_roles_see_the_mappings_but_cannot_change_them(fields_world, persona, request):
    world = fields_world
    client = request.getfixturevalue(persona)
    saved = mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    response = client.get(page(world))
    assert response.status_code == 200
    body = response.content.decode()
    assert "[age]" in body and "Add mapping" not in body and "Changing them needs" in body
    assert client.post(page(world), {"cm_key": "[website]"}).status_code == 403
    edit = reverse("subscriptions-field-edit", args=[world.list_a, saved.pk])
    delete = reverse("subscriptions-field-delete", args=[world.list_a, saved.pk])
    assert client.get(edit).status_code == 403
    assert client.post(delete).status_code == 403
    assert FieldMapping.objects.count() == 1


def test_no_role_no_page(fields_world, mallory_client):
    assert mallory_client.get(page(fields_world)).status_code == 403


def test_a_list_of_a_client_the_user_does_not_own_is_not_found(fields_world, alice, alice_client):
    world = fields_world
    ClientOwnership.objects.create(user=alice, client_id=world.other_client["ClientID"])
    assert alice_client.get(page(world)).status_code == 404
    assert alice_client.get(reverse("subscriptions-fields", args=["nope"])).status_code == 404


def test_without_a_salesforce_sync_user_the_page_says_so(fields_world, alice_client):
    world = fields_world
    SalesforceSettings.objects.update(sync_user=None)
    mapping(world.list_a, "age", "Number", TO_SF, contact="Age__c")
    response = alice_client.get(page(world))
    body = response.content.decode()
    assert response.status_code == 200 and "Salesforce fields cannot be read" in body
    assert "[age]" in body and "Add mapping" not in body
