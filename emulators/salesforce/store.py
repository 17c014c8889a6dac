"""SQLite storage: one table per object, one column per stored field.

Strings use NOCASE collation because SOQL compares them case-insensitively, so indexes on
Email serve `Email IN (...)` directly. One connection guarded by a re-entrant lock: every
request runs its statements serially, which also gives Salesforce-like row locking for free.
Without a data_dir the database lives in a temporary file (not in memory) so 200,000 people
cost page cache rather than resident memory.

Writers may defer() an item until the outermost transaction commits: items deferred inside
a savepoint that rolls back are dropped, and on_commit listeners get the rest in one list
per outermost transaction (Outbound Messages use this: one message per DML call).
"""

import json
import os
import sqlite3
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
        self._depth = 0
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
        with self.lock:
            return self.db.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction, or a savepoint inside one: either commits whole or not at all."""
        with self.lock:
            self._depth += 1
            name = f"sp{self._depth}"
            self.db.execute(f"SAVEPOINT {name}")
            self._deferred.append([])
            try:
                yield
            except BaseException:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
                self._deferred.pop()
                raise
            else:
                self.db.execute(f"RELEASE {name}")
                items = self._deferred.pop()
                if self._deferred:
                    self._deferred[-1].extend(items)
                elif items:
                    self._committed(items)
            finally:
                self._depth -= 1

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
            self.db.execute(
                f"ALTER TABLE {quote(obj.table)} ADD COLUMN {quote(f.name)} "
                f"{column_type(f)}{default}"
            )
            self._index(obj, f)

    def drop_column(self, obj: SObject, f: Field) -> None:
        with self.lock:
            self.db.execute(f"DROP INDEX IF EXISTS {quote('ix_' + obj.table + '_' + f.name)}")
            self.db.execute(f"ALTER TABLE {quote(obj.table)} DROP COLUMN {quote(f.name)}")

    def drop_table(self, obj: SObject) -> None:
        self.execute(f"DROP TABLE IF EXISTS {quote(obj.table)}")

    # -- records ---------------------------------------------------------------------------

    def insert(self, obj: SObject, record: dict[str, Any]) -> None:
        names = list(record)
        self.execute(
            f"INSERT INTO {quote(obj.table)} ({', '.join(map(quote, names))}) "
            f"VALUES ({', '.join('?' * len(names))})",
            [record[name] for name in names],
        )

    def insert_many(self, obj: SObject, names: Sequence[str], rows: Sequence[Sequence]) -> None:
        with self.lock:
            self.db.executemany(
                f"INSERT INTO {quote(obj.table)} ({', '.join(map(quote, names))}) "
                f"VALUES ({', '.join('?' * len(names))})",
                rows,
            )

    def update(self, obj: SObject, record_id: str, changes: dict[str, Any]) -> None:
        if changes:
            assignments = ", ".join(f"{quote(name)} = ?" for name in changes)
            self.execute(
                f'UPDATE {quote(obj.table)} SET {assignments} WHERE "Id" = ?',
                [*changes.values(), record_id],
            )

    def load(self, obj: SObject, record_id: str) -> dict[str, Any] | None:
        """Every stored column of a record (deleted ones too), or None."""
        with self.lock:
            cursor = self.db.execute(
                f'SELECT * FROM {quote(obj.table)} WHERE "Id" = ?', (record_id,)
            )
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
