"""sObject Collections: up to 200 records per call, HTTP 200 with one result per record.

Each record runs in its own savepoint, so a failing record leaves no trace; with allOrNone
the whole call rolls back and the records that did not fail report
ALL_OR_NONE_OPERATION_ROLLED_BACK. Errors that mean the body could not be read at all
(JSON_PARSER_ERROR, an unknown field) fail the whole call with HTTP 400, as in Salesforce.

This is also the per-record write path of Bulk API 2.0 jobs (bulk.py): a job's rows become
the same operations and run through run() 200 at a time, so a row fails with exactly the
code and message a collection record would. The savepoints are lazy (store.py): a record
refused before it writes costs no statement.
"""

from collections.abc import Callable
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.dml import Actor, Engine, MultipleMatches
from emulators.salesforce.errors import ROLLED_BACK, SfError
from emulators.salesforce.schema import Field, SObject
from emulators.salesforce.store import Store

MAX_RECORDS = 200
Operation = tuple[str | None, Callable[[], dict[str, Any]]]


class _RolledBack(Exception):
    pass


def too_many() -> SfError:
    return SfError(
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
    )


def lock_error(record_id: str | None) -> SfError:
    return SfError(
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records: {record_id or ''}",
        [],
    )


def run(
    store: Store,
    operations: list[Operation],
    all_or_none: bool,
    locked: bool = False,
    locked_rows: frozenset[int] = frozenset(),
    contained: bool = False,
) -> list[dict[str, Any]]:
    """One result per operation, in order. locked fails every record with
    UNABLE_TO_LOCK_ROW, locked_rows only those positions; contained turns errors that
    would fail a whole collection call into that record's failure (Bulk rows)."""
    results: list[dict[str, Any]] = []
    try:
        with store.transaction():
            for index, (known_id, operation) in enumerate(operations):
                row_locked = locked or index in locked_rows
                results.append(_one(store, known_id, operation, row_locked, contained))
            if all_or_none and any(not r["success"] for r in results):
                raise _RolledBack
    except _RolledBack:
        results = [
            _failure(known_id, ROLLED_BACK) if result["success"] else result
            for (known_id, _), result in zip(operations, results, strict=True)
        ]
    return results


def _one(
    store: Store,
    known_id: str | None,
    operation: Callable[[], dict[str, Any]],
    locked: bool,
    contained: bool = False,
) -> dict[str, Any]:
    try:
        if locked:
            raise lock_error(known_id)
        with store.transaction():
            return operation()
    except SfError as error:
        if error.request_level and not contained:
            raise
        return _failure(known_id, _per_record(error))


def _per_record(error: SfError) -> SfError:
    """Single-record REST's 404s read differently inside a collection."""
    if error.code == "NOT_FOUND":
        return SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
    return error


def _failure(known_id: str | None, error: SfError) -> dict[str, Any]:
    result: dict[str, Any] = {"success": False, "errors": [error.item()]}
    return {"id": known_id, **result} if known_id else result


def records_of(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfError(
            "JSON_PARSER_ERROR", "Expected a JSON object with a records array", request_level=True
        )
    if len(body["records"]) > MAX_RECORDS:
        raise too_many()
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise SfError("JSON_PARSER_ERROR", "allOrNone must be a boolean", request_level=True)
    return body["records"], all_or_none


def record_type(engine: Engine, record: Any, actor: Actor, fallback: str = "") -> SObject:
    """The record's object; one the actor may not read is as unknown as a missing one."""
    attributes = record.get("attributes") if isinstance(record, dict) else None
    name = (attributes or {}).get("type") or fallback
    if not name:
        raise SfError("INVALID_TYPE", "Must send a concrete entity type.", [])
    obj = engine.registry.get(name)
    if obj is None or not actor.can(obj, "read"):
        raise SfError("INVALID_TYPE", f"sObject type '{name}' is not supported.", [])
    return obj


def parent_hint(record: Any) -> str | None:
    """The id Salesforce names in a lock error: the record, or the parent it locks."""
    if not isinstance(record, dict):
        return None
    for key in ("Id", "id", "CampaignId", "AccountId"):
        if isinstance(record.get(key), str):
            return ids.normalize(record[key]) or record[key]
    return None


def create_ops(engine: Engine, records: list[Any], actor: Actor) -> list[Operation]:
    def create(record: Any) -> dict[str, Any]:
        obj = record_type(engine, record, actor)
        return {"id": engine.create(obj, record, actor), "success": True, "errors": []}

    return [(None, lambda r=r: create(r)) for r in records]


def update_ops(engine: Engine, records: list[Any], actor: Actor) -> list[Operation]:
    def update(record: Any, record_id: str | None) -> dict[str, Any]:
        if not record_id:
            raise SfError("MISSING_ARGUMENT", "Id not specified in an update call", [])
        normal = ids.normalize(record_id)
        if normal is None:
            raise SfError("MALFORMED_ID", f"malformed id {record_id}", [])
        guess = engine.object_for_id(normal)
        obj = record_type(engine, record, actor, guess.name if guess else "")
        if normal[:3] != obj.key_prefix:
            raise SfError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {normal}")
        body = {k: v for k, v in record.items() if k.lower() != "id"}
        engine.update(obj, normal, body, actor)
        return {"id": normal, "success": True, "errors": []}

    ops: list[Operation] = []
    for record in records:
        record_id = None
        if isinstance(record, dict):
            record_id = record.get("Id") or record.get("id")
        ops.append((record_id, lambda r=record, i=record_id: update(r, i)))
    return ops


def delete_ops(engine: Engine, record_ids: list[str], actor: Actor) -> list[Operation]:
    def delete(record_id: str) -> dict[str, Any]:
        normal = ids.normalize(record_id)
        obj = engine.object_for_id(normal) if normal else None
        if normal is None or obj is None:
            raise SfError("MALFORMED_ID", f"malformed id {record_id}", [])
        engine.delete(obj, normal, actor)
        return {"id": normal, "success": True, "errors": []}

    return [(i, lambda i=i: delete(i)) for i in record_ids]


def external_field(obj: SObject, field_name: str, actor: Actor) -> Field:
    """The field an upsert matches on, or Salesforce's INVALID_FIELD."""
    f = obj.field(field_name)
    if f is None or not f.id_lookup or not actor.sees(obj, f):
        raise SfError(
            "INVALID_FIELD",
            f"Field name provided, {field_name} does not match an External ID, Salesforce Id, "
            f"or indexed field for {obj.name}",
        )
    return f


def external_key(f: Field, value: Any) -> str:
    """How two external id values compare: as typed, or ignoring case."""
    return str(value) if f.case_sensitive else str(value).lower()


def count_keys(f: Field, values: list[Any], seen: dict[str, int] | None = None) -> dict[str, int]:
    """How often each external id value occurs (added to seen, for a Bulk job's chunks)."""
    seen = {} if seen is None else seen
    for value in values:
        if value is not None:
            key = external_key(f, value)
            seen[key] = seen.get(key, 0) + 1
    return seen


def upsert_ops(
    engine: Engine,
    obj: SObject,
    field_name: str,
    records: list[Any],
    actor: Actor,
    seen: dict[str, int] | None = None,
) -> list[Operation]:
    """Upserts of records; seen, when given, counts the external ids of the whole job the
    records belong to (a value twice in it is refused on both rows)."""
    f = external_field(obj, field_name, actor)
    values = [external_value(r, f.name) for r in records]
    if seen is None:
        seen = count_keys(f, values)

    def upsert(record: Any, value: Any) -> dict[str, Any]:
        if record_type(engine, record, actor, obj.name) is not obj:
            raise SfError("INVALID_TYPE", f"Record type does not match {obj.name}", [])
        if value is None:
            raise SfError("MISSING_ARGUMENT", f"{f.name} not specified", [])
        if seen[external_key(f, value)] > 1:
            raise SfError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [])
        try:
            record_id, created = engine.upsert(obj, f.name, value, record, actor)
        except MultipleMatches as error:
            raise SfError(error.code, error.message, []) from error
        return {"id": record_id, "success": True, "errors": [], "created": created}

    return [(None, lambda r=r, v=v: upsert(r, v)) for r, v in zip(records, values, strict=True)]


def external_value(record: Any, field_name: str) -> Any:
    if not isinstance(record, dict):
        return None
    return next((v for k, v in record.items() if k.lower() == field_name.lower()), None)
