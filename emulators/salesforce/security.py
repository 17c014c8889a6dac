"""Object and field-level security: who may see and write which custom objects and fields.

Access is granted the way Salesforce grants it: PermissionSet records with ObjectPermissions
and FieldPermissions rows, assigned to users through PermissionSetAssignment, plus the
permission set each profile owns (IsOwnedByProfile). A user's access is the union of its
profile's set and its assigned sets, read from those tables on each API request.

What needs a grant (Object Reference, FieldPermissions and ObjectPermissions): custom objects
need object Read (Create, Edit, Delete to write), custom fields need field Read to be seen
and Edit to be written. Exempt, as in Salesforce: standard objects and fields here, a custom
object's Id, Name and system fields, and universally required fields (always readable and
writable; they take no FieldPermissions rows). View All Data / Modify All Data (the System
Administrator profile) give object access to every object, never field access.

The rules on the records themselves (same documentation): Create and Edit need Read, Delete
needs Read and Edit, View All needs Read, Modify All needs Read, Edit, Delete and View All;
field Edit needs Read and is not allowed on read-only fields; a FieldPermissions row without
Read is deleted; Field is a restricted picklist spelled "Object.Field" (a lookup may leave
off its Id); one row per permission set and object or field, one assignment per user and
set; a profile-owned set can be neither assigned nor deleted, nor can a set that is still
assigned. Deleting a custom field or object deletes its permission rows.

Tabs (Tooling API and Object Reference, PermissionSetTabSetting): a custom tab is hidden
from every user until one of the user's sets has a PermissionSetTabSetting row for it,
DefaultOn or DefaultOff ("There's no hidden value. Instead, a hidden tab is indicated by
having no PermissionSetTabSetting row"). Name is the tab's API name (a custom object tab's
object, or "standard-Account"); one row per set and tab; Name and ParentId can't be updated.
Deleting a tab (or its object) deletes its tab settings.
"""

from dataclasses import dataclass, field
from typing import Any

from emulators.salesforce.dml import Actor, Engine
from emulators.salesforce.errors import SfError
from emulators.salesforce.schema import NAME_RE, Field, SObject

OBJECT_PERMISSIONS = {  # ObjectPermissions flag -> (operation, the flags it needs)
    "PermissionsRead": ("read", ()),
    "PermissionsCreate": ("create", ("PermissionsRead",)),
    "PermissionsEdit": ("edit", ("PermissionsRead",)),
    "PermissionsDelete": ("delete", ("PermissionsRead", "PermissionsEdit")),
    "PermissionsViewAllRecords": ("view_all", ("PermissionsRead",)),
    "PermissionsModifyAllRecords": (
        "modify_all",
        ("PermissionsRead", "PermissionsEdit", "PermissionsDelete", "PermissionsViewAllRecords"),
    ),
}
LABELS = {
    "PermissionsRead": "Read",
    "PermissionsCreate": "Create",
    "PermissionsEdit": "Edit",
    "PermissionsDelete": "Delete",
    "PermissionsViewAllRecords": "View All",
    "PermissionsModifyAllRecords": "Modify All",
}
# The standard tabs a tab setting may name: the emulator's standard objects that have one.
STANDARD_TABS = ("Account", "Contact", "Lead", "Campaign")
# Salesforce's answer to a second row for the same key on setup objects.
DUPLICATE = SfError(
    "DUPLICATE_VALUE",
    "duplicate value found: <unknown> duplicates value on record with id: <unknown>",
    [],
)


def exempt(f: Field) -> bool:
    """Fields no permission set can hide: standard and system fields, and universally
    required custom fields."""
    return not f.custom or f.required


def permissionable(f: Field) -> bool:
    """Whether a FieldPermissions row may name the field (describe's "permissionable")."""
    return f.type != "id" and not f.required and not f.name_field and f.name not in _SYSTEM


_SYSTEM = frozenset(
    {
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "OwnerId",
    }
)


@dataclass
class Access:
    """What one user may see and do, from its profile's and its assigned permission sets."""

    view_all_data: bool = False
    modify_all_data: bool = False
    objects: dict[str, set[str]] = field(default_factory=dict)  # object, lower -> operations
    readable: set[str] = field(default_factory=set)  # "object.field", lower case
    editable: set[str] = field(default_factory=set)

    def sees_object(self, obj: SObject) -> bool:
        if not obj.custom or self.view_all_data or self.modify_all_data:
            return True
        return "read" in self.objects.get(obj.name.lower(), ())

    def can(self, obj: SObject, operation: str) -> bool:
        """operation: read, create, edit or delete."""
        if operation == "read":
            return self.sees_object(obj)
        if not obj.custom or self.modify_all_data:
            return True
        return operation in self.objects.get(obj.name.lower(), ())

    def sees(self, obj: SObject, f: Field) -> bool:
        return exempt(f) or f"{obj.name}.{f.name}".lower() in self.readable

    def edits(self, obj: SObject, f: Field) -> bool:
        return exempt(f) or f"{obj.name}.{f.name}".lower() in self.editable


class Security:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.store, self.registry = engine, engine.store, engine.registry
        engine.hooks["PermissionSet"] = {
            "before_save": self.permission_set_saving,
            "before_delete": self.permission_set_deleting,
        }
        engine.hooks["ObjectPermissions"] = {"before_save": self.object_permissions_saving}
        engine.hooks["FieldPermissions"] = {
            "before_save": self.field_permissions_saving,
            "after_save": self.field_permissions_saved,
        }
        engine.hooks["PermissionSetAssignment"] = {"before_save": self.assignment_saving}
        engine.hooks["PermissionSetTabSetting"] = {"before_save": self.tab_setting_saving}

    # -- a user's access -------------------------------------------------------------------

    def user_sets(self, user_id: str) -> list[tuple[str, int, int]]:
        """(Id, View All Data, Modify All Data) of the user's profile's set and assigned sets."""
        return self.store.rows(
            'SELECT "Id", "PermissionsViewAllData", "PermissionsModifyAllData" '
            'FROM "PermissionSet" WHERE "IsDeleted" = 0 AND ('
            '"ProfileId" = (SELECT "ProfileId" FROM "User" WHERE "Id" = ?) OR "Id" IN '
            '(SELECT "PermissionSetId" FROM "PermissionSetAssignment" '
            'WHERE "AssigneeId" = ? AND "IsDeleted" = 0))',
            (user_id, user_id),
        )

    def access(self, user_id: str) -> Access:
        sets = self.user_sets(user_id)
        access = Access(
            view_all_data=any(row[1] for row in sets),
            modify_all_data=any(row[2] for row in sets),
        )
        ids = [row[0] for row in sets]
        if not ids:
            return access
        marks = ", ".join("?" * len(ids))
        flags = ", ".join(f'"{name}"' for name in OBJECT_PERMISSIONS)
        for sobject, *values in self.store.rows(
            f'SELECT "SobjectType", {flags} FROM "ObjectPermissions" '
            f'WHERE "IsDeleted" = 0 AND "ParentId" IN ({marks})',
            ids,
        ):
            granted = access.objects.setdefault(sobject.lower(), set())
            for (operation, _), value in zip(OBJECT_PERMISSIONS.values(), values, strict=True):
                if value:
                    granted.add(operation)
        for name, read, edit in self.store.rows(
            'SELECT "Field", "PermissionsRead", "PermissionsEdit" FROM "FieldPermissions" '
            f'WHERE "IsDeleted" = 0 AND "ParentId" IN ({marks})',
            ids,
        ):
            if read:
                access.readable.add(name.lower())
            if read and edit:
                access.editable.add(name.lower())
        return access

    # -- PermissionSet ---------------------------------------------------------------------

    def permission_set_saving(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor, changed: set
    ) -> None:
        if current is not None and current.get("IsOwnedByProfile") and "Name" in changed:
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                "The name of a permission set owned by a profile can't be changed.",
                ["Name"],
            )
        name = record.get("Name") or ""
        if "Name" in changed and not NAME_RE.match(name) and not record.get("IsOwnedByProfile"):
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"The API name {name} can only contain underscores and alphanumeric characters. "
                "It must be unique, begin with a letter, not include spaces, not end with an "
                "underscore, and not contain two consecutive underscores.",
                ["Name"],
            )

    def permission_set_deleting(self, record: dict[str, Any], actor: Actor) -> None:
        if record.get("IsOwnedByProfile"):
            raise SfError(
                "INSUFFICIENT_ACCESS_OR_READONLY",
                "insufficient access rights on object id: a profile's permission set can't be "
                "deleted",
                [],
            )

    # -- ObjectPermissions -----------------------------------------------------------------

    def object_permissions_saving(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor, changed: set
    ) -> None:
        if current is None:
            obj = self.registry.get(record.get("SobjectType") or "")
            if obj is None or not obj.queryable:
                raise _bad_picklist("SObject Type Name", record.get("SobjectType"), "SobjectType")
            record["SobjectType"] = obj.name
            self.check_unique("ObjectPermissions", record, ("ParentId", "SobjectType"), obj.name)
        _check_dependencies(record, OBJECT_PERMISSIONS)

    # -- FieldPermissions ------------------------------------------------------------------

    def field_permissions_saving(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor, changed: set
    ) -> None:
        if current is None:
            obj, f = self.permission_field(record)
            record["SobjectType"], record["Field"] = obj.name, f"{obj.name}.{f.name}"
            self.check_unique("FieldPermissions", record, ("ParentId", "Field"), record["Field"])
        else:
            obj, f = self.permission_field(record)
        if record.get("PermissionsEdit") and not record.get("PermissionsRead"):
            raise _depends("Edit", ["Read"], "PermissionsEdit")
        if record.get("PermissionsEdit") and not (f.createable or f.updateable):
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"Field {record['Field']} is read-only: PermissionsEdit isn't allowed for "
                "auto-number, formula and roll-up fields.",
                ["PermissionsEdit"],
            )

    def permission_field(self, record: dict[str, Any]) -> tuple[SObject, Field]:
        """The object and field a FieldPermissions row names, or Salesforce's refusal."""
        sobject, spelled = record.get("SobjectType") or "", record.get("Field") or ""
        obj = self.registry.get(sobject)
        if obj is None or not obj.queryable:
            raise _bad_picklist("SObject Type Name", sobject, "SobjectType")
        prefix, _, name = spelled.partition(".")
        f = obj.field(name) if prefix.lower() == obj.name.lower() else None
        if f is None and prefix.lower() == obj.name.lower():
            lookup = obj.field(name + "Id")  # API 50.0+: a lookup may leave off its Id
            f = lookup if lookup is not None and lookup.type == "reference" else None
        if f is None or not permissionable(f):
            raise _bad_picklist("Field Name", spelled, "Field")
        return obj, f

    def field_permissions_saved(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor
    ) -> None:
        # "A FieldPermissions record must have at minimum PermissionsRead set to true, or it
        # will be deleted."
        if not record.get("PermissionsRead"):
            self.store.execute('DELETE FROM "FieldPermissions" WHERE "Id" = ?', (record["Id"],))

    # -- PermissionSetAssignment -----------------------------------------------------------

    def assignment_saving(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor, changed: set
    ) -> None:
        owned = self.store.rows(
            'SELECT "IsOwnedByProfile" FROM "PermissionSet" WHERE "Id" = ?',
            (record.get("PermissionSetId"),),
        )
        if owned and owned[0][0]:
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                "You can't assign a permission set owned by a profile: change the user's "
                "profile instead.",
                ["PermissionSetId"],
            )
        key = ("AssigneeId", "PermissionSetId")
        self.check_unique("PermissionSetAssignment", record, key, record.get("PermissionSetId"))

    # -- PermissionSetTabSetting -----------------------------------------------------------

    def tab_setting_saving(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor, changed: set
    ) -> None:
        if current is not None:
            return  # only Visibility can change, a restricted picklist the engine checks
        name = self.tab_name(record.get("Name") or "")
        if name is None:
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"You can't edit tab settings for {record.get('Name')}, as it's not a valid tab.",
                ["Name"],
            )
        record["Name"] = name
        found = self.store.rows(
            'SELECT 1 FROM "PermissionSetTabSetting" WHERE "ParentId" = ? AND "Name" = ? '
            'AND "IsDeleted" = 0',
            (record.get("ParentId"), name),
        )
        if found:
            raise SfError(
                "DUPLICATE_VALUE",
                "Permission set already has a tab setting defined for tab. Update the existing "
                "tab setting.",
                [],
            )

    def tab_name(self, spelled: str) -> str | None:
        """The tab's API name as Salesforce spells it, or None when there is no such tab:
        "standard-<Object>" for the standard tabs, the object's name for a custom object
        tab (CustomTab's FullName)."""
        prefix, _, rest = spelled.partition("-")
        if prefix.lower() == "standard" and rest:
            standard = {name.lower(): name for name in STANDARD_TABS}.get(rest.lower())
            return f"standard-{standard}" if standard else None
        rows = self.store.rows(
            'SELECT "FullName" FROM "_tooling_CustomTab" WHERE lower("FullName") = ?',
            (spelled.lower(),),
        )
        return rows[0][0] if rows else None

    def tab_settings(self, user_id: str) -> dict[str, str]:
        """Tab name (lower case) -> the user's visibility for it, DefaultOn winning over
        DefaultOff; a tab left out is hidden from the user."""
        ids = [row[0] for row in self.user_sets(user_id)]
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        found: dict[str, str] = {}
        for name, visibility in self.store.rows(
            'SELECT "Name", "Visibility" FROM "PermissionSetTabSetting" '
            f'WHERE "IsDeleted" = 0 AND "ParentId" IN ({marks})',
            ids,
        ):
            if found.get(name.lower()) != "DefaultOn":
                found[name.lower()] = visibility
        return found

    def tab_deleted(self, name: str) -> None:
        self.store.execute('DELETE FROM "PermissionSetTabSetting" WHERE "Name" = ?', (name,))

    # -- shared ----------------------------------------------------------------------------

    def check_unique(
        self, table: str, record: dict[str, Any], key: tuple[str, str], second: Any
    ) -> None:
        found = self.store.rows(
            f'SELECT 1 FROM "{table}" WHERE "{key[0]}" = ? AND "{key[1]}" = ? '
            'AND "IsDeleted" = 0 AND "Id" != ?',
            (record.get(key[0]), second, record.get("Id") or ""),
        )
        if found:
            raise DUPLICATE

    # -- the schema changes (Tooling API) --------------------------------------------------

    def field_deleted(self, obj: SObject, f: Field) -> None:
        self.store.execute(
            'DELETE FROM "FieldPermissions" WHERE "Field" = ?', (f"{obj.name}.{f.name}",)
        )

    def object_deleted(self, obj: SObject) -> None:
        for table in ("ObjectPermissions", "FieldPermissions"):
            self.store.execute(f'DELETE FROM "{table}" WHERE "SobjectType" = ?', (obj.name,))


def _bad_picklist(label: str, value: Any, field_name: str) -> SfError:
    return SfError(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{label}: bad value for restricted picklist field: {value}",
        [field_name],
    )


def _depends(label: str, needed: list[str], field_name: str) -> SfError:
    return SfError(
        "FIELD_INTEGRITY_EXCEPTION",
        f"Permission {label} depends on permission(s): {', '.join(needed)}",
        [field_name],
    )


def _check_dependencies(record: dict[str, Any], rules: dict[str, tuple[str, tuple]]) -> None:
    for name, (_, needs) in rules.items():
        missing = [LABELS[n] for n in needs if not record.get(n)]
        if record.get(name) and missing:
            raise _depends(LABELS[name], missing, name)
