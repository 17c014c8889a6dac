"""cmsync's custom object tabs, declared in ``metadata/tabs.json``: one for the Campaign
Monitor lists and one for the email tracking statistics, so Salesforce users can open them
from the navigation (an app's tabs, the App Launcher). List memberships get none: a
membership is read from its contact, lead or list, not browsed on its own. The General
option "Show tabs on the Campaign Monitor layout" says whether they are wanted.

Tabs go through the Tooling API's CustomTab: a custom object tab is named after its object
(FullName ``CM_Subscriber_List__c``), takes the object's label and needs the object to exist
(``schema.py``). A query cannot say which object a custom object tab shows (Salesforce fills
in neither DeveloperName nor MasterLabel for them, and FullName can be read one record at a
time), so the org's unpackaged custom object tabs are read one by one until cmsync's are
found. A tab created this way is hidden from every user: cmsync's permission sets make them
visible (``permissions.show_tabs``), and deleting a tab deletes those settings.
"""

import json
from dataclasses import dataclass
from functools import cache

from . import schema
from .errors import NotFoundError, SalesforceError
from .gateway import SalesforceGateway

TABS_PATH = schema.METADATA_DIR / schema.TABS_FILE


@dataclass(frozen=True, slots=True)
class Tab:
    object_name: str  # the custom object it shows, also its FullName: "CM_Subscriber_List__c"
    label: str  # what a person sees: the object's plural label
    metadata: dict  # CustomTab metadata: customObject, motif, description


@dataclass(frozen=True, slots=True)
class TabStatus:
    tab: Tab
    tooling_id: str = ""

    @property
    def installed(self) -> bool:
        return bool(self.tooling_id)


@cache
def components() -> tuple[Tab, ...]:
    """Every declared tab, in the order a person sees them."""
    objects = {c.full_name: c.metadata for c in schema.components() if c.kind == "CustomObject"}
    return tuple(
        Tab(name, objects[name].get("pluralLabel") or name, metadata)
        for name, metadata in json.loads(TABS_PATH.read_text()).items()
    )


def _installed(gateway: SalesforceGateway) -> dict[str, str]:
    """Object name (lower case) -> CustomTab Id, for cmsync's tabs found in the org."""
    wanted = {tab.object_name.lower() for tab in components()}
    rows = gateway.tooling_query("SELECT Id, Type FROM CustomTab WHERE NamespacePrefix = null")
    found: dict[str, str] = {}
    for row in rows:
        if found.keys() == wanted:
            break
        if str(row.get("Type") or "").lower() != "customobject":
            continue
        name = str(gateway.tooling_get("CustomTab", row["Id"]).get("FullName") or "").lower()
        if name in wanted:
            found[name] = row["Id"]
    return found


def status(gateway: SalesforceGateway) -> list[TabStatus]:
    """Which of cmsync's tabs are in the org."""
    installed = _installed(gateway)
    return [TabStatus(tab, installed.get(tab.object_name.lower(), "")) for tab in components()]


def missing(gateway: SalesforceGateway) -> list[Tab]:
    return [s.tab for s in status(gateway) if not s.installed]


def _require_objects(gateway: SalesforceGateway) -> None:
    needed = {tab.object_name for tab in components()}
    absent = [c.full_name for c in schema.missing(gateway) if c.full_name in needed]
    if absent:
        raise SalesforceError(
            "Install cmsync's custom objects before adding their tabs; "
            f"missing: {', '.join(absent)}",
            code="SCHEMA_NOT_INSTALLED",
        )


def install(gateway: SalesforceGateway) -> list[Tab]:
    """Create the missing tabs; their objects must be installed. Returns the tabs created;
    nothing is created twice."""
    absent = missing(gateway)
    if absent:
        _require_objects(gateway)
    for tab in absent:
        body = {"FullName": tab.object_name, "Metadata": tab.metadata}
        try:
            gateway.tooling_create("CustomTab", body)
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not add the {tab.label} tab: {exc.message}", code=exc.code
            ) from exc
    return absent


def remove(gateway: SalesforceGateway) -> list[Tab]:
    """Delete cmsync's tabs (the objects and their records stay). Returns the tabs deleted;
    idempotent."""
    removed = []
    for state in status(gateway):
        if not state.installed:
            continue
        try:
            gateway.tooling_delete("CustomTab", state.tooling_id)
        except NotFoundError:
            continue  # deleted meanwhile
        except SalesforceError as exc:
            raise SalesforceError(
                f"Could not remove the {state.tab.label} tab: {exc.message}", code=exc.code
            ) from exc
        removed.append(state.tab)
    return removed
