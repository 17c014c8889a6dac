"""cmsync's permission sets in the org: what lets the sync user, and the people who read
cmsync's data in Salesforce, see its objects and fields.

Salesforce hides a custom object or field deployed through the API from every user, System
Administrators included, until a permission set grants it (field-level security). Two sets,
declared from cmsync's schema (``schema.components()``):

- ``cmsync_Integration``: read, create, edit and delete on cmsync's custom objects, read and
  edit on every field (read where Salesforce allows no edit); assigned to the sync user.
- ``cmsync_Reader``: read on the tracking and list objects and their fields, and on cmsync's
  fields on Campaign and CampaignMember; assigned to Salesforce users chosen on the
  Maintenance tab.

While cmsync's tabs are in the org (Show tabs on, ``tabs.py``), both sets also make them
visible: a custom tab created through the API is hidden from every user until a profile or
permission set gives it a tab setting, so each set has a ``DefaultOn`` PermissionSetTabSetting
for each of cmsync's tabs. Deleting a tab deletes its tab settings in Salesforce, so with Show
tabs off none are wanted.

All are plain records (PermissionSet, ObjectPermissions, FieldPermissions,
PermissionSetAssignment, PermissionSetTabSetting), read by SOQL and written through sObject
Collections, so installing twice changes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from . import schema
from .errors import NotFoundError, SalesforceError
from .gateway import RecordResult, SalesforceGateway, soql

INTEGRATION = "cmsync_Integration"
READER = "cmsync_Reader"
OBJECT_FLAGS = ("PermissionsRead", "PermissionsCreate", "PermissionsEdit", "PermissionsDelete")
FIELD_FLAGS = ("PermissionsRead", "PermissionsEdit")
VISIBLE = "DefaultOn"  # a tab setting's Visibility: shown in the user's navigation
# What the reader set reads: the tracking and list objects, and cmsync's fields on these.
READER_FIELDS_ON = ("Campaign", "CampaignMember")
_WORDS = {
    "PermissionsRead": "read",
    "PermissionsCreate": "create",
    "PermissionsEdit": "edit",
    "PermissionsDelete": "delete",
}


@dataclass(frozen=True, slots=True)
class PermissionSetSpec:
    name: str
    label: str
    description: str
    objects: dict[str, tuple[str, ...]]  # custom object -> the object flags it grants
    fields: dict[str, tuple[str, ...]]  # "Object.Field__c" -> the field flags it grants


@dataclass(frozen=True, slots=True)
class SalesforceUser:
    id: str
    name: str
    username: str


def _editable(component: schema.Component) -> bool:
    """Auto-number and formula fields take read only."""
    metadata = component.metadata
    return metadata.get("type") != "AutoNumber" and "formula" not in metadata


def _grantable(component: schema.Component) -> bool:
    """Universally required fields are always visible and take no field permissions."""
    return component.kind == "CustomField" and not component.metadata.get("required")


@cache
def declared() -> tuple[PermissionSetSpec, PermissionSetSpec]:
    """The integration set and the reader set."""
    parts = schema.components()
    objects = [c.full_name for c in parts if c.kind == "CustomObject"]
    fields = [c for c in parts if _grantable(c)]
    integration = PermissionSetSpec(
        INTEGRATION,
        "cmsync Integration",
        "What cmsync's sync user needs: read and write on cmsync's objects and fields.",
        dict.fromkeys(objects, OBJECT_FLAGS),
        {c.full_name: FIELD_FLAGS if _editable(c) else FIELD_FLAGS[:1] for c in fields},
    )
    readable = set(objects) | set(READER_FIELDS_ON)
    reader = PermissionSetSpec(
        READER,
        "cmsync Reader",
        "Read cmsync's email tracking, lists and list memberships, and its campaign fields.",
        dict.fromkeys(objects, OBJECT_FLAGS[:1]),
        {c.full_name: FIELD_FLAGS[:1] for c in fields if c.object_name in readable},
    )
    return integration, reader


def spec(name: str) -> PermissionSetSpec:
    return next(s for s in declared() if s.name == name)


# -- reading the org ---------------------------------------------------------------------------


def installed_sets(gateway: SalesforceGateway) -> dict[str, str]:
    """Name -> Id of cmsync's permission sets that exist in the org."""
    query = soql(
        "SELECT Id, Name FROM PermissionSet WHERE Name IN {names}",
        names=[s.name for s in declared()],
    )
    return {row["Name"]: row["Id"] for row in gateway.query(query)}


def _rows(gateway: SalesforceGateway, sobject: str, key: str, set_ids: list[str]) -> dict:
    """(permission set Id, key lower case) -> row, for ObjectPermissions or FieldPermissions."""
    if not set_ids:
        return {}
    flags = OBJECT_FLAGS if sobject == "ObjectPermissions" else FIELD_FLAGS
    query = soql(
        f"SELECT Id, ParentId, {key}, {', '.join(flags)} FROM {sobject} WHERE ParentId IN {{ids}}",
        ids=set_ids,
    )
    return {(row["ParentId"], row[key].lower()): row for row in gateway.query(query)}


def assignees(gateway: SalesforceGateway, name: str) -> dict[str, str]:
    """Assignee (Salesforce user) Id -> assignment Id, of one of cmsync's sets."""
    query = soql(
        "SELECT Id, AssigneeId FROM PermissionSetAssignment WHERE PermissionSet.Name = {name}",
        name=name,
    )
    return {row["AssigneeId"]: row["Id"] for row in gateway.query(query)}


def _lacking(row: dict | None, flags: tuple[str, ...]) -> list[str]:
    return [flag for flag in flags if row is None or not row.get(flag)]


def _tab_settings(gateway: SalesforceGateway, set_ids: list[str]) -> dict:
    """(permission set Id, tab name lower case) -> PermissionSetTabSetting row."""
    if not set_ids:
        return {}
    query = soql(
        "SELECT Id, ParentId, Name, Visibility FROM PermissionSetTabSetting "
        "WHERE ParentId IN {ids}",
        ids=set_ids,
    )
    return {(row["ParentId"], row["Name"].lower()): row for row in gateway.query(query)}


def _tab_words(name: str) -> str:
    return f"{name} tab (visible)"


def status(
    gateway: SalesforceGateway, sync_user_id: str = "", tabs: Iterable[str] = ()
) -> list[str]:
    """What is missing for cmsync's permission sets, in words: a set, its object or field
    permissions, a visible tab setting for each of ``tabs`` (the names of cmsync's tabs that
    are in the org and wanted), the sync user's assignment. Empty when everything is in
    place."""
    sets = installed_sets(gateway)
    ids = list(sets.values())
    objects = _rows(gateway, "ObjectPermissions", "SobjectType", ids)
    fields = _rows(gateway, "FieldPermissions", "Field", ids)
    tabs = list(tabs)
    settings = _tab_settings(gateway, ids) if tabs else {}
    missing = []
    for declared_set in declared():
        set_id = sets.get(declared_set.name)
        if set_id is None:
            missing.append(f"{declared_set.name}: the permission set")
            continue
        wanted = [("object", declared_set.objects, objects), ("field", declared_set.fields, fields)]
        for _, grants, found in wanted:
            for name, flags in grants.items():
                lacking = _lacking(found.get((set_id, name.lower())), flags)
                if lacking:
                    words = ", ".join(_WORDS[flag] for flag in lacking)
                    missing.append(f"{declared_set.name}: {name} ({words})")
        for name in tabs:
            row = settings.get((set_id, name.lower()))
            if row is None or row.get("Visibility") != VISIBLE:
                missing.append(f"{declared_set.name}: {_tab_words(name)}")
    if INTEGRATION in sets and sync_user_id and sync_user_id not in assignees(gateway, INTEGRATION):
        missing.append(f"{INTEGRATION}: not assigned to the sync user")
    elif INTEGRATION in sets and not sync_user_id:
        missing.append(f"{INTEGRATION}: no sync user to assign it to")
    return missing


def active_users(gateway: SalesforceGateway) -> list[SalesforceUser]:
    query = "SELECT Id, Name, Username FROM User WHERE IsActive = true ORDER BY Name, Id"
    return [SalesforceUser(r["Id"], r["Name"], r["Username"]) for r in gateway.query(query)]


# -- changing the org --------------------------------------------------------------------------


def _check(results: list[RecordResult], doing: str) -> None:
    for result in results:
        if not result.success:
            error = result.errors[0] if result.errors else None
            message = error.message if error else "no reason given"
            raise SalesforceError(
                f"Could not {doing}: {message}", code=error.status_code if error else ""
            )


def install(gateway: SalesforceGateway, assignee_ids: Iterable[str] = ()) -> list[str]:
    """Create or complete both permission sets and assign the integration set to
    ``assignee_ids`` (the sync user's Salesforce user). Returns what was added, in words.
    cmsync's schema must be installed first (a permission names existing fields only)."""
    sets = installed_sets(gateway)
    added = []
    for declared_set in declared():
        if declared_set.name not in sets:
            record = {
                "Name": declared_set.name,
                "Label": declared_set.label,
                "Description": declared_set.description,
            }
            results = gateway.create("PermissionSet", [record])
            _check(results, f"create the permission set {declared_set.name}")
            sets[declared_set.name] = results[0].id or ""  # _check: it was created
            added.append(f"{declared_set.name}: the permission set")
    ids = [sets[s.name] for s in declared()]
    objects = _rows(gateway, "ObjectPermissions", "SobjectType", ids)
    fields = _rows(gateway, "FieldPermissions", "Field", ids)
    for declared_set in declared():
        set_id = sets[declared_set.name]
        added += _grant(gateway, set_id, declared_set, "ObjectPermissions", objects)
        added += _grant(gateway, set_id, declared_set, "FieldPermissions", fields)
    added += [f"{INTEGRATION}: assigned to {i}" for i in assign(gateway, INTEGRATION, assignee_ids)]
    return added


def _grant(
    gateway: SalesforceGateway, set_id: str, declared_set: PermissionSetSpec, sobject: str, found
) -> list[str]:
    """Create the rows a set lacks and turn on the flags its rows lack."""
    is_object = sobject == "ObjectPermissions"
    grants = declared_set.objects if is_object else declared_set.fields
    creates, updates, added = [], [], []
    for name, flags in grants.items():
        row = found.get((set_id, name.lower()))
        lacking = _lacking(row, flags)
        if not lacking:
            continue
        wanted = dict.fromkeys(flags, True)
        if row is None:
            key = {"SobjectType": name} if is_object else {"SobjectType": name.split(".")[0]}
            if not is_object:
                key["Field"] = name
            creates.append({"ParentId": set_id, **key, **wanted})
        else:
            updates.append({"Id": row["Id"], **wanted})
        added.append(f"{declared_set.name}: {name} ({', '.join(_WORDS[f] for f in lacking)})")
    doing = f"grant {declared_set.name}'s permissions"
    if creates:
        _check(gateway.create(sobject, creates), doing)
    if updates:
        _check(gateway.update(sobject, updates), doing)
    return added


def show_tabs(gateway: SalesforceGateway, tabs: Iterable[str]) -> list[str]:
    """Make ``tabs`` (cmsync's tabs, by name, which must exist) visible to both sets' users:
    a DefaultOn tab setting in each installed set, created or switched on. Returns what was
    added, in words; a set not installed yet gets its settings at the next Install."""
    tabs = list(tabs)
    sets = installed_sets(gateway)
    if not tabs or not sets:
        return []
    found = _tab_settings(gateway, list(sets.values()))
    creates, updates, added = [], [], []
    for declared_set in declared():
        set_id = sets.get(declared_set.name)
        if set_id is None:
            continue
        for name in tabs:
            row = found.get((set_id, name.lower()))
            if row is None:
                creates.append({"ParentId": set_id, "Name": name, "Visibility": VISIBLE})
            elif row.get("Visibility") != VISIBLE:
                updates.append({"Id": row["Id"], "Visibility": VISIBLE})
            else:
                continue
            added.append(f"{declared_set.name}: {_tab_words(name)}")
    if creates:
        _check(gateway.create("PermissionSetTabSetting", creates), "make cmsync's tabs visible")
    if updates:
        _check(gateway.update("PermissionSetTabSetting", updates), "make cmsync's tabs visible")
    return added


def assign(gateway: SalesforceGateway, name: str, user_ids: Iterable[str]) -> list[str]:
    """Assign one of cmsync's sets to these Salesforce users; returns the newly assigned."""
    sets = installed_sets(gateway)
    if name not in sets:
        raise SalesforceError(f"The permission set {name} is not installed")
    have = assignees(gateway, name)
    new = [i for i in dict.fromkeys(user_ids) if i and i not in have]
    records = [{"AssigneeId": i, "PermissionSetId": sets[name]} for i in new]
    if records:
        _check(gateway.create("PermissionSetAssignment", records), f"assign {name}")
    return new


def assign_integration(gateway: SalesforceGateway, user_id: str) -> bool:
    """Give a (new) sync user the integration set; False when it is not installed yet
    (Install does it then)."""
    if INTEGRATION not in installed_sets(gateway):
        return False
    assign(gateway, INTEGRATION, [user_id])
    return True


def unassign(gateway: SalesforceGateway, name: str, user_ids: Iterable[str]) -> list[str]:
    have = assignees(gateway, name)
    gone = [i for i in dict.fromkeys(user_ids) if i in have]
    if gone:
        _check(gateway.delete(have[i] for i in gone), f"remove {name}'s assignments")
    return gone


def set_readers(
    gateway: SalesforceGateway, user_ids: Iterable[str], among: Iterable[str]
) -> tuple[list, list]:
    """Of the users ``among`` (those the admin was shown), make exactly ``user_ids`` the
    reader set's assignees; others (an inactive user, say) keep what they have.
    Returns (added, removed)."""
    wanted, shown = set(user_ids), set(among)
    dropped = (set(assignees(gateway, READER)) & shown) - wanted
    removed = unassign(gateway, READER, dropped)
    return assign(gateway, READER, sorted(wanted & shown)), removed


def remove(gateway: SalesforceGateway) -> list[str]:
    """Delete cmsync's permission sets: their assignments first (Salesforce refuses to delete
    an assigned set), then the sets, whose object and field permissions go with them.
    Returns the names deleted; idempotent."""
    removed = []
    for name, set_id in installed_sets(gateway).items():
        unassign(gateway, name, assignees(gateway, name))
        _check(gateway.delete([set_id]), f"remove the permission set {name}")
        removed.append(f"{name}: the permission set")
    return removed


# -- what the sync user can use ----------------------------------------------------------------


def unusable(gateway: SalesforceGateway) -> tuple[list[schema.Component], list[str]]:
    """What of cmsync's schema a run cannot use: the components missing from the org, and
    the full names of those installed that the gateway's user may not read and write."""
    missing = schema.missing(gateway)
    installed = [c for c in schema.components() if c not in missing]
    return missing, inaccessible(gateway, installed)


def inaccessible(gateway: SalesforceGateway, installed: Iterable[schema.Component]) -> list[str]:
    """The installed components the gateway's user cannot read and write, from a describe of
    each object as that user: Salesforce leaves out what the user may not see."""
    by_object: dict[str, list[schema.Component]] = {}
    for component in installed:
        by_object.setdefault(component.object_name, []).append(component)
    blocked = []
    for object_name, parts in by_object.items():
        try:
            info = gateway.describe(object_name)
        except NotFoundError:  # an object the user may not read does not exist for it
            blocked += [c.full_name for c in parts]
            continue
        for component in parts:
            if component.kind == "CustomObject":
                usable = info.createable and info.updateable
            else:
                found = info.field(component.full_name.split(".")[1])
                usable = found is not None and (found.createable or found.updateable)
            if not usable:
                blocked.append(component.full_name)
    return blocked
