"""Custom objects and fields, installed and removed through the Tooling API (page layouts and
custom buttons: see layouts; custom object tabs: see tabs).

Until a custom object or field is installed it does not exist: queries fail with
INVALID_TYPE / INVALID_FIELD and writes with NOT_FOUND / INVALID_FIELD, as in an org where
nobody deployed the package yet. Installs are kept in the _tooling_CustomObject and
_tooling_CustomField tables, which are also what `tooling/query` reads.
"""

import json
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.dml import Engine
from emulators.salesforce.errors import SfError, not_found
from emulators.salesforce.layouts import Layouts
from emulators.salesforce.schema import (
    CUSTOMIZABLE,
    NAME_RE,
    Field,
    PicklistValue,
    Registry,
    SObject,
    make_object,
    system_fields,
)
from emulators.salesforce.tabs import Tabs

_SIMPLE_TYPES = {
    "Email": ("email", 80),
    "Url": ("url", 255),
    "Phone": ("phone", 40),
    "Date": ("date", 0),
    "DateTime": ("datetime", 0),
    "TextArea": ("textarea", 255),
}
_NUMERIC_TYPES = {"Number": "double", "Percent": "percent", "Currency": "currency"}
_EXTERNAL_ID_TYPES = frozenset({"Text", "Number", "Email"})


def unsupported(type_name: str, doing: str) -> SfError:
    """Tooling API types and operations the emulator does not have."""
    known = {"customobject", "customfield", "layout", "weblink", "customtab"}
    if type_name.lower() not in known:
        return not_found()
    return not_found(f"Not supported by the Salesforce emulator: {doing} {type_name}")


def _integrity(message: str, fields: list[str] | None = None) -> SfError:
    return SfError("FIELD_INTEGRITY_EXCEPTION", message, fields or [])


def _missing(name: str) -> SfError:
    return SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])


def developer_name(full_name: str) -> str:
    """'CM_Foo__c' -> 'CM_Foo' (checked: letters, digits, single underscores, <= 40)."""
    if not isinstance(full_name, str) or not full_name.endswith("__c"):
        raise _integrity(f"Invalid custom name: {full_name}. Custom names must end with __c.")
    base = full_name[:-3]
    if not NAME_RE.match(base) or len(base) > 40:
        raise _integrity(
            f"The API name {full_name} can only contain underscores and alphanumeric "
            "characters. It must be unique, begin with a letter, not include spaces, not end "
            "with an underscore, and not contain two consecutive underscores."
        )
    return base


def define_object(full_name: str, metadata: dict[str, Any], prefix: str, tid: str) -> SObject:
    name_meta = metadata.get("nameField") or {}
    auto = name_meta.get("type") == "AutoNumber"
    name_field = Field(
        "Name",
        "string",
        name_meta.get("label") or "Name",
        length=80 if not auto else 30,
        nillable=auto,
        name_field=True,
        auto_number=name_meta.get("displayFormat") if auto else None,
    )
    obj = make_object(
        full_name,
        metadata["label"],
        metadata["pluralLabel"],
        prefix,
        [*system_fields(), name_field],
        custom=True,
        tooling_id=tid,
    )
    return obj


def check_object_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise _missing("Metadata")
    for key in ("label", "pluralLabel", "deploymentStatus", "sharingModel"):
        if not metadata.get(key):
            raise _missing(key)
    name_meta = metadata.get("nameField")
    if not isinstance(name_meta, dict) or name_meta.get("type") not in ("AutoNumber", "Text"):
        raise _integrity("nameField must have a type of Text or AutoNumber", ["nameField"])
    if not name_meta.get("label"):
        raise _missing("nameField.label")
    if name_meta["type"] == "AutoNumber" and not name_meta.get("displayFormat"):
        raise _missing("nameField.displayFormat")
    return metadata


def define_field(name: str, meta: dict[str, Any], registry: Registry, tid: str) -> Field:
    """A Field from CustomField metadata, or Salesforce's complaint about the metadata."""
    kind = meta.get("type")
    if not meta.get("label"):
        raise _missing("label")
    f = Field(name, "string", meta["label"], custom=True, tooling_id=tid)
    if kind == "Text":
        f.length = _int(meta, "length", 1, 255)
    elif kind == "LongTextArea":
        f.type, f.length = "textarea", _int(meta, "length", 256, 131072)
    elif kind in _SIMPLE_TYPES:
        f.type, f.length = _SIMPLE_TYPES[kind]
    elif kind == "Checkbox":
        f.type, f.nillable, f.default = "boolean", False, _checkbox_default(meta)
    elif kind in _NUMERIC_TYPES:
        f.type = _NUMERIC_TYPES[kind]
        f.precision = _int(meta, "precision", 1, 18)
        f.scale = _int(meta, "scale", 0, f.precision)
    elif kind in ("Picklist", "MultiselectPicklist"):
        _picklist(f, meta)
        if kind == "MultiselectPicklist":
            f.type, f.length, f.default = "multipicklist", 4099, None
    elif kind == "Lookup":
        _lookup(f, meta, registry)
    else:
        raise _integrity(f"Unsupported or unknown field type: {kind}", ["type"])
    _flags(f, kind, meta)
    return f


def _int(meta: dict[str, Any], key: str, low: int, high: int) -> int:
    value = meta.get(key)
    if value is None:
        raise _missing(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _integrity(f"{key} must be a number between {low} and {high}: {value}", [key])
    return value


def _checkbox_default(meta: dict[str, Any]) -> int:
    default = str(meta.get("defaultValue", "")).lower()
    if default not in ("true", "false"):
        raise _integrity(
            "Checkbox fields require a default value of true or false", ["defaultValue"]
        )
    return int(default == "true")


def _picklist(f: Field, meta: dict[str, Any]) -> None:
    value_set = meta.get("valueSet") or {}
    values = ((value_set.get("valueSetDefinition") or {}).get("value")) or []
    if not values:
        raise _missing("valueSet")
    f.type, f.length = "picklist", 255
    f.restricted = bool(value_set.get("restricted"))
    f.picklist = tuple(
        PicklistValue(v["fullName"], v.get("label") or v["fullName"], bool(v.get("default")))
        for v in values
    )
    f.default = f.picklist_default()


def _lookup(f: Field, meta: dict[str, Any], registry: Registry) -> None:
    target = registry.get(str(meta.get("referenceTo") or ""))
    if target is None:
        raise _integrity(f"referenceTo: no such object {meta.get('referenceTo')}", ["referenceTo"])
    relationship = meta.get("relationshipName")
    if not relationship or not NAME_RE.match(relationship):
        raise _missing("relationshipName")
    constraint = meta.get("deleteConstraint") or "SetNull"
    if constraint not in ("SetNull", "Restrict"):
        raise _integrity(
            f"deleteConstraint {constraint} is not allowed on a lookup field", ["deleteConstraint"]
        )
    f.type, f.length, f.reference_to = "reference", 18, (target.name,)
    f.relationship_name, f.delete_constraint, f.indexed = relationship + "__r", constraint, True


def _flags(f: Field, kind: str, meta: dict[str, Any]) -> None:
    f.external_id = bool(meta.get("externalId"))
    f.unique = bool(meta.get("unique"))
    f.case_sensitive = bool(meta.get("caseSensitive"))
    if (f.external_id or f.unique) and kind not in _EXTERNAL_ID_TYPES:
        raise _integrity(
            "External ID and unique can only be set on Text, Number and Email fields",
            ["externalId"],
        )
    if meta.get("required") and kind != "Checkbox":
        f.nillable = False


class Tooling:
    def __init__(self, engine: Engine, registry: Registry, security: Any = None) -> None:
        self.engine, self.registry = engine, registry
        self.security = security  # security.Security: permission rows go with the schema
        self.store, self.data = engine.store, engine.registry
        self.layouts = Layouts(self)
        self.tabs = Tabs(self)

    def objects(self) -> tuple[SObject, SObject]:
        obj_meta, field_meta = self.registry.get("CustomObject"), self.registry.get("CustomField")
        assert obj_meta is not None and field_meta is not None
        return obj_meta, field_meta

    # -- install ---------------------------------------------------------------------------

    def create(self, type_name: str, body: Any) -> str:
        if not isinstance(body, dict):
            raise _missing("FullName")
        kind = type_name.lower()
        with self.store.lock:  # one schema change at a time, and none during a query plan
            if kind == "customobject":
                return self.create_object(body.get("FullName"), body.get("Metadata"))
            if kind == "customfield":
                return self.create_field(body.get("FullName"), body.get("Metadata"))
            if kind == "weblink":
                return self.layouts.create_web_link(body.get("FullName"), body.get("Metadata"))
            if kind == "customtab":
                return self.tabs.create(body.get("FullName"), body.get("Metadata"))
        raise unsupported(type_name, "creating")

    def create_object(self, full_name: Any, metadata: Any) -> str:
        base = developer_name(full_name)
        metadata = check_object_metadata(metadata)
        if self.data.get(full_name):
            raise SfError(
                "DUPLICATE_DEVELOPER_NAME", f"There is already an object named {full_name}.", []
            )
        obj_meta, _ = self.objects()
        tid = self.engine.ids.new(obj_meta.key_prefix)
        prefix = self.next_prefix()
        obj = define_object(full_name, metadata, prefix, tid)
        with self.store.transaction():
            self.store.set_meta(f"prefix:{tid}", prefix)
            self.store.create_table(obj)
            self.store.insert(obj_meta, self.meta_row(tid, base, full_name, metadata))
            self.data.add(obj)
            self.layouts.object_created(obj)
        return tid

    def create_field(self, full_name: Any, metadata: Any) -> str:
        if not isinstance(full_name, str) or full_name.count(".") != 1:
            raise _integrity(f"Invalid field name: {full_name}. Use Object.Field__c.")
        object_name, field_name = full_name.split(".")
        base = developer_name(field_name)
        obj = self.data.get(object_name)
        if obj is None or not (obj.custom or obj.name in CUSTOMIZABLE):
            raise _integrity(f"Cannot create custom fields on entity: {object_name}")
        if obj.field(field_name):
            raise SfError(
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already a field named {base} on {obj.name}.",
                [],
            )
        if not isinstance(metadata, dict):
            raise _missing("Metadata")
        _, field_meta = self.objects()
        tid = self.engine.ids.new(field_meta.key_prefix)
        new = define_field(field_name, metadata, self.data, tid)
        self.check_relationship(obj, new)
        table_id = obj.tooling_id if obj.custom else obj.name
        row = self.meta_row(tid, base, f"{obj.name}.{field_name}", metadata)
        with self.store.transaction():
            self.store.add_column(obj, new)
            self.store.insert(field_meta, {**row, "TableEnumOrId": table_id})
            obj.add(new)
        return tid

    @staticmethod
    def check_relationship(obj: SObject, new: Field) -> None:
        if new.relationship_name and obj.relationship(new.relationship_name):
            raise SfError(
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already a relationship named {new.relationship_name} on {obj.name}.",
                [],
            )

    def meta_row(self, tid: str, base: str, full: str, metadata: dict[str, Any]) -> dict[str, Any]:
        now = self.engine.clock.stamp()
        return {
            "Id": tid,
            "DeveloperName": base,
            "NamespacePrefix": None,
            "FullName": full,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "Metadata": json.dumps(metadata),
        }

    def next_prefix(self) -> str:
        number = int(self.store.meta("custom_prefix_counter", 0)) + 1
        self.store.set_meta("custom_prefix_counter", number)
        return "a" + ids.base62(number, 2)

    # -- change --------------------------------------------------------------------------

    def update(self, type_name: str, record_id: str, body: Any) -> None:
        normal = ids.normalize(record_id) or ""
        kind = type_name.lower()
        if kind not in ("layout", "weblink"):
            raise unsupported(type_name, "updating")
        with self.store.lock, self.store.transaction():
            self.layouts.update(kind, normal, body)

    # -- remove ----------------------------------------------------------------------------

    def delete(self, type_name: str, record_id: str) -> None:
        normal = ids.normalize(record_id) or ""
        kind = type_name.lower()
        with self.store.lock:
            if kind == "customfield":
                self.delete_field(normal)
            elif kind == "customobject":
                self.delete_object(normal)
            elif kind == "weblink":
                self.layouts.delete_web_link(normal)
            elif kind == "customtab":
                self.tabs.delete(normal)
            else:
                raise unsupported(type_name, "deleting")

    def field_by_tooling_id(self, tid: str) -> tuple[SObject, Field] | None:
        for obj in self.data.objects.values():
            for f in obj.fields.values():
                if f.tooling_id == tid:
                    return obj, f
        return None

    def delete_field(self, tid: str) -> None:
        found = self.field_by_tooling_id(tid)
        if found is None:
            raise not_found()
        obj, f = found
        _, field_meta = self.objects()
        with self.store.transaction():
            self.store.drop_column(obj, f)
            self.store.execute(f'DELETE FROM "{field_meta.table}" WHERE "Id" = ?', (tid,))
            self.layouts.field_deleted(obj, f)  # Salesforce takes it off every layout
            if self.security is not None:
                self.security.field_deleted(obj, f)  # and its field permissions go
            obj.fields.pop(f.name.lower(), None)

    def delete_object(self, tid: str) -> None:
        obj = next((o for o in self.data.objects.values() if o.tooling_id == tid), None)
        if obj is None:
            raise not_found()
        referencing = [c for c, _ in self.data.children_of(obj.name) if c is not obj]
        if referencing:
            raise SfError(
                "DELETE_FAILED",
                f"This custom object is referenced by a lookup field on {referencing[0].name}. "
                "Delete the lookup field first.",
                [],
            )
        obj_meta, field_meta = self.objects()
        with self.store.transaction():
            self.store.drop_table(obj)
            self.store.execute(
                f'DELETE FROM "{field_meta.table}" WHERE "TableEnumOrId" = ?', (tid,)
            )
            self.store.execute(f'DELETE FROM "{obj_meta.table}" WHERE "Id" = ?', (tid,))
            self.layouts.object_deleted(obj)  # its layouts, buttons and related lists go too
            if self.security is not None:
                self.security.object_deleted(obj)  # and its object and field permissions
            self.tabs.object_deleted(obj)  # and its tab
            self.data.remove(obj)

    # -- reopening a data_dir --------------------------------------------------------------

    def load(self) -> None:
        """Rebuild custom objects and fields from the install tables."""
        self.layouts.ensure_tables()
        self.tabs.ensure_table()
        obj_meta, field_meta = self.objects()
        for tid, full, meta in self.store.rows(
            f'SELECT "Id", "FullName", "Metadata" FROM "{obj_meta.table}" ORDER BY _rid'
        ):
            prefix = self.store.meta(f"prefix:{tid}")
            self.data.add(define_object(full, json.loads(meta), prefix, tid))
        for tid, full, meta in self.store.rows(
            f'SELECT "Id", "FullName", "Metadata" FROM "{field_meta.table}" ORDER BY _rid'
        ):
            object_name, field_name = full.split(".")
            obj = self.data.get(object_name)
            if obj is not None:
                obj.add(define_field(field_name, json.loads(meta), self.data, tid))
