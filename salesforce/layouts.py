"""cmsync's additions to the Contact, Lead and Campaign page layouts, declared in
``metadata/layouts.json``: a "Campaign Monitor" button (a WebLink) on Contact and Lead, the
tracking and list-membership related lists, and a "Campaign Monitor" section of statistics
fields on Campaign.

Everything goes through the Tooling API: WebLinks are created and deleted as records, and each
page layout is changed by reading its Layout ``Metadata``, editing it and writing it back
(one PATCH per layout). The related lists and fields belong to cmsync's schema
(``schema.py``), which must be installed first.
"""

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from . import schema
from .errors import NotFoundError, SalesforceError
from .gateway import SalesforceGateway, soql

LAYOUTS_PATH = schema.METADATA_DIR / schema.LAYOUTS_FILE
CONSOLE_URL = "{console_url}"  # placeholder in a button's url


@dataclass(frozen=True, slots=True)
class LayoutComponent:
    kind: str  # "button", "field" or "related_list"
    object_name: str  # the object whose page layout shows it: "Contact"
    name: str  # "CM_Open_Campaign_Monitor", "CM_Clicks__c", "CM_Email_Tracking__c.CM_Contact__c"
    layout: str  # the page layout's name: "Contact Layout"
    label: str  # what a person sees: "Campaign Monitor", "Clicks", "Email Tracking Statistics"
    spec: dict = field(compare=False, hash=False, repr=False)
    # button: WebLink metadata (url with {console_url}); field: {"behavior", "column"};
    # related_list: the Layout relatedLists entry

    @property
    def full_name(self) -> str:
        """A WebLink's or field's FullName ("Contact.CM_Open_Campaign_Monitor"); a related
        list's name as Layout metadata spells it ("CM_Email_Tracking__c.CM_Contact__c")."""
        return self.name if self.kind == "related_list" else f"{self.object_name}.{self.name}"

    @property
    def requires(self) -> tuple[str, ...]:
        """The schema components (schema.Component.full_name) it cannot exist without."""
        if self.kind == "field":
            return (self.full_name,)
        if self.kind == "related_list":
            child = self.name.split(".")[0]
            columns = [c for c in self.spec.get("fields", ()) if c.endswith("__c")]
            return (child, self.name, *(f"{child}.{c}" for c in columns))
        return ()

    def web_link_metadata(self, console_url: str) -> dict:
        metadata = dict(self.spec)
        metadata["url"] = metadata["url"].replace(CONSOLE_URL, console_url.rstrip("/"))
        return metadata


@dataclass(frozen=True, slots=True)
class LayoutComponentStatus:
    component: LayoutComponent
    installed: bool
    problem: str = ""  # why not, when it is more than "not there yet"


@cache
def _declared() -> dict:
    return json.loads(LAYOUTS_PATH.read_text())


@cache
def _labels() -> dict[str, str]:
    """Labels from cmsync's schema: a field's label, a custom object's plural label."""
    labels = {}
    for component in schema.components():
        metadata = component.metadata
        labels[component.full_name] = metadata.get("pluralLabel") or metadata.get("label") or ""
    return labels


@cache
def components() -> tuple[LayoutComponent, ...]:
    """Every declared component: buttons, then fields, then related lists, by layout."""
    declared, labels = _declared(), _labels()
    buttons, fields, related = [], [], []
    for object_name, spec in declared["layouts"].items():
        layout = spec["layout"]
        for name in spec.get("buttons", ()):
            metadata = declared["buttons"][object_name][name]
            label = metadata["masterLabel"]
            buttons.append(LayoutComponent("button", object_name, name, layout, label, metadata))
        for item in spec.get("fields", ()):
            name = item["field"]
            label = labels.get(f"{object_name}.{name}", name)
            fields.append(LayoutComponent("field", object_name, name, layout, label, item))
        for entry in spec.get("relatedLists", ()):
            name = entry["relatedList"]
            label = labels.get(name.split(".")[0], name)
            related.append(LayoutComponent("related_list", object_name, name, layout, label, entry))
    return tuple(buttons + fields + related)


def _objects() -> list[str]:
    return list(_declared()["layouts"])


def _section_spec(object_name: str) -> dict:
    return _declared()["layouts"][object_name].get("section") or {}


# -- reading the org ---------------------------------------------------------------------------


def _web_links(gateway: SalesforceGateway) -> dict[tuple[str, str], str]:
    """(object, button name), lower case -> WebLink Id, for the declared buttons."""
    buttons = [c for c in components() if c.kind == "button"]
    if not buttons:
        return {}
    query = soql(
        "SELECT Id, Name, EntityDefinitionId FROM WebLink "
        "WHERE EntityDefinitionId IN {objects} AND Name IN {names}",
        objects=sorted({c.object_name for c in buttons}),
        names=sorted({c.name for c in buttons}),
    )
    return {
        (row["EntityDefinitionId"].lower(), row["Name"].lower()): row["Id"]
        for row in gateway.tooling_query(query)
    }


def _all_layouts(gateway: SalesforceGateway) -> list[dict]:
    """Id, Name and TableEnumOrId of every page layout of Contact, Lead and Campaign."""
    query = soql(
        "SELECT Id, Name, TableEnumOrId FROM Layout WHERE TableEnumOrId IN {objects}",
        objects=_objects(),
    )
    return gateway.tooling_query(query)


def _target_layouts(gateway: SalesforceGateway) -> dict[str, tuple[str, dict]]:
    """Object -> (Layout Id, Metadata) of each layout cmsync adds to, where it exists."""
    wanted = {
        (name.lower(), spec["layout"].lower()): name
        for name, spec in _declared()["layouts"].items()
    }
    found = {}
    for row in _all_layouts(gateway):
        object_name = wanted.get((row["TableEnumOrId"].lower(), row["Name"].lower()))
        if object_name is not None and object_name not in found:
            record = gateway.tooling_get("Layout", row["Id"])
            found[object_name] = (row["Id"], record.get("Metadata") or {})
    return found


# -- Layout metadata ---------------------------------------------------------------------------


def _sections(metadata: dict) -> list[dict]:
    return metadata.get("layoutSections") or []


def _items(metadata: dict) -> Iterable[dict]:
    for section in _sections(metadata):
        for column in section.get("layoutColumns") or []:
            yield from column.get("layoutItems") or []


def _same(a: Any, b: str) -> bool:
    return str(a or "").lower() == b.lower()


def _present(component: LayoutComponent, metadata: dict) -> bool:
    if component.kind == "button":
        return any(_same(b, component.name) for b in metadata.get("customButtons") or [])
    if component.kind == "field":
        return any(_same(item.get("field"), component.name) for item in _items(metadata))
    lists = metadata.get("relatedLists") or []
    return any(_same(entry.get("relatedList"), component.name) for entry in lists)


def _section(metadata: dict, object_name: str) -> dict:
    """The section cmsync's fields go in, created (before System Information) if missing."""
    spec = _section_spec(object_name)
    sections = metadata.setdefault("layoutSections", [])
    for section in sections:
        if _same(section.get("label"), spec["label"]):
            return section
    section = {
        "customLabel": True,
        "detailHeading": True,
        "editHeading": True,
        "label": spec["label"],
        "layoutColumns": [{"layoutItems": []}, {"layoutItems": []}],
        "style": spec.get("style", "TwoColumnsTopToBottom"),
    }
    labels = [str(s.get("label") or "").lower() for s in sections]
    before = [labels.index(b.lower()) for b in spec.get("before", ()) if b.lower() in labels]
    sections.insert(min(before) if before else len(sections), section)
    return section


def _add(metadata: dict, component: LayoutComponent) -> None:
    if component.kind == "button":
        metadata.setdefault("customButtons", []).append(component.name)
    elif component.kind == "related_list":
        metadata.setdefault("relatedLists", []).append(copy.deepcopy(component.spec))
    else:
        columns = _section(metadata, component.object_name).setdefault("layoutColumns", [])
        if not columns:
            columns.append({"layoutItems": []})
        column = columns[min(component.spec.get("column", 0), len(columns) - 1)]
        item = {"behavior": component.spec.get("behavior", "Edit"), "field": component.name}
        column.setdefault("layoutItems", []).append(item)


def _strip(metadata: dict, component: LayoutComponent) -> bool:
    """Take the component off the layout; True if it was there."""
    if not _present(component, metadata):
        return False
    if component.kind == "button":
        buttons = metadata.get("customButtons") or []
        metadata["customButtons"] = [b for b in buttons if not _same(b, component.name)]
    elif component.kind == "related_list":
        lists = metadata.get("relatedLists") or []
        metadata["relatedLists"] = [
            e for e in lists if not _same(e.get("relatedList"), component.name)
        ]
    else:
        for section in _sections(metadata):
            for column in section.get("layoutColumns") or []:
                items = column.get("layoutItems") or []
                column["layoutItems"] = [
                    i for i in items if not _same(i.get("field"), component.name)
                ]
    return True


def _drop_empty_section(metadata: dict, object_name: str) -> None:
    """Remove cmsync's section once nothing is left in it."""
    label = _section_spec(object_name).get("label")
    if not label:
        return
    metadata["layoutSections"] = [
        s
        for s in _sections(metadata)
        if not (
            _same(s.get("label"), label)
            and not any(c.get("layoutItems") for c in s.get("layoutColumns") or [])
        )
    ]


# -- the console's operations ------------------------------------------------------------------


def status(gateway: SalesforceGateway) -> list[LayoutComponentStatus]:
    """Which components are on their page layouts (and, for buttons, exist as WebLinks)."""
    links = _web_links(gateway)
    layouts = _target_layouts(gateway)
    result = []
    for component in components():
        target = layouts.get(component.object_name)
        if target is None:
            problem = f"There is no page layout named {component.layout} on {component.object_name}"
            result.append(LayoutComponentStatus(component, False, problem))
            continue
        present = _present(component, target[1])
        if component.kind != "button":
            result.append(LayoutComponentStatus(component, present))
            continue
        exists = (component.object_name.lower(), component.name.lower()) in links
        problem = "" if present or not exists else f"The button is not on {component.layout}"
        result.append(LayoutComponentStatus(component, exists and present, problem))
    return result


def missing(gateway: SalesforceGateway) -> list[LayoutComponent]:
    return [s.component for s in status(gateway) if not s.installed]


def _require_schema(gateway: SalesforceGateway) -> None:
    needed = {name for c in components() for name in c.requires}
    absent = [c.full_name for c in schema.missing(gateway) if c.full_name in needed]
    if absent:
        raise SalesforceError(
            "Install cmsync's custom objects and fields before adding them to page layouts; "
            f"missing: {', '.join(absent)}",
            code="SCHEMA_NOT_INSTALLED",
        )


def install(gateway: SalesforceGateway, console_url: str) -> list[LayoutComponent]:
    """Create the missing buttons (pointing at ``console_url``, the console's address), then
    add whatever is missing to the Contact, Lead and Campaign layouts, one update per layout.
    A button whose URL points elsewhere (the console moved) gets the new URL. Returns the
    components added or changed; nothing is ever added twice."""
    _require_schema(gateway)
    layouts = _target_layouts(gateway)
    for object_name, spec in _declared()["layouts"].items():
        if object_name not in layouts:
            raise SalesforceError(
                f"There is no page layout named {spec['layout']} on {object_name}",
                code="LAYOUT_NOT_FOUND",
            )
    changed: list[LayoutComponent] = []
    links = _web_links(gateway)
    for component in components():
        if component.kind != "button":
            continue
        link_id = links.get((component.object_name.lower(), component.name.lower()))
        if _install_web_link(gateway, component, link_id, console_url):
            changed.append(component)
    for object_name, (layout_id, metadata) in layouts.items():
        wanted = [c for c in components() if c.object_name == object_name]
        edited = copy.deepcopy(metadata)
        added = [c for c in wanted if not _present(c, edited)]
        if not added:
            continue
        for component in added:
            _add(edited, component)
        try:
            gateway.tooling_update("Layout", layout_id, {"Metadata": edited})
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not change {added[0].layout} on {object_name}: {exc.message}",
                code=exc.code,
            ) from exc
        changed += added
    return [c for c in components() if c in changed]


def _install_web_link(
    gateway: SalesforceGateway, component: LayoutComponent, link_id: str | None, console_url: str
) -> bool:
    """Create the WebLink, or give an existing one this console's URL. True if it changed."""
    metadata = component.web_link_metadata(console_url)
    try:
        if link_id is None:
            gateway.tooling_create(
                "WebLink", {"FullName": component.full_name, "Metadata": metadata}
            )
            return True
        current = gateway.tooling_get("WebLink", link_id).get("Metadata") or {}
        if current.get("url") == metadata["url"]:
            return False
        gateway.tooling_update("WebLink", link_id, {"Metadata": {**current, **metadata}})
        return True
    except SalesforceError as exc:
        raise SalesforceError(
            f"Could not install the {component.label} button on {component.object_name}: "
            f"{exc.message}",
            code=exc.code,
        ) from exc


def remove(gateway: SalesforceGateway) -> list[LayoutComponent]:
    """Take cmsync's buttons, fields and related lists off every Contact, Lead and Campaign
    page layout (not only the ones install changed), then delete the buttons. Records are not
    touched. Returns the components removed; idempotent."""
    removed: list[LayoutComponent] = []
    for row in _all_layouts(gateway):
        object_name = next((o for o in _objects() if _same(row["TableEnumOrId"], o)), None)
        if object_name is None:
            continue
        metadata = gateway.tooling_get("Layout", row["Id"]).get("Metadata") or {}
        edited = copy.deepcopy(metadata)
        stripped = [c for c in components() if c.object_name == object_name and _strip(edited, c)]
        if not stripped:
            continue
        _drop_empty_section(edited, object_name)
        try:
            gateway.tooling_update("Layout", row["Id"], {"Metadata": edited})
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not change {row['Name']} on {object_name}: {exc.message}", code=exc.code
            ) from exc
        removed += [c for c in stripped if c not in removed]
    links = _web_links(gateway)
    for component in components():
        link_id = links.get((component.object_name.lower(), component.name.lower()))
        if component.kind != "button" or link_id is None:
            continue
        try:
            gateway.tooling_delete("WebLink", link_id)
        except NotFoundError:
            continue
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not delete the {component.label} button on {component.object_name}: "
                f"{exc.message}",
                code=exc.code,
            ) from exc
        if component not in removed:
            removed.append(component)
    return [c for c in components() if c in removed]
