"""SQLite storage: schema, a pool of per-thread connections, write transactions.

Dates are stored in UTC as "YYYY-MM-DD HH:MM:SS" strings, which sort and compare correctly
as text and as instants (clock.py converts them to and from the account's time zone).
Subscriber states are small integers (see STATES) to keep the indexes narrow at a million
rows.
"""

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = "3"

# state code -> (API name, endpoint name)
STATES = {
    1: ("Active", "active"),
    2: ("Unconfirmed", "unconfirmed"),
    3: ("Unsubscribed", "unsubscribed"),
    4: ("Bounced", "bounced"),
    5: ("Deleted", "deleted"),
}
STATE_CODES = {name.lower(): code for code, (name, _) in STATES.items()}
ACTIVE, UNCONFIRMED, UNSUBSCRIBED, BOUNCED, DELETED = 1, 2, 3, 4, 5

TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
    api_key TEXT NOT NULL UNIQUE);
CREATE TABLE clients(id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL,
    client_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE,
    contact_name TEXT NOT NULL, email TEXT NOT NULL, country TEXT NOT NULL,
    username TEXT NOT NULL);
CREATE TABLE people(id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, email TEXT NOT NULL,
    name TEXT NOT NULL, status TEXT NOT NULL, access_level INTEGER NOT NULL);
-- unsubscribe_setting: AllClientLists (an unsubscribe reaches every such list of the client
-- and the suppression list) or OnlyThisList (this list alone, suppression list not consulted)
CREATE TABLE lists(id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL,
    list_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
    unsubscribe_setting TEXT NOT NULL DEFAULT 'AllClientLists',
    confirmed_opt_in INTEGER NOT NULL DEFAULT 0, unsubscribe_page TEXT NOT NULL DEFAULT '',
    confirmation_page TEXT NOT NULL DEFAULT '');
CREATE TABLE subscribers(id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL,
    email TEXT NOT NULL, email_lc TEXT NOT NULL, name TEXT NOT NULL, state INTEGER NOT NULL,
    date TEXT NOT NULL, joined TEXT NOT NULL, fields TEXT NOT NULL, reads_with TEXT NOT NULL,
    consent TEXT NOT NULL);
CREATE TABLE campaigns(id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL,
    campaign_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, name TEXT NOT NULL,
    subject TEXT NOT NULL, from_name TEXT NOT NULL, from_email TEXT NOT NULL,
    reply_to TEXT NOT NULL, sent_date TEXT, created TEXT NOT NULL, scheduled TEXT,
    tags TEXT NOT NULL, recipients INTEGER NOT NULL DEFAULT 0);
CREATE TABLE campaign_lists(campaign_id INTEGER NOT NULL, list_id INTEGER NOT NULL,
    PRIMARY KEY(campaign_id, list_id)) WITHOUT ROWID;
CREATE TABLE recipients(id INTEGER PRIMARY KEY, campaign_id INTEGER NOT NULL,
    list_id INTEGER NOT NULL, email TEXT NOT NULL, email_lc TEXT NOT NULL);
CREATE TABLE events(id INTEGER PRIMARY KEY, campaign_id INTEGER NOT NULL, kind TEXT NOT NULL,
    list_id INTEGER NOT NULL, email TEXT NOT NULL, email_lc TEXT NOT NULL, date TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '', bounce_type TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '', geo INTEGER NOT NULL DEFAULT 0);
-- needed while seeding: sending relies on it to give each address one copy
CREATE UNIQUE INDEX recipients_email ON recipients(campaign_id, email_lc);
CREATE TABLE oauth_codes(code TEXT PRIMARY KEY, redirect_uri TEXT NOT NULL,
    expires REAL NOT NULL);
CREATE TABLE oauth_tokens(token TEXT PRIMARY KEY, kind TEXT NOT NULL,
    account_id INTEGER NOT NULL, expires REAL NOT NULL);
-- a client's suppression list: addresses its AllClientLists lists refuse (Code 204)
CREATE TABLE suppressions(client_id INTEGER NOT NULL, email_lc TEXT NOT NULL,
    email TEXT NOT NULL, date TEXT NOT NULL, reason TEXT NOT NULL DEFAULT 'Unsubscribed',
    PRIMARY KEY(client_id, email_lc)) WITHOUT ROWID;
"""

# Created after bulk seeding (faster than maintaining them row by row). Each paging index
# starts with the equality columns, then the sort key, then `date` so that a `date` filter
# is answered from the index alone; the rowid is the implicit last column and breaks ties.
INDEXES = """
CREATE UNIQUE INDEX subscribers_email ON subscribers(list_id, email_lc);
CREATE INDEX subscribers_by_email ON subscribers(list_id, state, email_lc, date);
CREATE INDEX subscribers_by_name ON subscribers(list_id, state, name, date);
CREATE INDEX subscribers_by_date ON subscribers(list_id, state, date);
CREATE INDEX campaigns_client ON campaigns(client_id, status, sent_date);
CREATE INDEX recipients_list ON recipients(campaign_id, list_id, email_lc);
CREATE INDEX events_by_date ON events(campaign_id, kind, date);
CREATE INDEX events_by_email ON events(campaign_id, kind, email_lc, date);
CREATE INDEX events_by_list ON events(campaign_id, kind, list_id, date);
"""


class Store:
    """Connections to one SQLite file. Each request borrows a connection for its thread
    and gives it back, so short-lived handler threads reuse warm connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._versions: dict[tuple, int] = {}
        # called after every committed write transaction (webhooks.py wakes its sender)
        self.on_commit: list[Callable[[], None]] = []

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-16000")
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def read(self, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        """Borrow a connection. With `snapshot`, every statement sees the same committed
        state (one read transaction), so a page and its totals agree under concurrent writes."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            if snapshot:
                conn.execute("BEGIN")
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            self._idle.put(conn)

    @contextmanager
    def write(self, *scopes: tuple) -> Iterator[sqlite3.Connection]:
        """One write transaction. The scopes named (e.g. ("list", 3)) get a new version on
        commit, which drops the paging caches built on them."""
        with self._write_lock, self.read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            self.bump(*scopes)
        for listener in self.on_commit:
            listener()

    def bump(self, *scopes: tuple) -> None:
        with self._lock:
            for scope in scopes:
                self._versions[scope] = self._versions.get(scope, 0) + 1

    def version(self, scope: tuple) -> int:
        with self._lock:
            return self._versions.get(scope, 0)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


def open_for_seeding(path: Path) -> sqlite3.Connection:
    """A connection tuned for a one-off bulk load: no journal, no fsync."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-64000")
    conn.execute("PRAGMA temp_store=FILE")
    conn.executescript(TABLES)
    return conn


def finish_seeding(conn: sqlite3.Connection, seed_label: str) -> None:
    conn.executescript(INDEXES)
    conn.execute("PRAGMA analysis_limit=1000")
    conn.execute("ANALYZE")
    conn.execute("INSERT INTO meta VALUES ('seed', ?), ('schema', ?)", (seed_label, SCHEMA_VERSION))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def existing_seed(path: Path) -> str | None:
    """The seed a data file was built from, or None if it is missing, partial or outdated."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return meta.get("seed") if meta.get("schema") == SCHEMA_VERSION else None
