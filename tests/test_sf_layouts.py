"""cmsync's page layout additions (salesforce/layouts.py) and the removal of its schema
(schema.remove), against the Salesforce emulator over real HTTP."""

import pytest

from salesforce import layouts, schema
from salesforce.errors import SalesforceError

CONSOLE = "https://cmsync.example.com"
OBJECTS = ("Contact", "Lead", "Campaign")


def layout(gateway, object_name: str) -> dict:
    """The Metadata of an object's standard page layout."""
    (row,) = gateway.tooling_query(
        f"SELECT Id FROM Layout WHERE TableEnumOrId = '{object_name}' "
        f"AND Name = '{object_name} Layout'"
    )
    return gateway.tooling_get("Layout", row["Id"])["Metadata"]


def all_layouts(gateway) -> dict[str, dict]:
    return {name: layout(gateway, name) for name in OBJECTS}


def fields(metadata: dict, section: str | None = None) -> list[str]:
    return [
        item["field"]
        for s in metadata["layoutSections"]
        if section is None or s["label"] == section
        for column in s["layoutColumns"]
        for item in column["layoutItems"]
        if item.get("field")
    ]


def related_lists(metadata: dict) -> list[str]:
    return [entry["relatedList"] for entry in metadata["relatedLists"]]


def web_links(gateway) -> list[dict]:
    return gateway.tooling_query(
        "SELECT Id, Name, EntityDefinitionId FROM WebLink "
        "WHERE EntityDefinitionId IN ('Contact', 'Lead', 'Campaign')"
    )


def writes(emulator) -> dict[str, int]:
    return {k: v for k, v in emulator.request_counts().items() if not k.startswith("GET ")}


def test_installing_layouts_before_the_schema_fails_clearly(sf_emulator, sf_gateway):
    sf_emulator.reset_request_counts()
    with pytest.raises(SalesforceError) as excinfo:
        layouts.install(sf_gateway, CONSOLE)
    assert excinfo.value.code == "SCHEMA_NOT_INSTALLED"
    assert excinfo.value.message.startswith("Install cmsync's custom objects and fields")
    assert "CM_Email_Tracking__c.CM_Contact__c" in excinfo.value.message
    assert writes(sf_emulator) == {}
    assert [s.installed for s in layouts.status(sf_gateway)] == [False] * len(layouts.components())
    assert web_links(sf_gateway) == []


def test_install_adds_buttons_fields_and_related_lists(sf_gateway):
    schema.install(sf_gateway)
    before = all_layouts(sf_gateway)
    added = layouts.install(sf_gateway, CONSOLE + "/")
    assert added == list(layouts.components())
    assert {c.kind for c in added} == {"button", "field", "related_list"}
    statuses = layouts.status(sf_gateway)
    assert [(s.installed, s.problem) for s in statuses] == [(True, "")] * len(statuses)

    after = all_layouts(sf_gateway)
    for person in ("Contact", "Lead"):
        metadata = after[person]
        assert metadata["customButtons"] == ["CM_Open_Campaign_Monitor"]
        assert related_lists(metadata) == [
            *related_lists(before[person]),
            f"CM_Email_Tracking__c.CM_{person}__c",
            f"CM_List_Membership__c.CM_{person}__c",
        ]
        assert fields(metadata) == fields(before[person])
    campaign = after["Campaign"]
    labels = [s["label"] for s in campaign["layoutSections"]]
    assert labels.index("Campaign Monitor") == labels.index("System Information") - 1
    assert sorted(fields(campaign, "Campaign Monitor")) == sorted(
        c.name for c in layouts.components() if c.kind == "field"
    )
    section = next(s for s in campaign["layoutSections"] if s["label"] == "Campaign Monitor")
    assert {i["behavior"] for c in section["layoutColumns"] for i in c["layoutItems"]} == {
        "Readonly"
    }
    assert related_lists(campaign)[-1] == "CM_Email_Tracking__c.CM_Campaign__c"
    assert campaign["customButtons"] == []

    links = {row["EntityDefinitionId"]: row for row in web_links(sf_gateway)}
    assert sorted(links) == ["Contact", "Lead"]
    contact_link = sf_gateway.tooling_get("WebLink", links["Contact"]["Id"])
    assert contact_link["FullName"] == "Contact.CM_Open_Campaign_Monitor"
    assert contact_link["Metadata"]["url"] == (
        "https://cmsync.example.com/campaign-monitor/open/?email={!Contact.Email}&id={!Contact.Id}"
    )
    assert contact_link["Metadata"]["displayType"] == "button"


def test_install_twice_adds_nothing(sf_emulator, sf_gateway):
    schema.install(sf_gateway)
    layouts.install(sf_gateway, CONSOLE)
    installed = all_layouts(sf_gateway)
    sf_emulator.reset_request_counts()
    assert layouts.install(sf_gateway, CONSOLE) == []
    assert writes(sf_emulator) == {}
    assert all_layouts(sf_gateway) == installed
    assert len(web_links(sf_gateway)) == 2


def test_a_moved_console_gets_new_button_urls(sf_gateway):
    schema.install(sf_gateway)
    layouts.install(sf_gateway, CONSOLE)
    changed = layouts.install(sf_gateway, "https://sync.example.org/cmsync")
    assert [(c.kind, c.object_name) for c in changed] == [("button", "Contact"), ("button", "Lead")]
    for row in web_links(sf_gateway):
        url = sf_gateway.tooling_get("WebLink", row["Id"])["Metadata"]["url"]
        assert url.startswith("https://sync.example.org/cmsync/campaign-monitor/open/?email=")


def test_remove_takes_everything_off_and_deletes_the_buttons(sf_gateway):
    schema.install(sf_gateway)
    original = all_layouts(sf_gateway)
    layouts.install(sf_gateway, CONSOLE)
    removed = layouts.remove(sf_gateway)
    assert removed == list(layouts.components())
    statuses = layouts.status(sf_gateway)
    assert [(s.installed, s.problem) for s in statuses] == [(False, "")] * len(statuses)
    assert web_links(sf_gateway) == []
    assert all_layouts(sf_gateway) == original  # the empty Campaign Monitor section goes too
    assert layouts.remove(sf_gateway) == []
    assert layouts.install(sf_gateway, CONSOLE) == list(layouts.components())


def test_a_button_taken_off_its_layout_is_reported(sf_gateway):
    schema.install(sf_gateway)
    layouts.install(sf_gateway, CONSOLE)
    (row,) = sf_gateway.tooling_query("SELECT Id FROM Layout WHERE Name = 'Lead Layout'")
    metadata = sf_gateway.tooling_get("Layout", row["Id"])["Metadata"]
    sf_gateway.tooling_update("Layout", row["Id"], {"Metadata": metadata | {"customButtons": []}})
    (lead_button,) = [
        s
        for s in layouts.status(sf_gateway)
        if s.component.kind == "button" and s.component.object_name == "Lead"
    ]
    assert not lead_button.installed and lead_button.problem == "The button is not on Lead Layout"
    assert [(c.kind, c.object_name) for c in layouts.install(sf_gateway, CONSOLE)] == [
        ("button", "Lead")
    ]


def test_schema_remove_deletes_fields_and_objects_with_their_data(sf_gateway):
    schema.install(sf_gateway)
    layouts.install(sf_gateway, CONSOLE)
    (result,) = sf_gateway.create("CM_Subscriber_List__c", [{"Name": "Newsletter"}])
    assert result.success

    removed = schema.remove(sf_gateway)
    on_standard = [
        c.full_name
        for c in schema.components()
        if c.kind == "CustomField" and not c.object_name.endswith("__c")
    ]
    assert removed == [
        *on_standard,
        "CM_Email_Tracking__c",
        "CM_List_Membership__c",
        "CM_Subscriber_List__c",
    ]
    assert schema.missing(sf_gateway) == list(schema.components())
    for name in ("CM_Email_Tracking__c", "CM_List_Membership__c", "CM_Subscriber_List__c"):
        with pytest.raises(SalesforceError) as excinfo:
            list(sf_gateway.query(f"SELECT Id FROM {name}"))
        assert excinfo.value.code == "INVALID_TYPE"
    with pytest.raises(SalesforceError) as excinfo:
        list(sf_gateway.query("SELECT CM_Clicks__c FROM Campaign"))
    assert excinfo.value.code == "INVALID_FIELD"

    # Salesforce took the deleted fields and related lists off the layouts; buttons stay.
    state = {(s.component.kind, s.component.object_name): [] for s in layouts.status(sf_gateway)}
    for s in layouts.status(sf_gateway):
        state[(s.component.kind, s.component.object_name)].append(s.installed)
    assert state[("button", "Contact")] == [True] and state[("button", "Lead")] == [True]
    assert not any(state[("field", "Campaign")] + state[("related_list", "Contact")])
    assert "Campaign Monitor" in [
        s["label"] for s in layout(sf_gateway, "Campaign")["layoutSections"]
    ]

    assert schema.remove(sf_gateway) == []
    assert len(schema.install(sf_gateway)) == len(schema.components())
    readded = layouts.install(sf_gateway, CONSOLE)
    assert {c.kind for c in readded} == {"field", "related_list"}
    assert list(sf_gateway.query("SELECT Id FROM CM_Subscriber_List__c")) == []
