"""Page layouts and custom buttons (WebLinks), through the Tooling API.

Every seed has Salesforce's standard page layout for Contact, Lead and Campaign ("Contact
Layout", ...), and a custom object gets "<Label> Layout" when it is installed, as in an org.
A Layout's Metadata is Salesforce's Layout metadata: layoutSections > layoutColumns >
layoutItems {field, behavior}, relatedLists {relatedList, fields}, customButtons, ...

An update (PATCH) is checked the way Salesforce checks a layout: every field must exist on the
object (once), every related list must be one the object has (a custom one is named
"<ChildObject>.<LookupField>"), every custom button must be a WebLink of the object shown as a
button. Deleting a custom field or object takes it off the layouts, as Salesforce does; a
custom button still on a layout cannot be deleted.
"""

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulators.salesforce.errors import SfError, not_found
from emulators.salesforce.schema import CUSTOMIZABLE, NAME_RE, Field, SObject

if TYPE_CHECKING:
    from emulators.salesforce.tooling import Tooling

BEHAVIORS = ("Edit", "Required", "Readonly")
SECTION_STYLES = ("OneColumn", "TwoColumnsTopToBottom", "TwoColumnsLeftToRight", "CustomLinks")
DISPLAY_TYPES = ("link", "button", "massActionButton")
LINK_TYPES = ("url", "javascript", "page", "sControl", "flow")
OPEN_TYPES = ("newWindow", "sidebar", "noSidebar", "replace", "onClickJavaScript")
_FILES_AND_NOTES = ("RelatedNoteList", "RelatedContentNoteList", "RelatedFileList")
_ACTIVITIES = ("RelatedActivityList", "RelatedHistoryList")
STANDARD_RELATED_LISTS = {
    "Account": (
        *_ACTIVITIES,
        *_FILES_AND_NOTES,
        "RelatedContactList",
        "RelatedOpportunityList",
        "RelatedCaseList",
        "RelatedEntityHistoryList",
    ),
    "Contact": (
        *_ACTIVITIES,
        *_FILES_AND_NOTES,
        "RelatedCampaignList",
        "RelatedEmailStatusList",
        "RelatedEntityHistoryList",
    ),
    "Lead": (
        *_ACTIVITIES,
        *_FILES_AND_NOTES,
        "RelatedCampaignList",
        "RelatedEmailStatusList",
        "RelatedEntityHistoryList",
    ),
    "Campaign": (
        *_ACTIVITIES,
        *_FILES_AND_NOTES,
        "RelatedCampaignMemberList",
        "RelatedCampaignHierarchyList",
        "RelatedOpportunityList",
    ),
}
CUSTOM_OBJECT_RELATED_LISTS = (*_FILES_AND_NOTES, "RelatedEntityHistoryList")


def _integrity(message: str) -> SfError:
    return SfError("FIELD_INTEGRITY_EXCEPTION", message, [])


def _missing(name: str) -> SfError:
    return SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])


def _parser(message: str) -> SfError:
    return SfError("JSON_PARSER_ERROR", message)


# -- the standard layouts --------------------------------------------------------------------


def _section(
    label: str,
    *columns: list[str],
    style: str = "TwoColumnsTopToBottom",
    detail: bool = False,
    behavior: str = "Edit",
) -> dict[str, Any]:
    """A section; a column entry "Name:Required" overrides the section's behavior."""

    def item(entry: str) -> dict[str, Any]:
        name, _, own = entry.partition(":")
        return {"behavior": own or behavior, "field": name}

    return {
        "customLabel": False,
        "detailHeading": detail,
        "editHeading": True,
        "label": label,
        "layoutColumns": [{"layoutItems": [item(e) for e in column]} for column in columns],
        "style": style,
    }


def _closing_sections() -> list[dict[str, Any]]:
    return [
        _section("Description Information", ["Description"], style="OneColumn"),
        _section("System Information", ["CreatedById"], ["LastModifiedById"], behavior="Readonly"),
        {
            "customLabel": False,
            "detailHeading": True,
            "editHeading": False,
            "label": "Custom Links",
            "layoutColumns": [{"layoutItems": []} for _ in range(3)],
            "style": "CustomLinks",
        },
    ]


def _related(name: str, *fields: str) -> dict[str, Any]:
    return {"fields": list(fields), "relatedList": name}


def _person_related_lists(what: bool) -> list[dict[str, Any]]:
    regarding = ["TASK.WHAT_NAME"] if what else []
    return [
        _related(
            "RelatedActivityList",
            "TASK.SUBJECT",
            *regarding,
            "ACTIVITY.TASK",
            "TASK.DUE_DATE",
            "TASK.STATUS",
            "TASK.PRIORITY",
            "CORE.USERS.FULL_NAME",
        ),
        _related(
            "RelatedHistoryList",
            "TASK.SUBJECT",
            *regarding,
            "ACTIVITY.TASK",
            "TASK.DUE_DATE",
            "CORE.USERS.FULL_NAME",
            "TASK.LAST_UPDATE",
        ),
        _related(
            "RelatedCampaignList",
            "CAMPAIGN.NAME",
            "CAMPAIGN.START_DATE",
            "CAMPAIGN.CAMPAIGN_TYPE",
            "CM.STATUS",
            "CM.RESPONDED",
            "CM.LAST_UPDATE",
        ),
        _related("RelatedNoteList"),
    ]


def _layout(sections: list, related: list, run_assignment_rules: bool = False) -> dict[str, Any]:
    return {
        "customButtons": [],
        "excludeButtons": ["Submit"],
        "layoutSections": sections,
        "relatedLists": related,
        "showEmailCheckbox": False,
        "showHighlightsPanel": False,
        "showInteractionLogPanel": False,
        "showRunAssignmentRulesCheckbox": run_assignment_rules,
        "showSubmitAndAttachButton": False,
    }


def standard_layouts() -> dict[str, tuple[str, dict[str, Any]]]:
    """Object name -> (layout name, Layout metadata), as a new Developer Edition org has."""
    contact = _layout(
        [
            _section(
                "Contact Information",
                ["OwnerId", "Name:Required", "AccountId", "Title", "LeadSource"],
                ["Phone", "Email", "HasOptedOutOfEmail"],
            ),
            _section("Address Information", ["MailingCity"], ["MailingCountry"], detail=True),
            *_closing_sections(),
        ],
        _person_related_lists(what=True),
    )
    lead = _layout(
        [
            _section(
                "Lead Information",
                ["OwnerId", "Name:Required", "Company:Required", "Title", "LeadSource"],
                ["Status:Required", "Phone", "Email", "HasOptedOutOfEmail"],
            ),
            _section("Address Information", ["City"], ["Country"], detail=True),
            *_closing_sections(),
        ],
        [*_person_related_lists(what=False)[:3], _related("RelatedEmailStatusList")],
        run_assignment_rules=True,
    )
    campaign = _layout(
        [
            _section(
                "Campaign Information",
                ["OwnerId", "Name:Required", "ParentId", "IsActive", "Type"],
                ["Status", "StartDate", "EndDate"],
            ),
            _section(
                "Planning",
                ["NumberSent"],
                ["ExpectedResponse"],
                style="TwoColumnsLeftToRight",
                detail=True,
            ),
            _section(
                "Campaign Statistics",
                ["NumberOfLeads", "NumberOfConvertedLeads", "NumberOfContacts"],
                ["NumberOfResponses", "NumberOfOpportunities", "NumberOfWonOpportunities"],
                style="TwoColumnsLeftToRight",
                detail=True,
                behavior="Readonly",
            ),
            *_closing_sections(),
        ],
        [
            _related("RelatedCampaignHierarchyList", "CAMPAIGN.NAME", "CAMPAIGN.START_DATE"),
            _related(
                "RelatedCampaignMemberList",
                "MEMBER_TYPE",
                "FIRST_NAME",
                "LAST_NAME",
                "TITLE",
                "COMPANY",
                "STATUS",
            ),
            *_person_related_lists(what=False)[:2],
            _related("RelatedFileList"),
        ],
    )
    return {
        "Contact": ("Contact Layout", contact),
        "Lead": ("Lead Layout", lead),
        "Campaign": ("Campaign Layout", campaign),
    }


def custom_object_layout(obj: SObject) -> dict[str, Any]:
    """The layout Salesforce creates with a custom object: its name and owner."""
    name = obj.field("Name")
    behavior = "Readonly" if name is not None and name.auto_number else "Required"
    information = _section("Information", [f"Name:{behavior}"], ["OwnerId"])
    system = _section(
        "System Information", ["CreatedById"], ["LastModifiedById"], behavior="Readonly"
    )
    return {**_layout([information, system], []), "excludeButtons": []}


# -- walking and editing Layout metadata -----------------------------------------------------


def _entries(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _parser(f"Cannot deserialize {key}: expected an array")
    return value


def _objects(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    values = _entries(parent, key)
    if not all(isinstance(v, dict) for v in values):
        raise _parser(f"Cannot deserialize {key}: expected an array of objects")
    return values


def layout_items(metadata: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for section in _objects(metadata, "layoutSections"):
        for column in _objects(section, "layoutColumns"):
            yield from _objects(column, "layoutItems")


def strip_fields(metadata: dict[str, Any], names: set[str]) -> bool:
    """Remove layout items for the fields (lower-case names). True if any were there."""
    changed = False
    for section in metadata.get("layoutSections") or []:
        for column in section.get("layoutColumns") or []:
            items = column.get("layoutItems") or []
            kept = [i for i in items if str(i.get("field") or "").lower() not in names]
            if len(kept) != len(items):
                column["layoutItems"], changed = kept, True
    return changed


def strip_related_lists(metadata: dict[str, Any], doomed: Callable[[str], bool]) -> bool:
    lists = metadata.get("relatedLists") or []
    kept = [r for r in lists if not doomed(str(r.get("relatedList") or "").lower())]
    if len(kept) == len(lists):
        return False
    metadata["relatedLists"] = kept
    return True


def strip_list_columns(metadata: dict[str, Any], child_prefix: str, field_name: str) -> bool:
    """Remove a child object's field from the columns of its custom related lists."""
    changed = False
    for entry in metadata.get("relatedLists") or []:
        if not str(entry.get("relatedList") or "").lower().startswith(child_prefix):
            continue
        columns = entry.get("fields") or []
        kept = [c for c in columns if str(c).lower() != field_name]
        if len(kept) != len(columns):
            entry["fields"], changed = kept, True
        if str(entry.get("sortField") or "").lower() == field_name:
            entry["sortField"], changed = None, True
    return changed


def uses_web_link(metadata: dict[str, Any], name: str) -> bool:
    lowered = name.lower()
    if any(str(b).lower() == lowered for b in metadata.get("customButtons") or []):
        return True
    items = (
        item
        for section in metadata.get("layoutSections") or []
        for column in section.get("layoutColumns") or []
        for item in column.get("layoutItems") or []
    )
    return any(str(item.get("customLink") or "").lower() == lowered for item in items)


@dataclass
class WebLink:
    id: str
    name: str
    metadata: dict[str, Any]

    @property
    def display_type(self) -> str:
        return str(self.metadata.get("displayType") or "")


def check_web_link_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise _missing("Metadata")
    for key in ("masterLabel", "displayType", "linkType", "openType"):
        if not metadata.get(key):
            raise _missing(key)
    for key, allowed in (
        ("displayType", DISPLAY_TYPES),
        ("linkType", LINK_TYPES),
        ("openType", OPEN_TYPES),
    ):
        if metadata[key] not in allowed:
            raise _integrity(f"{key}: bad value {metadata[key]}; use one of {', '.join(allowed)}")
    if metadata["linkType"] in ("url", "javascript") and not metadata.get("url"):
        raise _missing("url")
    metadata = dict(metadata)
    metadata.pop("fullName", None)
    return metadata


# -- the store -------------------------------------------------------------------------------


class Layouts:
    """Layout and WebLink records of the Tooling API, kept in _tooling_Layout/_tooling_WebLink."""

    def __init__(self, tooling: "Tooling") -> None:
        self.tooling = tooling
        self.store, self.data = tooling.store, tooling.data

    def meta(self, name: str) -> SObject:
        found = self.tooling.registry.get(name)
        assert found is not None
        return found

    @staticmethod
    def table_id(obj: SObject) -> str:
        """TableEnumOrId / EntityDefinitionId: a standard object's name, a custom one's Id."""
        return obj.tooling_id if obj.custom and obj.tooling_id else obj.name

    def object_of(self, table_id: str) -> SObject | None:
        found = self.data.get(table_id)
        if found is not None:
            return found
        return next((o for o in self.data.objects.values() if o.tooling_id == table_id), None)

    def ensure_tables(self) -> None:
        """Tables (and the standard layouts) for a data_dir written before layouts existed."""
        for name in ("Layout", "WebLink"):
            obj = self.meta(name)
            if not self.store.has_table(obj):
                self.store.create_table(obj)
                if name == "Layout":
                    self.seed()

    def seed(self) -> None:
        for object_name, (name, metadata) in standard_layouts().items():
            obj = self.data.get(object_name)
            assert obj is not None
            self.insert_layout(obj, name, metadata)

    def insert_layout(self, obj: SObject, name: str, metadata: dict[str, Any]) -> str:
        layout = self.meta("Layout")
        layout_id = self.tooling.engine.ids.new(layout.key_prefix)
        now = self.tooling.engine.clock.stamp()
        table_id = self.table_id(obj)
        self.store.insert(
            layout,
            {
                "Id": layout_id,
                "Name": name,
                "TableEnumOrId": table_id,
                "EntityDefinitionId": table_id,
                "LayoutType": "Standard",
                "NamespacePrefix": None,
                "ManageableState": "unmanaged",
                "FullName": f"{obj.name}-{name}",
                "CreatedDate": now,
                "LastModifiedDate": now,
                "Metadata": json.dumps(metadata),
            },
        )
        return layout_id

    def layouts(self, obj: SObject | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(Id, Name, TableEnumOrId, Metadata) of every layout, or of one object's."""
        sql = 'SELECT "Id", "Name", "TableEnumOrId", "Metadata" FROM "_tooling_Layout"'
        params: tuple[str, ...] = ()
        if obj is not None:
            sql, params = sql + ' WHERE "TableEnumOrId" = ?', (self.table_id(obj),)
        rows = self.store.rows(sql + " ORDER BY _rid", params)
        return [(i, name, table, json.loads(meta)) for i, name, table, meta in rows]

    def save(self, layout_id: str, metadata: dict[str, Any]) -> None:
        changes = {"Metadata": json.dumps(metadata), "LastModifiedDate": self.stamp()}
        self.store.update(self.meta("Layout"), layout_id, changes)

    def stamp(self) -> str:
        return self.tooling.engine.clock.stamp()

    def web_links(self, obj: SObject) -> dict[str, WebLink]:
        rows = self.store.rows(
            'SELECT "Id", "Name", "Metadata" FROM "_tooling_WebLink" '
            'WHERE "PageOrSobjectType" = ? ORDER BY _rid',
            (obj.name,),
        )
        return {name.lower(): WebLink(i, name, json.loads(meta)) for i, name, meta in rows}

    # -- Tooling API operations ------------------------------------------------------------

    def create_web_link(self, full_name: Any, metadata: Any) -> str:
        if not isinstance(full_name, str) or full_name.count(".") != 1:
            raise _integrity(f"Invalid custom button or link name: {full_name}. Use Object.Name.")
        object_name, name = full_name.split(".")
        obj = self.data.get(object_name)
        if obj is None or not (obj.custom or obj.name in CUSTOMIZABLE):
            raise _integrity(f"Cannot create custom buttons or links on entity: {object_name}")
        if not NAME_RE.match(name) or len(name) > 240:
            raise _integrity(
                f"The name {name} can only contain underscores and alphanumeric characters. "
                "It must begin with a letter, not include spaces, not end with an underscore, "
                "and not contain two consecutive underscores."
            )
        metadata = check_web_link_metadata(metadata)
        if name.lower() in self.web_links(obj):
            raise SfError(
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already a custom button or link named {name} on {obj.name}.",
                [],
            )
        web_link = self.meta("WebLink")
        link_id = self.tooling.engine.ids.new(web_link.key_prefix)
        now = self.stamp()
        self.store.insert(
            web_link,
            {
                "Id": link_id,
                "Name": name,
                "EntityDefinitionId": self.table_id(obj),
                "PageOrSobjectType": obj.name,
                "NamespacePrefix": None,
                "ManageableState": "unmanaged",
                "FullName": f"{obj.name}.{name}",
                "CreatedDate": now,
                "LastModifiedDate": now,
                "Metadata": json.dumps(metadata),
            },
        )
        return link_id

    def update(self, kind: str, record_id: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise _parser("Expected a JSON object with FullName and/or Metadata")
        if kind == "layout":
            self.update_layout(record_id, body)
        else:
            self.update_web_link(record_id, body)

    @staticmethod
    def check_full_name(body: dict[str, Any], full_name: str) -> None:
        given = body.get("FullName")
        if given is not None and str(given).lower() != full_name.lower():
            raise _integrity(f"FullName cannot be changed: {full_name}")

    def update_layout(self, layout_id: str, body: dict[str, Any]) -> None:
        found = self.store.rows(
            'SELECT "Name", "TableEnumOrId", "FullName" FROM "_tooling_Layout" WHERE "Id" = ?',
            (layout_id,),
        )
        if not found:
            raise not_found()
        name, table_id, full_name = found[0]
        self.check_full_name(body, full_name)
        if "Metadata" not in body:
            return
        obj = self.object_of(table_id)
        assert obj is not None
        self.save(layout_id, self.check_layout(obj, name, body["Metadata"]))

    def update_web_link(self, link_id: str, body: dict[str, Any]) -> None:
        found = self.store.rows(
            'SELECT "Name", "PageOrSobjectType", "FullName" FROM "_tooling_WebLink" WHERE "Id" = ?',
            (link_id,),
        )
        if not found:
            raise not_found()
        name, object_name, full_name = found[0]
        self.check_full_name(body, full_name)
        if "Metadata" not in body:
            return
        metadata = check_web_link_metadata(body["Metadata"])
        obj = self.data.get(object_name)
        assert obj is not None
        before = self.web_links(obj)[name.lower()].display_type
        if metadata["displayType"] != before and any(
            uses_web_link(meta, name) for _, _, _, meta in self.layouts(obj)
        ):
            raise _integrity(
                f"{name} is on a page layout as a {before}: remove it from the layout before "
                "changing its display type"
            )
        changes = {"Metadata": json.dumps(metadata), "LastModifiedDate": self.stamp()}
        self.store.update(self.meta("WebLink"), link_id, changes)

    def delete_web_link(self, link_id: str) -> None:
        found = self.store.rows(
            'SELECT "Name", "PageOrSobjectType" FROM "_tooling_WebLink" WHERE "Id" = ?',
            (link_id,),
        )
        if not found:
            raise not_found()
        name, object_name = found[0]
        obj = self.data.get(object_name)
        users = (
            [n for _, n, _, meta in self.layouts(obj) if uses_web_link(meta, name)] if obj else []
        )
        if users:
            raise SfError(
                "DELETE_FAILED",
                "This custom button is referenced elsewhere in salesforce.com. Remove the usage "
                f"and try again. : Layout - {users[0]}",
                [],
            )
        self.store.execute('DELETE FROM "_tooling_WebLink" WHERE "Id" = ?', (link_id,))

    # -- checking a layout -----------------------------------------------------------------

    def related_lists(self, obj: SObject) -> dict[str, str]:
        """The related lists a layout of obj may show: lower-case name -> canonical name."""
        names = list(
            STANDARD_RELATED_LISTS.get(obj.name, CUSTOM_OBJECT_RELATED_LISTS if obj.custom else ())
        )
        for child, f in self.data.children_of(obj.name):
            if child.custom or f.custom:
                names.append(f"{child.name}.{f.name}")
        return {name.lower(): name for name in names}

    def check_layout(self, obj: SObject, layout_name: str, metadata: Any) -> dict[str, Any]:
        """A normalised copy of the metadata (canonical names), or Salesforce's complaint."""
        if not isinstance(metadata, dict):
            raise _parser("Cannot deserialize Metadata: expected an object")
        metadata = copy.deepcopy(metadata)
        metadata.pop("fullName", None)
        links = self.web_links(obj)
        for section in _objects(metadata, "layoutSections"):
            if section.get("style") not in SECTION_STYLES:
                raise _integrity(
                    f"Invalid style {section.get('style')} for section {section.get('label')}"
                )
        seen: set[str] = set()
        for item in layout_items(metadata):
            self.check_item(obj, layout_name, item, seen, links)
        self.check_related_lists(obj, metadata)
        buttons = []
        for button in _entries(metadata, "customButtons"):
            link = links.get(str(button).lower())
            if link is None or link.display_type != "button":
                raise _integrity(f"Invalid custom button: {button} is not a button of {obj.name}")
            if link.name in buttons:
                raise _integrity(f"Duplicate custom button: {link.name}")
            buttons.append(link.name)
        if "customButtons" in metadata:
            metadata["customButtons"] = buttons
        return metadata

    @staticmethod
    def check_item(
        obj: SObject,
        layout_name: str,
        item: dict[str, Any],
        seen: set[str],
        links: dict[str, WebLink],
    ) -> None:
        name = item.get("field")
        if name is not None:
            f: Field | None = obj.field(str(name))
            if f is None:
                raise _integrity(f"Field {name} does not exist on {obj.name}. Check spelling.")
            if f.name.lower() in seen:
                raise _integrity(f"Field {f.name} appears more than once on {layout_name}")
            seen.add(f.name.lower())
            behavior = item.get("behavior") or "Edit"
            if behavior not in BEHAVIORS:
                raise _integrity(f"Invalid behavior {behavior} for field {f.name}")
            item["field"], item["behavior"] = f.name, behavior
        link_name = item.get("customLink")
        if link_name is not None:
            link = links.get(str(link_name).lower())
            if link is None or link.display_type != "link":
                raise _integrity(f"Invalid custom link: {link_name} is not a link of {obj.name}")
            item["customLink"] = link.name

    def check_related_lists(self, obj: SObject, metadata: dict[str, Any]) -> None:
        known = self.related_lists(obj)
        seen: set[str] = set()
        for entry in _objects(metadata, "relatedLists"):
            name = str(entry.get("relatedList") or "")
            canonical = known.get(name.lower())
            if canonical is None:
                raise _integrity(
                    f"Invalid related list: {name} is not a related list of {obj.name}"
                )
            if canonical.lower() in seen:
                raise _integrity(f"Duplicate related list: {canonical}")
            seen.add(canonical.lower())
            entry["relatedList"] = canonical
            if "." in canonical:
                self.check_list_columns(canonical, entry)

    def check_list_columns(self, related_list: str, entry: dict[str, Any]) -> None:
        """Custom fields shown in a custom related list must be the child object's."""
        child = self.data.get(related_list.split(".")[0])
        assert child is not None
        columns = [str(c) for c in _entries(entry, "fields")]
        for number, column in enumerate(columns):
            if column.lower().endswith("__c"):
                f = child.field(column)
                if f is None:
                    raise _integrity(f"Invalid field:{column} in related list:{related_list}")
                columns[number] = f.name
        if "fields" in entry:
            entry["fields"] = columns
        sort = entry.get("sortField")
        if sort and str(sort).lower().endswith("__c") and child.field(str(sort)) is None:
            raise _integrity(f"Invalid sort field:{sort} in related list:{related_list}")

    # -- what Salesforce does to layouts when the schema changes ---------------------------

    def object_created(self, obj: SObject) -> None:
        self.insert_layout(obj, f"{obj.label} Layout", custom_object_layout(obj))

    def field_deleted(self, obj: SObject, f: Field) -> None:
        own = self.table_id(obj).lower()
        field_name = f.name.lower()
        lists = {f"{obj.name}.{f.name}".lower()} if f.type == "reference" else set()
        prefix = obj.name.lower() + "."
        for layout_id, _, table_id, metadata in self.layouts():
            changed = table_id.lower() == own and strip_fields(metadata, {field_name})
            changed = strip_related_lists(metadata, lists.__contains__) or changed
            changed = strip_list_columns(metadata, prefix, field_name) or changed
            if changed:
                self.save(layout_id, metadata)

    def object_deleted(self, obj: SObject) -> None:
        own = self.table_id(obj)
        prefix = obj.name.lower() + "."
        for layout_id, _, table_id, metadata in self.layouts():
            if table_id.lower() != own.lower() and strip_related_lists(
                metadata, lambda name: name.startswith(prefix)
            ):
                self.save(layout_id, metadata)
        self.store.execute('DELETE FROM "_tooling_Layout" WHERE "TableEnumOrId" = ?', (own,))
        self.store.execute(
            'DELETE FROM "_tooling_WebLink" WHERE "PageOrSobjectType" = ?', (obj.name,)
        )
