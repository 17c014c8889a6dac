"""cmsync's own Salesforce schema (DESIGN.md §6), shipped as metadata in ``metadata/``.

Each file is one object: ``object`` (a custom object's CustomObject metadata; absent for the
standard objects we add fields to) and ``fields`` (CustomField metadata by API name). They are
installed through the Tooling API's CustomObject and CustomField, objects first, and the
installed state is read back from the Tooling API, so the console can say what is missing.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import NotFoundError, SalesforceError
from .gateway import SalesforceGateway, soql

METADATA_DIR = Path(__file__).resolve().parent / "metadata"
LAYOUTS_FILE = "layouts.json"  # page layouts and buttons (layouts.py), not an object
TABS_FILE = "tabs.json"  # custom object tabs (tabs.py), not an object
# Objects before the objects whose lookups point at them.
OBJECT_ORDER = ["CM_Subscriber_List__c", "CM_List_Membership__c", "CM_Email_Tracking__c"]


@dataclass(frozen=True, slots=True)
class Component:
    kind: str  # "CustomObject" or "CustomField"
    full_name: str  # "CM_Email_Tracking__c" or "Campaign.CM_Clicks__c"
    metadata: dict

    @property
    def object_name(self) -> str:
        return self.full_name.split(".")[0]

    @property
    def developer_name(self) -> str:
        """The Tooling API's DeveloperName: the API name without its __c."""
        return self.full_name.split(".")[-1].removesuffix("__c")


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    component: Component
    installed: bool
    tooling_id: str = ""


@cache
def components() -> tuple[Component, ...]:
    """Every component, in install order."""
    files = {
        path.stem: json.loads(path.read_text())
        for path in METADATA_DIR.glob("*.json")
        if path.name not in (LAYOUTS_FILE, TABS_FILE)
    }
    ordered = OBJECT_ORDER + sorted(name for name in files if name not in OBJECT_ORDER)
    objects, fields = [], []
    for name in ordered:
        spec = files[name]
        if "object" in spec:
            objects.append(Component("CustomObject", name, spec["object"]))
        for field_name, metadata in spec["fields"].items():
            fields.append(Component("CustomField", f"{name}.{field_name}", metadata))
    return tuple(objects + fields)


def status(gateway: SalesforceGateway) -> list[ComponentStatus]:
    """Which components are installed in the org, read from the Tooling API."""
    parts = components()
    object_names = [c.developer_name for c in parts if c.kind == "CustomObject"]
    query = soql(
        "SELECT Id, DeveloperName FROM CustomObject WHERE DeveloperName IN {names}",
        names=object_names,
    )
    objects = {row["DeveloperName"].lower(): row["Id"] for row in gateway.tooling_query(query)}
    field_names = sorted({c.developer_name for c in parts if c.kind == "CustomField"})
    query = soql(
        "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE DeveloperName IN {names}",
        names=field_names,
    )
    fields = {
        (row["TableEnumOrId"].lower(), row["DeveloperName"].lower()): row["Id"]
        for row in gateway.tooling_query(query)
    }
    result = []
    for component in parts:
        if component.kind == "CustomObject":
            tooling_id = objects.get(component.developer_name.lower(), "")
        else:
            # Fields of custom objects are filed under the object's Id, not its name.
            table = component.object_name
            table = (
                objects.get(table.removesuffix("__c").lower(), table) if "__c" in table else table
            )
            tooling_id = fields.get((table.lower(), component.developer_name.lower()), "")
        result.append(ComponentStatus(component, bool(tooling_id), tooling_id))
    return result


def missing(gateway: SalesforceGateway) -> list[Component]:
    return [s.component for s in status(gateway) if not s.installed]


def install(gateway: SalesforceGateway) -> list[str]:
    """Create whatever is missing, objects first. Returns the full names created."""
    created = []
    for component in missing(gateway):
        body = {"FullName": component.full_name, "Metadata": component.metadata}
        try:
            gateway.tooling_create(component.kind, body)
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not install {component.full_name}: {exc.message}", code=exc.code
            ) from exc
        created.append(component.full_name)
    return created


def remove(gateway: SalesforceGateway) -> list[str]:
    """Delete what is installed: the fields cmsync added to standard objects, then its custom
    objects, each before the objects its lookups point at (a lookup blocks the deletion of
    its target). A custom object goes with its fields and every record in it, and Salesforce
    takes deleted fields and related lists off the page layouts. Returns the full names
    deleted, in order (an object's own fields are not listed); idempotent."""
    installed = [s for s in status(gateway) if s.installed]
    objects = {s.component.full_name: s for s in installed if s.component.kind == "CustomObject"}
    on_standard = [
        s
        for s in installed
        if s.component.kind == "CustomField" and not s.component.object_name.endswith("__c")
    ]
    order = [name for name in reversed(OBJECT_ORDER) if name in objects]
    order += sorted(name for name in objects if name not in OBJECT_ORDER)
    removed = []
    for state in [*on_standard, *(objects[name] for name in order)]:
        component = state.component
        try:
            gateway.tooling_delete(component.kind, state.tooling_id)
        except NotFoundError:
            continue  # deleted meanwhile
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not remove {component.full_name}: {exc.message}", code=exc.code
            ) from exc
        removed.append(component.full_name)
    return removed
