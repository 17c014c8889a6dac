"""Fast, exact paging over large ordered result sets.

SQLite's OFFSET walks every skipped row, so page 700 of a 700,000-row list costs a scan.
Instead, the first request for a result set records an anchor (the sort key) at every
ANCHOR_EVERY-th row in one pass, which also yields the total. Any page is then a short
range scan from the nearest anchor: `(key) >= anchor ... LIMIT size OFFSET < ANCHOR_EVERY`.
Anchors are cached per result set and version of its scope (a list or a campaign); every
write to that scope bumps the version, so a stale cache is never used.
"""

import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass

from emulators.campaign_monitor.store import Store

ANCHOR_EVERY = 1000
CACHE_ENTRIES = 256


@dataclass(frozen=True)
class ResultSet:
    """Rows of `table` matching `where` (and `date >= since`), ordered by `key`.

    `key` must be a total order backed by an index whose leading columns are the equality
    columns of `where`; its last column is "id" (the rowid) to break ties.
    """

    table: str
    columns: str
    where: str
    params: tuple
    key: tuple[str, ...]
    since: str | None
    scope: tuple

    def filter_sql(self, from_anchor: bool) -> tuple[str, tuple]:
        # When the key starts with the date, `key >= anchor` already implies `date >= since`;
        # repeating the filter would make SQLite range-scan on it instead of on the key.
        if self.since is None or (from_anchor and self.key[0] == "date"):
            return self.where, self.params
        return f"{self.where} AND date >= ?", (*self.params, self.since)


@dataclass
class Page:
    total: int
    rows: list[tuple]


class Pager:
    def __init__(self, store: Store) -> None:
        self._store = store
        # result set -> (scope version, (total, anchors))
        self._cache: OrderedDict[tuple, tuple[int, tuple[int, list[tuple]]]] = OrderedDict()
        self._lock = threading.Lock()

    def page(
        self, conn: sqlite3.Connection, rs: ResultSet, number: int, size: int, descending: bool
    ) -> Page:
        """Page `number` (1-based) of `size` rows, ascending or descending by the key."""
        total, anchors = self._anchors(conn, rs)
        offset = (number - 1) * size
        if offset >= total:
            return Page(total, [])
        count = min(size, total - offset)
        # A descending page is an ascending slice read backwards.
        start = total - offset - count if descending else offset
        rows = _slice(conn, rs, anchors, start, count)
        return Page(total, rows[::-1] if descending else rows)

    def _anchors(self, conn: sqlite3.Connection, rs: ResultSet) -> tuple[int, list[tuple]]:
        cache_key = (rs.table, rs.where, rs.params, rs.key, rs.since, rs.scope)
        version = self._store.version(rs.scope)
        with self._lock:
            hit = self._cache.get(cache_key)
            if hit is not None and hit[0] == version:
                self._cache.move_to_end(cache_key)
                return hit[1]
        built = _build_anchors(conn, rs)
        with self._lock:
            self._cache[cache_key] = (version, built)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return built


def _key_sql(rs: ResultSet) -> tuple[str, str]:
    return ", ".join(rs.key), ", ".join("?" * len(rs.key))


def _build_anchors(conn: sqlite3.Connection, rs: ResultSet) -> tuple[int, list[tuple]]:
    cols, marks = _key_sql(rs)
    where, params = rs.filter_sql(from_anchor=False)
    first = conn.execute(
        f"SELECT {cols} FROM {rs.table} WHERE {where} ORDER BY {cols} LIMIT 1", params
    ).fetchone()
    if first is None:
        return 0, []
    anchors = [first]
    where, params = rs.filter_sql(from_anchor=True)
    from_anchor = f"FROM {rs.table} WHERE {where} AND ({cols}) >= ({marks}) ORDER BY {cols}"
    step = f"SELECT {cols} {from_anchor} LIMIT 1 OFFSET {ANCHOR_EVERY}"
    while (nxt := conn.execute(step, (*params, *anchors[-1])).fetchone()) is not None:
        anchors.append(nxt)
    tail_sql = f"SELECT count(*) FROM (SELECT 1 {from_anchor} LIMIT {ANCHOR_EVERY})"
    tail = conn.execute(tail_sql, (*params, *anchors[-1])).fetchone()[0]
    return (len(anchors) - 1) * ANCHOR_EVERY + tail, anchors


def _slice(
    conn: sqlite3.Connection, rs: ResultSet, anchors: list[tuple], start: int, count: int
) -> list[tuple]:
    cols, marks = _key_sql(rs)
    where, params = rs.filter_sql(from_anchor=True)
    anchor = anchors[start // ANCHOR_EVERY]
    sql = (
        f"SELECT {rs.columns} FROM {rs.table} WHERE {where} AND ({cols}) >= ({marks}) "
        f"ORDER BY {cols} LIMIT ? OFFSET ?"
    )
    return conn.execute(sql, (*params, *anchor, count, start % ANCHOR_EVERY)).fetchall()
