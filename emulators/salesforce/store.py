"""SQLite storage: one table per object, one column per stored field.

Strings use NOCASE collation because SOQL compares them case-insensitively, so indexes on
Email serve `Email IN (...)` directly. One connection guarded by a re-entrant lock: every
request runs its statements serially, which also gives Salesforce-like row locking for free.
Without a data_dir the database lives in a temporary file (not in memory) so 200,000 people
cost page cache rather than resident memory.

Writers may defer() an item until the outermost transaction commits: items deferred inside
a savepoint that rolls back are dropped, and on_commit listeners get the rest in one list
per outermost transaction (Outbound Messages use this: one message per DML call).

Savepoints are lazy, so that a collection record (four nested transactions, eight
SAVEPOINT/RELEASE statements before it wrote a row) pays for one savepoint at most: a
transaction() issues its SAVEPOINT only when the first write happens inside it, and nested
transactions that began with no write between them share one SQLite savepoint (an inner
one that fails rolls back to it without releasing it). A transaction that only read, or
that failed before writing (most refused records), costs no statement at all; what
commits or rolls back is exactly what it was with one savepoint each.
"""

import json
import os
import sqlite3
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from pathlib import Path
from typing import Any

from emulators.salesforce.schema import ID_TYPES, NUMBER_TYPES, Field, SObject


def column_type(f: Field) -> str:
    if f.type in ("boolean", "int"):
        return "INTEGER"
    if f.type in NUMBER_TYPES:
        return "REAL"
    if f.type in ID_TYPES or f.type in ("date", "datetime", "complexvalue"):
        return "TEXT"
    return "TEXT COLLATE NOCASE"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Frame:
    """One open transaction(): its SQLite savepoint once a write needed it (None before),
    and whether it owns that savepoint or shares an enclosing frame's."""

    savepoint: str | None = None
    owner: bool = False


# The statements a write builds again and again, by table and columns: building them was a
# measurable share of a 200-record collection call.
@lru_cache(maxsize=1024)
def _insert_sql(table: str, names: tuple[str, ...]) -> str:
    columns, marks = ", ".join(map(quote, names)), ", ".join("?" * len(names))
    return f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})"


@lru_cache(maxsize=1024)
def _update_sql(table: str, names: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{quote(name)} = ?" for name in names)
    return f'UPDATE {quote(table)} SET {assignments} WHERE "Id" = ?'


@lru_cache(maxsize=256)
def _load_sql(table: str) -> str:
    return f'SELECT * FROM {quote(table)} WHERE "Id" = ?'


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self._temp: str | None = None
        if path is None:
            handle, self._temp = tempfile.mkstemp(prefix="sf-emulator-", suffix=".sqlite3")
            os.close(handle)
            target = self._temp
        else:
            target = str(path)
        self.db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        # Durability does not matter for a throw-away emulator; speed does.
        journal = "MEMORY" if path is None else "WAL"
        if self._temp:
            # Unlinked at once, so an emulator that is never stopped leaves no file behind;
            # SQLite keeps using its open descriptor (the journal lives in memory).
            os.unlink(self._temp)
        for pragma in (
            f"journal_mode={journal}",
            "synchronous=OFF",
            "temp_store=MEMORY",
            "cache_size=-16384",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE IF NOT EXISTS _meta(key TEXT PRIMARY KEY, value TEXT)")
        self._frames: list[_Frame] = []
        self._names = count(1)
        self._deferred: list[list[Any]] = []  # one list per open transaction or savepoint
        self.on_commit: list[Callable[[list[Any]], None]] = []

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- raw access ------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def column(self, sql: str, params: Sequence[Any] = ()) -> array:
        """The first column of every row as integers (row ids), without a tuple per row."""
        with self.lock:
            return array("q", (row[0] for row in self.db.execute(sql, params)))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A statement that writes (or may): the open transactions get their savepoint."""
        with self.lock:
            self._writing()
            return self.db.execute(sql, params).rowcount

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.lock:
            self._writing()
            self.db.executemany(sql, rows)

    def _writing(self) -> None:
        """Issue the savepoint of the open transactions that have none yet: they began
        with no write between them, so the outermost of them owns one the others share."""
        pending = [frame for frame in self._frames if frame.savepoint is None]
        if not pending:
            return
        name = f"sp{next(self._names)}"
        self.db.execute(f"SAVEPOINT {name}")
        for frame in pending:
            frame.savepoint = name
        pending[0].owner = True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction, or a savepoint inside one: either commits whole or not at all."""
        with self.lock:
            frame = _Frame()
            self._frames.append(frame)
            self._deferred.append([])
            try:
                yield
            except BaseException:
                self._frames.pop()
                if frame.savepoint is not None:
                    self.db.execute(f"ROLLBACK TO {frame.savepoint}")
                    if frame.owner:
                        self.db.execute(f"RELEASE {frame.savepoint}")
                self._deferred.pop()
                raise
            else:
                self._frames.pop()
                if frame.owner:
                    self.db.execute(f"RELEASE {frame.savepoint}")
                items = self._deferred.pop()
                if self._deferred:
                    self._deferred[-1].extend(items)
                elif items:
                    self._committed(items)

    def defer(self, item: Any) -> None:
        """Hand item to the on_commit listeners once the current transaction commits (at
        once outside a transaction); dropped if its savepoint rolls back."""
        with self.lock:
            if self._deferred:
                self._deferred[-1].append(item)
            else:
                self._committed([item])

    def _committed(self, items: list[Any]) -> None:
        for listener in self.on_commit:
            listener(items)  # under the lock: listeners see the data as committed

    # -- metadata --------------------------------------------------------------------------

    def meta(self, key: str, default: Any = None) -> Any:
        found = self.rows("SELECT value FROM _meta WHERE key = ?", (key,))
        return json.loads(found[0][0]) if found else default

    def set_meta(self, key: str, value: Any) -> None:
        self.execute(
            "INSERT OR REPLACE INTO _meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    # -- schema ----------------------------------------------------------------------------

    def has_table(self, obj: SObject) -> bool:
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE name = ?", (obj.table,)))

    def create_table(self, obj: SObject) -> None:
        columns = ", ".join(
            f"{quote(f.name)} {column_type(f)}" for f in obj.stored_fields() if f.name != "Id"
        )
        with self.lock:
            self._writing()
            self.db.execute(
                f"CREATE TABLE {quote(obj.table)} (_rid INTEGER PRIMARY KEY, "
                f'"Id" TEXT NOT NULL UNIQUE, {columns})'
            )
            for f in obj.stored_fields():
                self._index(obj, f)

    def _index(self, obj: SObject, f: Field) -> None:
        if f.indexed or f.external_id or f.unique:
            self.db.execute(
                f"CREATE INDEX IF NOT EXISTS {quote('ix_' + obj.table + '_' + f.name)} "
                f"ON {quote(obj.table)}({quote(f.name)})"
            )

    def add_column(self, obj: SObject, f: Field) -> None:
        # A new checkbox reads as its default on existing records, as in Salesforce.
        default = f" NOT NULL DEFAULT {int(f.default or 0)}" if f.type == "boolean" else ""
        with self.lock:
            self._writing()
            self.db.execute(
                f"ALTER TABLE {quote(obj.table)} ADD COLUMN {quote(f.name)} "
                f"{column_type(f)}{default}"
            )
            self._index(obj, f)

    def drop_column(self, obj: SObject, f: Field) -> None:
        with self.lock:
            self._writing()
            self.db.execute(f"DROP INDEX IF EXISTS {quote('ix_' + obj.table + '_' + f.name)}")
            self.db.execute(f"ALTER TABLE {quote(obj.table)} DROP COLUMN {quote(f.name)}")

    def drop_table(self, obj: SObject) -> None:
        self.execute(f"DROP TABLE IF EXISTS {quote(obj.table)}")

    # -- records ---------------------------------------------------------------------------

    def insert(self, obj: SObject, record: dict[str, Any]) -> None:
        names = tuple(record)
        self.execute(_insert_sql(obj.table, names), [record[name] for name in names])

    def insert_many(self, obj: SObject, names: Sequence[str], rows: Sequence[Sequence]) -> None:
        with self.lock:
            self._writing()
            self.db.executemany(_insert_sql(obj.table, tuple(names)), rows)

    def update(self, obj: SObject, record_id: str, changes: dict[str, Any]) -> None:
        if changes:
            sql = _update_sql(obj.table, tuple(changes))
            self.execute(sql, [*changes.values(), record_id])

    def load(self, obj: SObject, record_id: str) -> dict[str, Any] | None:
        """Every stored column of a record (deleted ones too), or None."""
        with self.lock:
            cursor = self.db.execute(_load_sql(obj.table), (record_id,))
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        return dict(zip(names, row, strict=True)) if row else None

    def find(
        self,
        obj: SObject,
        field_name: str,
        value: Any,
        case_sensitive: bool = False,
        extra: str = "",
        params: Sequence[Any] = (),
    ) -> list[str]:
        """Ids of live records whose field equals value (NOCASE unless case_sensitive)."""
        collate = " COLLATE BINARY" if case_sensitive else ""
        sql = (
            f'SELECT "Id" FROM {quote(obj.table)} WHERE {quote(field_name)}{collate} = ? '
            f'AND "IsDeleted" = 0 {extra} ORDER BY _rid'
        )
        return [row[0] for row in self.rows(sql, [value, *params])]
