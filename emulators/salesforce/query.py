"""SOQL compiled to SQL over the store, with Salesforce's result pages and query locators.

The compiler resolves names against the schema (INVALID_TYPE, INVALID_FIELD), checks literal
types the way Salesforce does (a dateTime field only takes dateTime literals or date
functions, an Id only valid ids...), joins parent relationships, and emits parameterised SQL.
A query first collects the matching row ids (its snapshot), then fetches one page of records
at a time, so a 200,000-row result costs 8 bytes per row until it is paged through.
"""

import json
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.clock import day_start, format_literal, parse_datetime
from emulators.salesforce.errors import SfError, malformed_query
from emulators.salesforce.schema import ID_TYPES, NUMBER_TYPES, Field, Registry, SObject
from emulators.salesforce.soql import (
    ESCAPED,
    BoolOp,
    Compare,
    Count,
    FieldRef,
    InList,
    Literal,
    Not,
    Query,
    located,
    parse,
)
from emulators.salesforce.store import Store, quote

MAX_BATCH = 2000
MIN_BATCH = 200
MAX_OFFSET = 2000
MAX_CURSORS = 32
_TYPE_NAMES = {"double": "double", "currency": "double", "percent": "double", "int": "integer"}


@dataclass
class Column:
    path: tuple[str, ...]  # canonical relationship names from the root
    key: str
    index: int
    convert: Callable[[Any], Any]
    type: str = ""  # the field's type (Bulk API 2.0 query results format by it)


@dataclass
class Join:
    alias: str
    obj: SObject
    path: tuple[str, ...]
    id_index: int = -1


@dataclass
class Plan:
    obj: SObject
    version: str
    source: str  # FROM ... JOIN ...
    where: str
    params: list[Any]
    order: str
    limit: int | None
    offset: int | None
    columns: list[Column] = field(default_factory=list)
    joins: dict[tuple[str, ...], Join] = field(default_factory=dict)
    select: list[str] = field(default_factory=list)
    count_only: bool = False
    aggregates: list[tuple[str, str]] = field(default_factory=list)  # (key, sql)


def converter(f: Field) -> Callable[[Any], Any]:
    if f.type == "boolean":
        return lambda v: None if v is None else bool(v)
    if f.type == "int":
        return lambda v: None if v is None else int(v)
    if f.type in NUMBER_TYPES:
        return lambda v: None if v is None else float(v)
    if f.type == "complexvalue":
        return lambda v: None if v is None else json.loads(v)
    return lambda v: v


def column_sql(alias: str, f: Field) -> str:
    return f.sql.format(t=alias) if f.sql else f"{alias}.{quote(f.name)}"


def date_range(name: str, amount: int, today: date) -> tuple[date, date]:
    """[start, end) of a SOQL date function, in days (UTC; weeks start on Sunday)."""
    week = today - timedelta(days=(today.weekday() + 1) % 7)
    month = today.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    year = today.replace(month=1, day=1)
    one = timedelta(days=1)
    ranges = {
        "TODAY": (today, today + one),
        "YESTERDAY": (today - one, today),
        "TOMORROW": (today + one, today + 2 * one),
        "LAST_N_DAYS": (today - amount * one, today + one),
        "NEXT_N_DAYS": (today + one, today + (amount + 1) * one),
        "LAST_90_DAYS": (today - 90 * one, today + one),
        "NEXT_90_DAYS": (today + one, today + 91 * one),
        "THIS_WEEK": (week, week + 7 * one),
        "LAST_WEEK": (week - 7 * one, week),
        "NEXT_WEEK": (week + 7 * one, week + 14 * one),
        "THIS_MONTH": (month, next_month),
        "LAST_MONTH": (last_month, month),
        "NEXT_MONTH": (next_month, (next_month + timedelta(days=32)).replace(day=1)),
        "THIS_YEAR": (year, year.replace(year=year.year + 1)),
        "LAST_YEAR": (year.replace(year=year.year - 1), year),
        "NEXT_YEAR": (year.replace(year=year.year + 1), year.replace(year=year.year + 2)),
    }
    return ranges[name]


class Compiler:
    def __init__(
        self,
        registry: Registry,
        query: Query,
        now: datetime,
        include_deleted: bool,
        version: str,
        reverse_ties: bool = False,
        access: Any = None,
    ) -> None:
        self.registry, self.query, self.now = registry, query, now
        self.include_deleted, self.version = include_deleted, version
        self.reverse_ties = reverse_ties
        # The user's object and field access (security.Access); None: the Tooling API and
        # the emulator's own reads see everything.
        self.access = access
        self.params: list[Any] = []
        self.joins: dict[tuple[str, ...], Join] = {}
        self.join_sql: list[str] = []
        obj = registry.get(query.sobject)
        if obj is None or not obj.queryable or not self.sees_object(obj):
            raise self.error(
                "INVALID_TYPE",
                query.sobject_pos,
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        self.obj = obj

    def error(self, code: str, pos: int, message: str) -> SfError:
        return SfError(code, located(self.query.text, pos, message))

    def sees_object(self, obj: SObject) -> bool:
        return self.access is None or self.access.sees_object(obj)

    def sees(self, obj: SObject, f: Field | None) -> bool:
        return f is not None and (self.access is None or self.access.sees(obj, f))

    # -- names -----------------------------------------------------------------------------

    def resolve(self, ref: FieldRef) -> tuple[str, Field, tuple[str, ...]]:
        parts = list(ref.parts)
        names = {self.obj.name.lower(), (self.query.alias or "").lower()}
        if len(parts) > 1 and parts[0].lower() in names and not self.obj.relationship(parts[0]):
            parts = parts[1:]
        obj, alias, path = self.obj, "t", ()
        for part in parts[:-1]:
            rel = obj.relationship(part)
            target = self.registry.get(rel.reference_to[0]) if rel else None
            hidden = target is None or not self.sees(obj, rel) or not self.sees_object(target)
            if rel is None or target is None or hidden:
                raise self.error(
                    "INVALID_FIELD",
                    ref.pos,
                    f"Didn't understand relationship '{part}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names.",
                )
            path = (*path, rel.relationship_name or part)
            alias = self.join(alias, rel, target, path)
            obj = target
        found = obj.field(parts[-1])
        if found is None or not self.sees(obj, found):  # a field the user can't see
            raise self.error(
                "INVALID_FIELD",
                ref.pos,
                f"No such column '{parts[-1]}' on entity '{obj.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        return alias, found, path

    def join(self, alias: str, rel: Field, target: SObject, path: tuple[str, ...]) -> str:
        key = tuple(p.lower() for p in path)
        if key not in self.joins:
            new_alias = f"j{len(self.joins) + 1}"
            self.joins[key] = Join(new_alias, target, path)
            self.join_sql.append(
                f"LEFT JOIN {quote(target.table)} {new_alias} "
                f'ON {new_alias}."Id" = {column_sql(alias, rel)}'
            )
        return self.joins[key].alias

    # -- WHERE -----------------------------------------------------------------------------

    def condition(self, node: Any) -> str:
        if isinstance(node, BoolOp):
            return "(" + f" {node.op} ".join(self.condition(item) for item in node.items) + ")"
        if isinstance(node, Not):
            return f"NOT ({self.condition(node.item)})"
        if isinstance(node, InList):
            return self.in_list(node)
        return self.compare(node)

    def filter_column(self, ref: FieldRef) -> tuple[str, Field]:
        alias, f, _ = self.resolve(ref)
        if not f.filterable:
            raise self.error(
                "INVALID_FIELD", ref.pos, f"field '{f.name}' can not be filtered in a query call"
            )
        return column_sql(alias, f), f

    def compare(self, node: Compare) -> str:
        column, f = self.filter_column(node.field)
        lit, op = node.value, node.op
        if op == "LIKE":
            return self.like(column, f, node)
        if lit.kind == "null":
            if op not in ("=", "!="):
                raise malformed_query(f"unexpected token: {lit.text}")
            return f"{column} IS {'NOT ' if op == '!=' else ''}NULL"
        if lit.kind == "datefn":
            return self.date_compare(column, f, op, lit)
        value = self.value(f, lit)
        self.params.append(value)
        if op == "!=":  # SOQL's != also matches nulls
            return f"({column} IS NULL OR {column} != ?)"
        return f"{column} {op} ?"

    def like(self, column: str, f: Field, node: Compare) -> str:
        if not f.is_string or node.value.kind != "string":
            raise self.error(
                "INVALID_FIELD",
                node.field.pos,
                f"invalid operator on {'id' if f.type in ID_TYPES else f.type} field: "
                f"{node.field.dotted}",
            )
        # A literal backslash is escaped for SQLite; an escaped wildcard (\\% or \\_ in
        # SOQL) stays escaped.
        pattern = node.value.value.replace("\\", "\\\\").replace(ESCAPED, "\\")
        self.params.append(pattern)
        return f"{column} LIKE ? ESCAPE '\\'"

    def in_list(self, node: InList) -> str:
        column, f = self.filter_column(node.field)
        has_null = any(lit.kind == "null" for lit in node.values)
        values = [self.value(f, lit) for lit in node.values if lit.kind != "null"]
        self.params.extend(values)
        marks = ", ".join("?" * len(values))
        if node.negate:
            inner = f"{column} NOT IN ({marks})" if values else "1"
            return (
                f"({column} IS NOT NULL AND {inner})"
                if has_null
                else (f"({column} IS NULL OR {inner})")
            )
        inner = f"{column} IN ({marks})" if values else "0"
        return f"({inner} OR {column} IS NULL)" if has_null else inner

    def date_compare(self, column: str, f: Field, op: str, lit: Literal) -> str:
        if f.type not in ("date", "datetime"):
            self.type_error(f, lit)
        start, end = (
            day_start(d) if f.type == "datetime" else d.isoformat()
            for d in date_range(*lit.value, self.now.date())
        )
        sql, params = {
            "=": (f"({column} >= ? AND {column} < ?)", [start, end]),
            "!=": (f"({column} IS NULL OR {column} < ? OR {column} >= ?)", [start, end]),
            "<": (f"{column} < ?", [start]),
            "<=": (f"{column} < ?", [end]),
            ">": (f"{column} >= ?", [end]),
            ">=": (f"{column} >= ?", [start]),
        }[op]
        self.params.extend(params)
        return sql

    def value(self, f: Field, lit: Literal) -> Any:
        """A literal as the stored representation of the field's type, or Salesforce's error."""
        kind = lit.kind
        if f.type in ID_TYPES:
            if kind != "string":
                self.type_error(f, lit)
            normal = ids.normalize(lit.value)
            if normal is None:
                raise self.error(
                    "INVALID_QUERY_FILTER_OPERATOR", lit.pos, f"invalid ID field: {lit.value}"
                )
            return normal
        if f.is_string and kind == "string":
            return lit.value
        if f.type == "boolean" and kind == "boolean":
            return int(lit.value)
        if f.type in NUMBER_TYPES and kind == "number":
            return lit.value
        if f.type == "date" and kind == "date":
            return lit.value
        if f.type == "datetime" and kind == "datetime":
            moment = parse_datetime(lit.value)
            if moment is None:
                raise malformed_query(f"unexpected token: {lit.text}")
            return format_literal(moment)
        self.type_error(f, lit)

    def type_error(self, f: Field, lit: Literal) -> None:
        if f.is_string or f.type in ID_TYPES:
            expected, quoting = "string", "should be enclosed in quotes"
        else:
            expected = {"datetime": "dateTime"}.get(f.type, _TYPE_NAMES.get(f.type, f.type))
            quoting = "should not be enclosed in quotes"
        raise self.error(
            "INVALID_FIELD",
            lit.pos,
            f"value of filter criterion for field '{f.name}' must be of type {expected} and "
            f"{quoting}",
        )

    # -- the whole query -------------------------------------------------------------------

    def compile(self) -> Plan:
        query = self.query
        where = (
            [] if self.include_deleted or not self.obj.field("IsDeleted") else ['t."IsDeleted" = 0']
        )
        if query.where is not None:
            where.append(self.condition(query.where))
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SfError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        plan = Plan(self.obj, self.version, "", "", [], "", query.limit, query.offset)
        self.select(plan)
        order = self.order_by()
        plan.source = f"FROM {quote(self.obj.table)} t " + " ".join(self.join_sql)
        plan.where = ("WHERE " + " AND ".join(where)) if where else ""
        plan.params = self.params
        plan.order = order
        plan.joins = self.joins
        return plan

    def select(self, plan: Plan) -> None:
        counts = [item for item in self.query.items if isinstance(item, Count)]
        fields = [item for item in self.query.items if isinstance(item, FieldRef)]
        if counts:
            self.aggregates(plan, counts, fields)
            return
        plan.select = ["t._rid", 't."Id"']
        seen: set[str] = set()
        pending: list[tuple[tuple[str, ...], Field, str]] = []
        for ref in fields:
            alias, f, path = self.resolve(ref)
            dotted = ".".join((*path, f.name)).lower()
            if dotted in seen:
                raise malformed_query(f"duplicate field selected: {ref.dotted}")
            seen.add(dotted)
            pending.append((path, f, column_sql(alias, f)))
        for join in self.joins.values():
            join.id_index = len(plan.select)
            plan.select.append(f'{join.alias}."Id"')
        for path, f, sql in pending:
            plan.columns.append(Column(path, f.name, len(plan.select), converter(f), f.type))
            plan.select.append(sql)

    def aggregates(self, plan: Plan, counts: list[Count], fields: list[FieldRef]) -> None:
        if fields:
            raise malformed_query(f"Field must be grouped or aggregated: {fields[0].dotted}")
        if any(c.field is None for c in counts):
            if len(counts) > 1:
                raise malformed_query("COUNT() must be the only element in the SELECT list")
            plan.count_only = True
            return
        for number, count in enumerate(counts):
            assert count.field is not None
            alias, f, _ = self.resolve(count.field)
            plan.aggregates.append((count.alias or f"expr{number}", column_sql(alias, f)))

    def order_by(self) -> str:
        terms = []
        for item in self.query.order:
            alias, f, _ = self.resolve(item.field)
            if not f.filterable:
                raise self.error(
                    "INVALID_FIELD",
                    item.field.pos,
                    f"field '{f.name}' can not be sorted in a query call",
                )
            nulls_first = (not item.descending) if item.nulls_first is None else item.nulls_first
            direction = "DESC" if item.descending else "ASC"
            terms.append(
                f"{column_sql(alias, f)} {direction} NULLS {'FIRST' if nulls_first else 'LAST'}"
            )
        # Rows the query leaves unordered (all of them without ORDER BY, ties with it):
        # insertion order, or its reverse (QueryEngine.reverse_ties).
        rid = "t._rid DESC" if self.reverse_ties else "t._rid"
        return "ORDER BY " + ", ".join([*terms, rid])


@dataclass
class Cursor:
    plan: Plan
    rowids: array
    batch: int
    kind: str  # query / queryAll / tooling/query


class QueryEngine:
    def __init__(self, store: Store, new_locator: Callable[[], str]) -> None:
        self.store = store
        self.new_locator = new_locator
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        # Salesforce promises no order without ORDER BY (nor among ties): tests reverse the
        # emulator's insertion order to show code that relies on one.
        self.reverse_ties = False

    def plan(
        self,
        registry: Registry,
        soql: str,
        now: datetime,
        include_deleted: bool,
        version: str,
        access: Any = None,
    ) -> Plan:
        """access: the user's (security.Access); None for the Tooling API."""
        parsed = parse(soql)
        with self.store.lock:  # Tooling API installs change the schema under us otherwise
            compiler = Compiler(
                registry, parsed, now, include_deleted, version, self.reverse_ties, access
            )
            return compiler.compile()

    def run(self, plan: Plan, batch: int = MAX_BATCH, kind: str = "query") -> dict[str, Any]:
        batch = max(MIN_BATCH, min(MAX_BATCH, batch))
        window = self.window(plan)
        if plan.count_only:
            sql = f"SELECT COUNT(*) FROM (SELECT 1 {plan.source} {plan.where} {window})"
            total = self.store.rows(sql, plan.params)[0][0]
            return {"totalSize": total, "done": True, "records": []}
        if plan.aggregates:
            return self.aggregate(plan)
        sql = f"SELECT t._rid {plan.source} {plan.where} {plan.order} {window}"
        rowids = self.store.column(sql, plan.params)
        page = self.fetch(plan, rowids[:batch])
        result: dict[str, Any] = {"totalSize": len(rowids), "done": len(rowids) <= batch}
        if len(rowids) > batch:
            locator = self.remember(Cursor(plan, rowids, batch, kind))
            result["nextRecordsUrl"] = f"/services/data/v{plan.version}/{kind}/{locator}-{batch}"
        result["records"] = page
        return result

    def more(self, locator: str, offset: int) -> dict[str, Any]:
        with self._lock:
            cursor = self.cursors.get(locator)
            if cursor is not None:
                self.cursors.move_to_end(locator)
        if cursor is None or offset < 0 or offset >= len(cursor.rowids):
            raise SfError("INVALID_QUERY_LOCATOR", "invalid query locator")
        end = offset + cursor.batch
        result: dict[str, Any] = {
            "totalSize": len(cursor.rowids),
            "done": end >= len(cursor.rowids),
        }
        if end < len(cursor.rowids):
            result["nextRecordsUrl"] = (
                f"/services/data/v{cursor.plan.version}/{cursor.kind}/{locator}-{end}"
            )
        result["records"] = self.fetch(cursor.plan, cursor.rowids[offset:end])
        return result

    def remember(self, cursor: Cursor) -> str:
        locator = self.new_locator()
        with self._lock:
            self.cursors[locator] = cursor
            while len(self.cursors) > MAX_CURSORS:
                self.cursors.popitem(last=False)  # Salesforce also drops the oldest cursors
        return locator

    @staticmethod
    def window(plan: Plan) -> str:
        if plan.limit is None and plan.offset is None:
            return ""
        limit = -1 if plan.limit is None else plan.limit
        return f"LIMIT {limit} OFFSET {plan.offset or 0}"

    def aggregate(self, plan: Plan) -> dict[str, Any]:
        selects = ", ".join(f"COUNT({sql})" for _, sql in plan.aggregates)
        inner = f"SELECT t._rid {plan.source} {plan.where} {self.window(plan)}"
        sql = f"SELECT {selects} {plan.source} {plan.where} AND t._rid IN ({inner})"
        if not plan.where:
            sql = f"SELECT {selects} {plan.source} WHERE t._rid IN ({inner})"
        row = self.store.rows(sql, plan.params + plan.params)[0]
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        record.update({key: value for (key, _), value in zip(plan.aggregates, row, strict=True)})
        return {"totalSize": 1, "done": True, "records": [record]}

    def fetch(self, plan: Plan, rowids: array | list[int]) -> list[dict[str, Any]]:
        return [self.record(plan, row) for row in self.fetch_rows(plan, rowids)]

    def fetch_rows(self, plan: Plan, rowids: array | list[int]) -> list[tuple]:
        """The plan's selected columns of these rows, in their order (rows deleted since
        the query chose them left out)."""
        if not len(rowids):
            return []
        marks = ", ".join("?" * len(rowids))
        sql = f"SELECT {', '.join(plan.select)} {plan.source} WHERE t._rid IN ({marks})"
        found = {row[0]: row for row in self.store.rows(sql, list(rowids))}
        return [found[rid] for rid in rowids if rid in found]

    def record(self, plan: Plan, row: tuple) -> dict[str, Any]:
        obj, version = plan.obj, plan.version
        out: dict[str, Any] = {"attributes": attributes(obj, row[1], version)}
        for column in plan.columns:
            if not column.path:
                out[column.key] = column.convert(row[column.index])
                continue
            target: dict[str, Any] | None = out
            for depth in range(len(column.path)):
                target = self.nested(plan, target, column.path[: depth + 1], row)
                if target is None:
                    break
            if target is not None:
                target[column.key] = column.convert(row[column.index])
        return out

    @staticmethod
    def nested(
        plan: Plan, parent: dict[str, Any], path: tuple[str, ...], row: tuple
    ) -> dict[str, Any] | None:
        """The nested record for a relationship (created on first use), None if unset."""
        name = path[-1]
        if name in parent:
            return parent[name]
        join = plan.joins[tuple(p.lower() for p in path)]
        parent_id = row[join.id_index]
        parent[name] = (
            None
            if parent_id is None
            else {"attributes": attributes(join.obj, parent_id, plan.version)}
        )
        return parent[name]


def attributes(obj: SObject, record_id: str, version: str) -> dict[str, str]:
    return {
        "type": obj.name,
        "url": f"/services/data/v{version}/{obj.url_base}/{obj.name}/{record_id}",
    }
