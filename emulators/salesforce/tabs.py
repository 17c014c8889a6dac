"""Custom object tabs (CustomTab), through the Tooling API.

A custom object tab puts a custom object in the org's navigation (an app's tabs, the App
Launcher). As in Salesforce's Metadata API reference for CustomTab, a custom object tab's
FullName is the custom object's name, its Metadata says ``customObject: true`` and names a
``motif`` (the tab style: "Custom<number>: <icon name>"), and takes its label from the object,
so it has none of its own; ``description`` is optional. An object has at most one tab.

Creating a tab for anything but an existing custom object fails the way a deploy does ("no
CustomObject named X found"); deleting the object deletes its tab, as Salesforce Help says of
deleting a custom object ("Deletes the custom tab and list views for the object"), and
deleting a tab deletes its tab settings (PermissionSetTabSetting, security.py). Web,
Visualforce, Lightning page and component tabs are not emulated.

What a user sees is REST's /tabs: the standard tabs, and the custom object tabs one of the
user's permission sets gives a tab setting, on objects the user may read.

In a query, a custom object tab has no DeveloperName or MasterLabel: the object it shows is
only in FullName, which (like Metadata) a query may select for one row at a time. Tabs are
kept in _tooling_CustomTab.
"""

import json
import re
from typing import TYPE_CHECKING, Any

from emulators.salesforce.errors import SfError, not_found
from emulators.salesforce.schema import SObject
from emulators.salesforce.security import STANDARD_TABS

if TYPE_CHECKING:
    from emulators.salesforce.tooling import Tooling

# Tab styles are "Custom1: Heart" ... "Custom100: TV Widescreen".
MOTIF_RE = re.compile(r"^Custom(\d{1,3}): \S.*$")
MOTIF_RANGE = range(1, 101)
# Metadata keys that each make a different kind of tab; a tab sets exactly one.
KINDS = ("auraComponent", "customObject", "flexiPage", "lwcComponent", "page", "scontrol", "url")


def _integrity(message: str, fields: list[str] | None = None) -> SfError:
    return SfError("FIELD_INTEGRITY_EXCEPTION", message, fields or [])


def _missing(name: str) -> SfError:
    return SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])


def check_metadata(metadata: Any) -> dict[str, Any]:
    """A custom object tab's metadata, or Salesforce's complaint about it."""
    if not isinstance(metadata, dict):
        raise _missing("Metadata")
    kinds = [k for k in KINDS if metadata.get(k) not in (None, False, "")]
    if len(kinds) > 1:
        raise _integrity(
            f"Only one of {', '.join(KINDS)} can be set on a tab: {', '.join(kinds)}", kinds
        )
    if kinds != ["customObject"]:
        if kinds:
            raise _integrity(f"Not supported by the Salesforce emulator: {kinds[0]} tabs")
        raise _integrity("Master label must be provided for non-custom object tabs", ["label"])
    if metadata["customObject"] is not True:
        raise _integrity("customObject must be true or false", ["customObject"])
    if metadata.get("label"):
        raise _integrity(
            "A custom object tab takes its label from the custom object: leave out label",
            ["label"],
        )
    motif = metadata.get("motif")
    if not motif:
        raise _missing("motif")
    found = MOTIF_RE.match(str(motif))
    if found is None or int(found.group(1)) not in MOTIF_RANGE:
        raise _integrity(f"Invalid tab style (motif): {motif}", ["motif"])
    metadata = dict(metadata)
    metadata.pop("fullName", None)
    return metadata


class Tabs:
    """CustomTab records of the Tooling API."""

    def __init__(self, tooling: "Tooling") -> None:
        self.tooling = tooling
        self.store, self.data = tooling.store, tooling.data

    def meta(self) -> SObject:
        found = self.tooling.registry.get("CustomTab")
        assert found is not None
        return found

    def ensure_table(self) -> None:
        """The table, for a data_dir written before tabs existed."""
        if not self.store.has_table(self.meta()):
            self.store.create_table(self.meta())

    def tab_of(self, obj: SObject) -> str | None:
        rows = self.store.rows(
            'SELECT "Id" FROM "_tooling_CustomTab" WHERE "FullName" = ?', (obj.name,)
        )
        return rows[0][0] if rows else None

    def create(self, full_name: Any, metadata: Any) -> str:
        if not isinstance(full_name, str) or not full_name:
            raise _missing("FullName")
        metadata = check_metadata(metadata)
        obj = self.data.get(full_name)
        if obj is None or not obj.custom:
            raise _integrity(
                f"In field: fullName - no CustomObject named {full_name} found", ["FullName"]
            )
        if self.tab_of(obj) is not None:
            raise SfError("DUPLICATE_DEVELOPER_NAME", f"There is already a tab for {obj.name}.", [])
        tab = self.meta()
        tab_id = self.tooling.engine.ids.new(tab.key_prefix)
        now = self.tooling.engine.clock.stamp()
        self.store.insert(
            tab,
            {
                "Id": tab_id,
                "DeveloperName": None,
                "MasterLabel": None,
                "Type": "customObject",
                "Description": metadata.get("description"),
                "NamespacePrefix": None,
                "ManageableState": "unmanaged",
                "FullName": obj.name,
                "CreatedDate": now,
                "LastModifiedDate": now,
                "Metadata": json.dumps(metadata),
            },
        )
        return tab_id

    def delete(self, tab_id: str) -> None:
        rows = self.store.rows(
            'SELECT "FullName" FROM "_tooling_CustomTab" WHERE "Id" = ?', (tab_id,)
        )
        if not rows:
            raise not_found()
        with self.store.transaction():
            self.store.execute('DELETE FROM "_tooling_CustomTab" WHERE "Id" = ?', (tab_id,))
            self.tab_deleted(rows[0][0])

    def object_deleted(self, obj: SObject) -> None:
        self.store.execute('DELETE FROM "_tooling_CustomTab" WHERE "FullName" = ?', (obj.name,))
        self.tab_deleted(obj.name)

    def tab_deleted(self, name: str) -> None:
        """A deleted tab's settings in profiles and permission sets go with it."""
        if self.tooling.security is not None:
            self.tooling.security.tab_deleted(name)

    # -- what a user sees (REST /tabs) -----------------------------------------------------

    def available(self, root_url: str, access: Any, settings: dict[str, str]) -> list[dict]:
        """The tabs available to a user, as REST's /tabs describes them: the standard tabs,
        then each custom object tab one of the user's sets has a tab setting for (DefaultOn
        or DefaultOff) on an object the user may read."""
        described = []
        for name in STANDARD_TABS:
            obj = self.data.get(name)
            if obj is not None:
                described.append(_describe(root_url, f"standard-{obj.name}", obj, custom=False))
        for (full_name,) in self.store.rows(
            'SELECT "FullName" FROM "_tooling_CustomTab" ORDER BY _rid'
        ):
            obj = self.data.get(full_name)
            if obj is None or full_name.lower() not in settings or not access.sees_object(obj):
                continue
            described.append(_describe(root_url, obj.name, obj, custom=True))
        return described


def _describe(root_url: str, name: str, obj: SObject, custom: bool) -> dict[str, Any]:
    """One tab in the shape of REST's /tabs (DescribeTab); no colors or icons."""
    return {
        "colors": [],
        "custom": custom,
        "iconUrl": "",
        "icons": [],
        "label": obj.label_plural,
        "miniIconUrl": "",
        "name": name,
        "sobjectName": obj.name,
        "url": f"{root_url}/{obj.key_prefix}/o",
    }
