"""The write path: create, update, upsert and delete with Salesforce's checks.

Every write goes through the same steps Salesforce applies, in roughly its order: unknown
fields (INVALID_FIELD), read-only fields (INVALID_FIELD_FOR_INSERT_UPDATE), JSON types
(JSON_PARSER_ERROR), required fields, lengths, e-mail format, restricted picklists,
references, object-specific rules (campaigns.py), unique fields and validation rules.
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.clock import Clock, format_datetime, parse_date, parse_datetime
from emulators.salesforce.errors import SfError, entity_is_deleted, json_parser_error, not_found
from emulators.salesforce.query import converter
from emulators.salesforce.schema import (
    AUDIT_FIELDS,
    ID_TYPES,
    NUMBER_TYPES,
    Field,
    Registry,
    SObject,
)
from emulators.salesforce.store import Store, quote

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$"
)
READ_ONLY_MESSAGE = (
    "Unable to create/update fields: {}. Please check the security settings of this field and "
    "verify that it is read/write for your profile or permission set."
)


@dataclass
class Actor:
    """Who writes. allow_audit is Salesforce's "Set Audit Fields upon Record Creation";
    skip_rules lets seeding create data that predates the validation rules; allow_save is
    the request's Sforce-Duplicate-Rule-Header allowSave=true (alert duplicate rules let
    the save through, block rules still refuse); skip_duplicates is the control surface's
    unrestricted insert, which no duplicate rule stops. access is the user's object and
    field access (security.Access); None (the control surface, seeding) is not checked."""

    user_id: str
    allow_audit: bool = False
    skip_rules: bool = False
    access: Any = None
    allow_save: bool = False
    skip_duplicates: bool = False

    def sees(self, obj: SObject, f: Field) -> bool:
        return self.access is None or self.access.sees(obj, f)

    def can(self, obj: SObject, operation: str) -> bool:
        return self.access is None or self.access.can(obj, operation)


@dataclass
class ValidationRule:
    id: str
    object: str
    field: str
    equals: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "field": self.field,
            "equals": self.equals,
            "message": self.message,
        }


@dataclass(frozen=True)
class Saved:
    """A record created or updated, deferred (Store.defer) until its transaction commits."""

    object: str
    id: str
    created: bool


class MultipleMatches(SfError):
    """An external id value found on more than one record."""

    def __init__(self, field_name: str, record_ids: list[str]) -> None:
        super().__init__(
            "DUPLICATE_EXTERNAL_ID",
            f"{field_name}: more than one record found for external id field: "
            f"[{', '.join(record_ids)}]",
            [],
            status=300,
        )
        self.record_ids = record_ids


Hook = Callable[..., None]


class Engine:
    def __init__(self, store: Store, registry: Registry, clock: Clock, idf: ids.IdFactory) -> None:
        self.store, self.registry, self.clock, self.ids = store, registry, clock, idf
        self.rules: list[ValidationRule] = []
        # Checks other modules add (duplicates.py): run after the validation rules, as
        # Salesforce runs duplicate rules after them.
        self.after_rules: list[Callable[[SObject, dict[str, Any], Actor], None]] = []
        # object name -> {"before_save" | "after_save" | "before_delete": hook}
        self.hooks: dict[str, dict[str, Hook]] = {}

    # -- lookups ---------------------------------------------------------------------------

    def sobject(self, name: str, actor: Actor | None = None) -> SObject:
        """The object, or Salesforce's 404 (also for an object the actor may not read)."""
        obj = self.registry.get(name)
        if obj is None or (actor is not None and not actor.can(obj, "read")):
            raise not_found()
        return obj

    def live(self, obj: SObject, record_id: str) -> dict[str, Any]:
        """A record that exists and is not deleted, or Salesforce's 404."""
        normal = ids.normalize(record_id)
        record = self.store.load(obj, normal) if normal else None
        if record is None:
            raise not_found()
        if record.get("IsDeleted"):
            raise entity_is_deleted()
        return record

    def object_for_id(self, record_id: str) -> SObject | None:
        return self.registry.by_prefix(record_id[:3]) if record_id else None

    # -- entry points ----------------------------------------------------------------------

    def create(self, obj: SObject, data: Any, actor: Actor) -> str:
        if not obj.createable or not actor.can(obj, "create"):
            raise SfError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be inserted", [])
        if isinstance(data, dict) and any(k.lower() == "id" for k in data):
            raise SfError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
            )
        values = self.read_input(obj, data, creating=True, actor=actor)
        with self.store.transaction():
            record = self.defaults(obj, actor)
            record.update(values)
            self.check(obj, record, None, set(values) | set(record), actor)
            record["Id"] = self.ids.new(obj.key_prefix)
            self.stamp(obj, record, actor, creating=True)
            self.store.insert(obj, record)
            self.store.defer(Saved(obj.name, record["Id"], True))
            self.hook(obj, "after_save", record, None, actor)
        return record["Id"]

    def update(self, obj: SObject, record_id: str, data: Any, actor: Actor) -> None:
        if not obj.updateable or not actor.can(obj, "edit"):
            raise SfError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be updated", [])
        with self.store.transaction():  # the read belongs to the write: no one may slip in
            current = self.live(obj, record_id)
            self.hook(obj, "before_update", current)
            values = self.read_input(obj, data, False, actor, record_id=current["Id"])
            record = {**current, **values}
            self.check(obj, record, current, set(values), actor)
            self.stamp(obj, record, actor, creating=False)
            changes = {k: v for k, v in record.items() if current.get(k) != v}
            self.store.update(obj, current["Id"], changes)
            self.store.defer(Saved(obj.name, current["Id"], False))
            self.hook(obj, "after_save", record, current, actor)

    def upsert(
        self, obj: SObject, field_name: str, value: Any, data: Any, actor: Actor
    ) -> tuple[str, bool]:
        """Create or update by external id. Returns (id, created)."""
        f = obj.field(field_name)
        if f is None or not f.id_lookup or not actor.sees(obj, f):
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        if not isinstance(data, dict):
            raise json_parser_error("Expected a JSON object for the record")
        body = {k: v for k, v in data.items() if k.lower() != f.name.lower()}
        if f.type == "id":
            self.update(obj, str(value), body, actor)
            return ids.normalize(str(value)) or str(value), False
        stored = self.coerce(f, value)
        with self.store.transaction():
            matches = self.store.find(obj, f.name, stored, f.case_sensitive)
            if len(matches) > 1:
                raise MultipleMatches(f.name, matches)
            if matches:
                self.update(obj, matches[0], body, actor)
                return matches[0], False
            return self.create(obj, {**body, f.name: value}, actor), True

    def delete(self, obj: SObject, record_id: str, actor: Actor) -> None:
        if not obj.deletable or not actor.can(obj, "delete"):
            raise SfError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted", [])
        with self.store.transaction():
            record = self.live(obj, record_id)
            self.hook(obj, "before_delete", record, actor)
            self.check_restrict(obj, record["Id"])
            self.soft_delete(obj, record["Id"], actor)

    # -- input -----------------------------------------------------------------------------

    def read_input(
        self, obj: SObject, data: Any, creating: bool, actor: Actor, record_id: str = ""
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise json_parser_error(
                f"Cannot deserialize instance of {obj.name} from {_token(data)} value"
            )
        values: dict[str, Any] = {}
        denied: list[str] = []
        for key, raw in data.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None or not actor.sees(obj, f):  # a field the user can't see isn't there
                raise SfError(
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {obj.name}",
                    request_level=True,
                )
            if f.name == "Id" and not creating and ids.normalize(raw) == record_id:
                continue
            if not self.writable(obj, f, creating, actor):
                denied.append(f.name)
                continue
            values[f.name] = self.coerce(f, raw)
        if denied:
            raise SfError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                READ_ONLY_MESSAGE.format(", ".join(denied)),
                denied,
            )
        return values

    @staticmethod
    def writable(obj: SObject, f: Field, creating: bool, actor: Actor) -> bool:
        if creating and actor.allow_audit and f.name in AUDIT_FIELDS:
            return True
        if actor.access is not None and not actor.access.edits(obj, f):
            return False  # read-only field-level security
        return f.createable if creating else f.updateable

    def coerce(self, f: Field, raw: Any) -> Any:
        """A JSON value as the stored representation of the field's type."""
        if raw is None:
            return 0 if f.type == "boolean" else None
        if f.type == "boolean":
            return _boolean(f, raw)
        if f.type in NUMBER_TYPES:
            return _number(f, raw)
        if f.type == "date":
            parsed = parse_date(raw) if isinstance(raw, str) else None
            if parsed is None:
                raise _cannot(f, "date", raw, "or value is not a valid date")
            return parsed.isoformat()
        if f.type == "datetime":
            moment = parse_datetime(raw) if isinstance(raw, str) else None
            if moment is None:
                raise _cannot(f, "datetime", raw, "or value is not a valid datetime")
            return format_datetime(moment)
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        elif isinstance(raw, int | float):
            raw = str(raw)
        elif not isinstance(raw, str):
            raise _cannot(f, "String", raw)
        return raw or None  # Salesforce stores an empty string as null

    # -- checks ----------------------------------------------------------------------------

    def defaults(self, obj: SObject, actor: Actor) -> dict[str, Any]:
        record = {f.name: f.default for f in obj.stored_fields() if f.default is not None}
        if obj.field("OwnerId"):
            record["OwnerId"] = actor.user_id
        for f in obj.stored_fields():
            if f.auto_number:
                record[f.name] = self.auto_number(obj, f)
        return record

    def auto_number(self, obj: SObject, f: Field) -> str:
        key = f"autonumber:{obj.name}.{f.name}"
        number = int(self.store.meta(key, 0)) + 1
        self.store.set_meta(key, number)
        fmt = f.auto_number or "{0}"
        match = re.search(r"\{(0+)\}", fmt)
        if not match:
            return f"{fmt}{number}"
        return fmt[: match.start()] + str(number).zfill(len(match.group(1))) + fmt[match.end() :]

    def check(
        self,
        obj: SObject,
        record: dict[str, Any],
        current: dict[str, Any] | None,
        changed: set[str],
        actor: Actor,
    ) -> None:
        missing = [f.name for f in obj.stored_fields() if f.required and record.get(f.name) is None]
        if missing:
            raise SfError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for f in obj.stored_fields():
            if f.name in changed and record.get(f.name) is not None:
                record[f.name] = self.check_value(f, record[f.name])
        self.hook(obj, "before_save", record, current, actor, changed)
        self.check_unique(obj, record, current, changed)
        if not actor.skip_rules:
            self.check_rules(obj, record)
            for extra in self.after_rules:
                extra(obj, record, actor)

    def check_value(self, f: Field, value: Any) -> Any:
        if f.type in ID_TYPES:
            return self.check_reference(f, value)
        if f.type in NUMBER_TYPES:
            return _check_precision(f, value)
        if not f.is_string:
            return value
        if f.length and len(value) > f.length:
            raise SfError(
                "STRING_TOO_LONG",
                f"{f.label}: data value too large: {value} (max length={f.length})",
                [f.name],
            )
        if f.type == "email" and not EMAIL_RE.match(value):
            raise SfError(
                "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", [f.name]
            )
        if f.restricted:
            allowed = {p.value for p in f.picklist if p.active}
            # A multi-select picklist holds its values joined by ";", each checked alone.
            chosen = value.split(";") if f.type == "multipicklist" else [value]
            bad = next((v for v in chosen if v not in allowed), None)
            if bad is not None:
                raise SfError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"bad value for restricted picklist field: {bad}",
                    [f.name],
                )
        return value

    def check_reference(self, f: Field, value: str) -> str:
        normal = ids.normalize(value)
        targets = [self.registry.get(name) for name in f.reference_to]
        label = f.label.removesuffix(" ID")
        if normal is None:
            raise SfError(
                "MALFORMED_ID", f"{label} ID: id value of incorrect type: {value}", [f.name]
            )
        target = next((t for t in targets if t and t.key_prefix == normal[:3]), None)
        if target is None:
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{label} ID: id value of incorrect type: {value}",
                [f.name],
            )
        found = self.store.load(target, normal)
        if found is None:
            raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
        if found.get("IsDeleted"):
            raise SfError("ENTITY_IS_DELETED", "entity is deleted", [f.name])
        return normal

    def check_unique(
        self,
        obj: SObject,
        record: dict[str, Any],
        current: dict[str, Any] | None,
        changed: set[str],
    ) -> None:
        for f in obj.unique_fields():
            value = record.get(f.name)
            if value is None or (current is not None and f.name not in changed):
                continue
            others = self.store.find(
                obj, f.name, value, f.case_sensitive, 'AND "Id" != ?', [record.get("Id") or ""]
            )
            if others:
                raise SfError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{ids.to15(others[0])}",
                    [],
                )

    def check_rules(self, obj: SObject, record: dict[str, Any]) -> None:
        for rule in self.rules:
            f = obj.field(rule.field) if rule.object.lower() == obj.name.lower() else None
            if f is not None and converter(f)(record.get(f.name)) == rule.equals:
                raise SfError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, [])

    def check_restrict(self, obj: SObject, record_id: str) -> None:
        for child, f in self.registry.children_of(obj.name):
            if f.delete_constraint == "Restrict" and self.store.find(child, f.name, record_id):
                raise SfError(
                    "DELETE_FAILED",
                    f"Your attempt to delete {obj.label} could not be completed because it is "
                    f"associated with the following {child.label_plural.lower()}.",
                    [],
                )

    # -- bookkeeping -----------------------------------------------------------------------

    def stamp(self, obj: SObject, record: dict[str, Any], actor: Actor, creating: bool) -> None:
        now = self.clock.stamp()
        if creating:
            record["IsDeleted"] = 0
            record.setdefault("CreatedDate", now)
            record.setdefault("CreatedById", actor.user_id)
            record.setdefault("LastModifiedDate", record["CreatedDate"])
            record.setdefault("LastModifiedById", record["CreatedById"])
            record["SystemModstamp"] = record["LastModifiedDate"]
            return
        record.update(LastModifiedDate=now, LastModifiedById=actor.user_id, SystemModstamp=now)

    def soft_delete(self, obj: SObject, record_id: str, actor: Actor) -> None:
        """Delete to the recycle bin; children follow (cascade) or lose the reference."""
        now = self.clock.stamp()
        self.store.update(
            obj,
            record_id,
            {
                "IsDeleted": 1,
                "LastModifiedDate": now,
                "SystemModstamp": now,
                "LastModifiedById": actor.user_id,
            },
        )
        for child, f in self.registry.children_of(obj.name):
            if f.name in ("CreatedById", "LastModifiedById", "OwnerId"):
                continue
            for child_id in self.store.find(child, f.name, record_id):
                if f.cascade_delete:
                    self.soft_delete(child, child_id, actor)
                else:
                    self.store.update(child, child_id, {f.name: None})

    def hook(self, obj: SObject, event: str, *args: Any) -> None:
        handler = self.hooks.get(obj.name, {}).get(event)
        if handler:
            handler(*args)

    def deleted_since(self, obj: SObject, start: str, end: str) -> list[tuple[str, str]]:
        sql = (
            f'SELECT "Id", "SystemModstamp" FROM {quote(obj.table)} WHERE "IsDeleted" = 1 '
            'AND "SystemModstamp" >= ? AND "SystemModstamp" <= ? ORDER BY _rid'
        )
        return [(row[0], row[1]) for row in self.store.rows(sql, (start, end))]

    def updated_since(self, obj: SObject, start: str, end: str) -> list[str]:
        sql = (
            f'SELECT "Id" FROM {quote(obj.table)} WHERE "IsDeleted" = 0 '
            'AND "SystemModstamp" >= ? AND "SystemModstamp" <= ? ORDER BY _rid'
        )
        return [row[0] for row in self.store.rows(sql, (start, end))]


def _token(raw: Any) -> str:
    if isinstance(raw, bool):
        return "VALUE_TRUE" if raw else "VALUE_FALSE"
    if isinstance(raw, int):
        return "VALUE_NUMBER_INT"
    if isinstance(raw, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(raw, str):
        return "VALUE_STRING"
    return "START_ARRAY" if isinstance(raw, list) else "START_OBJECT"


def _cannot(f: Field, type_name: str, raw: Any, tail: str = "") -> SfError:
    shown = json.dumps(raw) if not isinstance(raw, str) else raw
    return json_parser_error(
        f"Cannot deserialize instance of {type_name} from {_token(raw)} value {shown} "
        f"{tail or 'or request may be missing a required field'}"
    )


def _boolean(f: Field, raw: Any) -> int:
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return int(raw.lower() == "true")
    raise _cannot(f, "boolean", raw)


def _number(f: Field, raw: Any) -> int | float:
    value: Any = raw
    if isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _cannot(f, "int" if f.type == "int" else "double", raw)
    if f.type == "int":
        if value != int(value):
            raise _cannot(f, "int", raw)
        return int(value)
    return float(value)


def _check_precision(f: Field, value: int | float) -> int | float:
    if not f.custom or not f.precision:
        return value
    if abs(value) >= 10 ** (f.precision - f.scale):
        raise SfError(
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{f.label}: value outside of valid range on numeric field: {value}",
            [f.name],
        )
    return round(value, f.scale)
