"""Subscribers: the record the API shows, and every way their state changes.

A subscriber is one (list, email) row. Emails match case-insensitively but keep the case
they were first stored with. `Date` is when the state last changed (set to the emulator's
now on every change); `ListJoinedDate` is when the address first joined the list. Dates are
stored in UTC; `record` shows them in the account's time zone.

Unsubscribing follows the list's UnsubscribeSetting (Campaign Monitor's forum, "Impact of
Unsubscribe Settings", and its suppression list help): on an AllClientLists list the address
is unsubscribed from every AllClientLists list of the client it is subscribed to and added to
the client's suppression list; an OnlyThisList list is isolated both ways: its unsubscribes
touch nothing else and the suppression list does not stop adds to it.

Every write of a subscriber row goes through insert, change_state or _rewrite (or rename),
which tell the list's webhooks (webhooks.py): Subscribe when an address becomes Active,
Deactivate when it becomes Unsubscribed, Bounced or Deleted, Update when its details are
written by an add, update, import or rename.
"""

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulators.campaign_monitor import webhooks
from emulators.campaign_monitor.app import ApiError, flag
from emulators.campaign_monitor.clock import ZONE, show
from emulators.campaign_monitor.identity import CUSTOM_FIELDS
from emulators.campaign_monitor.store import (
    ACTIVE,
    BOUNCED,
    DELETED,
    STATES,
    UNCONFIRMED,
    UNSUBSCRIBED,
)

COLUMNS = "email, name, date, joined, state, fields, reads_with, consent"
FIELD_TYPES = {key: data_type for key, data_type, _ in CUSTOM_FIELDS}
FIELD_ORDER = {key: n for n, (key, _, _) in enumerate(CUSTOM_FIELDS)}
IMPORT_LIMIT = 1000
ALL_CLIENT_LISTS, ONLY_THIS_LIST = "AllClientLists", "OnlyThisList"
UNSUBSCRIBE_SETTINGS = (ALL_CLIENT_LISTS, ONLY_THIS_LIST)
# The sample shows "Unsubscribed"; what the real list says for an address suppressed by hand
# is not documented.
MANUAL_REASON = "Manually added"

# Adding an inactive address without Resubscribe fails with the code for its state.
REFUSALS = {
    DELETED: (205, "Is Deleted"),
    UNSUBSCRIBED: (206, "Is Unsubscribed"),
    BOUNCED: (207, "Is Bounced"),
    UNCONFIRMED: (208, "Is Unconfirmed"),
}


def valid_email(text: Any) -> bool:
    """One @, a non-empty local part, a dotted domain with no empty labels, no spaces."""
    if not isinstance(text, str) or text.count("@") != 1 or any(c.isspace() for c in text):
        return False
    local, domain = text.split("@")
    return bool(local) and "." in domain and all(domain.split("."))


def record(row: tuple, with_consent: bool) -> dict[str, Any]:
    """The API's subscriber object from a row selected with COLUMNS."""
    out = {
        "EmailAddress": row[0],
        "Name": row[1],
        "Date": show(row[2], ZONE),
        "ListJoinedDate": show(row[3], ZONE),
        "State": STATES[row[4]][0],
        "CustomFields": json.loads(row[5]),
        "ReadsEmailWith": row[6],
    }
    if with_consent:
        out["ConsentToTrack"] = row[7]
    return out


@dataclass
class Existing:
    pk: int
    email: str
    name: str
    state: int
    fields: list[dict[str, str]]
    consent: str


def find(conn: sqlite3.Connection, list_pk: int, email: str) -> Existing | None:
    row = conn.execute(
        "SELECT id, email, name, state, fields, consent FROM subscribers "
        "WHERE list_id = ? AND email_lc = ?",
        (list_pk, email.lower()),
    ).fetchone()
    if row is None:
        return None
    return Existing(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])


def fetch(conn: sqlite3.Connection, list_pk: int, email: str, with_consent: bool) -> dict:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM subscribers WHERE list_id = ? AND email_lc = ?",
        (list_pk, email.lower()),
    ).fetchone()
    if row is None:
        raise not_in_list()
    return record(row, with_consent)


def not_in_list() -> ApiError:
    return ApiError(400, 203, "Subscriber Not In List")


def suppressed(conn: sqlite3.Connection, list_pk: int, email: str) -> bool:
    """Whether the list checks the suppression list (AllClientLists) and the address is on
    its client's."""
    row = conn.execute(
        "SELECT 1 FROM suppressions s JOIN lists l ON l.client_id = s.client_id "
        "WHERE l.id = ? AND l.unsubscribe_setting = ? AND s.email_lc = ?",
        (list_pk, ALL_CLIENT_LISTS, email.lower()),
    ).fetchone()
    return row is not None


def refuse_suppressed(conn: sqlite3.Connection, list_pk: int, email: str) -> None:
    """An address on the client's suppression list cannot be added (Code 204)."""
    if suppressed(conn, list_pk, email):
        raise ApiError(400, 204, "In Suppression List")


def unsubscribe(conn: sqlite3.Connection, list_pk: int, email: str, date: str) -> set[int]:
    """Unsubscribe the address from the list as of `date`, following its UnsubscribeSetting;
    returns every list whose subscribers changed. The address must be on the list."""
    row = conn.execute(
        "SELECT id, state FROM subscribers WHERE list_id = ? AND email_lc = ?",
        (list_pk, email.lower()),
    ).fetchone()
    changed = set()
    if row[1] != UNSUBSCRIBED:
        change_state(conn, row[0], UNSUBSCRIBED, date)
        changed.add(list_pk)
    client_pk, setting = conn.execute(
        "SELECT client_id, unsubscribe_setting FROM lists WHERE id = ?", (list_pk,)
    ).fetchone()
    if setting != ALL_CLIENT_LISTS:
        return changed
    others = conn.execute(
        "SELECT s.id, s.list_id FROM subscribers s JOIN lists l ON l.id = s.list_id "
        "WHERE l.client_id = ? AND l.unsubscribe_setting = ? AND s.email_lc = ? "
        "AND s.state IN (?, ?) AND s.list_id != ?",
        (client_pk, ALL_CLIENT_LISTS, email.lower(), ACTIVE, UNCONFIRMED, list_pk),
    ).fetchall()
    for pk, other_list in others:
        change_state(conn, pk, UNSUBSCRIBED, date)
        changed.add(other_list)
    suppress(conn, client_pk, [email], date, "Unsubscribed")
    return changed


def suppress(
    conn: sqlite3.Connection, client_pk: int, emails: list[str], date: str, reason: str
) -> int:
    """Add addresses to the client's suppression list (those already on it stay as they
    were); returns how many were new."""
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO suppressions(client_id, email_lc, email, date, reason) "
        "VALUES (?, ?, ?, ?, ?)",
        [(client_pk, e.lower(), e, date, reason) for e in emails],
    )
    return conn.total_changes - before


def suppress_and_unsubscribe(
    conn: sqlite3.Connection, client_pk: int, emails: list[str], date: str
) -> tuple[int, set[int]]:
    """POST /clients/{id}/suppress.json: the addresses go on the suppression list and leave
    the Active and Unconfirmed states of the client's AllClientLists lists, as an unsubscribe
    there would. Returns (how many were new on the list, the lists that changed)."""
    added = suppress(conn, client_pk, emails, date, MANUAL_REASON)
    changed = set()
    for email in emails:
        rows = conn.execute(
            "SELECT s.id, s.list_id FROM subscribers s JOIN lists l ON l.id = s.list_id "
            "WHERE l.client_id = ? AND l.unsubscribe_setting = ? AND s.email_lc = ? "
            "AND s.state IN (?, ?)",
            (client_pk, ALL_CLIENT_LISTS, email.lower(), ACTIVE, UNCONFIRMED),
        ).fetchall()
        for pk, list_pk in rows:
            change_state(conn, pk, UNSUBSCRIBED, date[:17] + "00")
            changed.add(list_pk)
    return added, changed


def unsuppress(conn: sqlite3.Connection, client_pk: int, email: str) -> None:
    """PUT /clients/{id}/unsuppress.json?email=: off the suppression list. The address stays
    unsubscribed wherever it is; only adding it again makes it active."""
    if not valid_email(email):
        raise ApiError(400, 1, "Invalid Email Address")
    gone = conn.execute(
        "DELETE FROM suppressions WHERE client_id = ? AND email_lc = ?",
        (client_pk, email.lower()),
    ).rowcount
    if not gone:
        raise ApiError(400, 176, "Email address not in suppression list")


def consent_value(value: Any, current: str | None) -> str:
    """ConsentToTrack is mandatory since v3.2: Yes, No or Unchanged (any case)."""
    if value is None or value == "":
        raise ApiError(400, 214, "ConsentToTrack is required")
    choice = str(value).strip().lower()
    if choice not in ("yes", "no", "unchanged"):
        raise ApiError(400, 215, "Invalid ConsentToTrack value")
    if choice == "unchanged":
        return current or "No"
    return choice.capitalize()


def merge_fields(current: list[dict[str, str]], incoming: Any) -> list[dict[str, str]]:
    """Apply the CustomFields of an add/update/import: fields not sent are left alone, a
    sent key replaces that key's values, "Clear": true removes them. Keys may come with or
    without brackets; keys the list does not define are ignored, as the API does."""
    if not isinstance(incoming, list):
        return current
    sent: dict[str, list[str]] = {}
    for item in incoming:
        if not isinstance(item, dict):
            continue
        key = str(item.get("Key", "")).strip().strip("[]")
        if key not in FIELD_TYPES:
            continue
        values = sent.setdefault(key, [])
        value = _field_value(key, item.get("Value"))
        if not flag(item.get("Clear")) and value:
            values.append(value)
    kept = [f for f in current if f["Key"] not in sent]
    added = [{"Key": k, "Value": v} for k, values in sent.items() for v in values]
    return sorted(kept + added, key=lambda f: FIELD_ORDER[f["Key"]])


def _field_value(key: str, value: Any) -> str:
    text = "" if value is None else str(value)[:250]
    if FIELD_TYPES[key] == "Date":
        text = text.replace("/", "-")  # the API takes yyyy/mm/dd and shows yyyy-mm-dd
    return text


def add(conn: sqlite3.Connection, list_pk: int, body: dict, now: str) -> str:
    """POST /subscribers/{listid}.json inside a write transaction; returns the email."""
    email = body.get("EmailAddress")
    if not valid_email(email):
        raise ApiError(400, 1, "Invalid Email Address")
    existing = find(conn, list_pk, email)
    consent = consent_value(body.get("ConsentToTrack"), existing and existing.consent)
    # The address's own state on the list answers first (205-208); a new address is checked
    # against the suppression list (204). A one-at-a-time resubscribe gets past both; the
    # address stays on the suppression list.
    if existing is None and not flag(body.get("Resubscribe")):
        refuse_suppressed(conn, list_pk, email)
    if existing is None:
        insert(conn, list_pk, email, _name(body, ""), ACTIVE, now, consent, body)
        return email
    if existing.state != ACTIVE and not flag(body.get("Resubscribe")):
        raise ApiError(400, *REFUSALS[existing.state])
    _rewrite(conn, existing, existing.email, body, consent, now)
    if existing.state != ACTIVE:
        change_state(conn, existing.pk, ACTIVE, now)
    return email


def update(conn: sqlite3.Connection, list_pk: int, current: str, body: dict, now: str) -> None:
    """PUT /subscribers/{listid}.json?email=current; EmailAddress in the body is the new one."""
    existing = find(conn, list_pk, current or "")
    if existing is None:
        raise not_in_list()
    new_email = body.get("EmailAddress") or existing.email
    if not valid_email(new_email):
        raise ApiError(400, 211, "Invalid New Email Address")
    clash = find(conn, list_pk, new_email)
    if clash is not None and clash.pk != existing.pk:
        raise ApiError(400, 201, "New Email Address Already Subscribed")
    consent = consent_value(body.get("ConsentToTrack"), existing.consent)
    _rewrite(conn, existing, new_email, body, consent, now)
    if existing.state != ACTIVE and flag(body.get("Resubscribe")):
        change_state(conn, existing.pk, ACTIVE, now)


def deactivate(
    conn: sqlite3.Connection, list_pk: int, email: str, state: int, now: str
) -> set[int]:
    """Unsubscribe or delete; the Date moves only if the state really changes. Returns the
    lists whose subscribers changed."""
    existing = find(conn, list_pk, email or "")
    if existing is None:
        raise not_in_list()
    if state == UNSUBSCRIBED:
        return unsubscribe(conn, list_pk, existing.email, now)
    if existing.state != state:
        change_state(conn, existing.pk, state, now)
    return {list_pk}


def insert(
    conn: sqlite3.Connection,
    list_pk: int,
    email: str,
    name: str,
    state: int,
    date: str,
    consent: str,
    body: dict,
) -> None:
    fields = json.dumps(merge_fields([], body.get("CustomFields")), ensure_ascii=False)
    cursor = conn.execute(
        "INSERT INTO subscribers(list_id, email, email_lc, name, state, date, joined, fields, "
        "reads_with, consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
        (list_pk, email, email.lower(), name, state, date, date, fields, consent),
    )
    if state == ACTIVE:
        _notify(conn, list_pk, cursor.lastrowid, "Subscribe")


def change_state(conn: sqlite3.Connection, pk: int, state: int, date: str) -> None:
    list_pk, before = conn.execute(
        "SELECT list_id, state FROM subscribers WHERE id = ?", (pk,)
    ).fetchone()
    conn.execute("UPDATE subscribers SET state = ?, date = ? WHERE id = ?", (state, date, pk))
    if before != state and state == ACTIVE:
        _notify(conn, list_pk, pk, "Subscribe")
    elif before != state and state in (UNSUBSCRIBED, BOUNCED, DELETED):
        _notify(conn, list_pk, pk, "Deactivate")


def rename(conn: sqlite3.Connection, existing: Existing, name: str, now: str) -> None:
    """Give a subscriber a new name (the control surface's edit of a subscriber)."""
    conn.execute("UPDATE subscribers SET name = ? WHERE id = ?", (name, existing.pk))
    _notify(conn, None, existing.pk, "Update", now, existing.email)


def _notify(
    conn: sqlite3.Connection,
    list_pk: int | None,
    pk: int,
    kind: str,
    when: str | None = None,
    old_email: str | None = None,
) -> None:
    """Queue a webhook event for the subscriber as it now is, if any webhook of its list
    wants it. An Update is dated `when`; Subscribe and Deactivate carry the Date of the
    state change, as the API shows it."""
    if list_pk is None:
        (list_pk,) = conn.execute("SELECT list_id FROM subscribers WHERE id = ?", (pk,)).fetchone()
    targets = webhooks.targets(conn, list_pk, kind)
    if not targets:
        return
    values = list(conn.execute(f"SELECT {COLUMNS} FROM subscribers WHERE id = ?", (pk,)).fetchone())
    if when is not None:
        values[2] = when
    webhooks.emit(conn, targets, kind, record(tuple(values), False), old_email)


def _name(body: dict, default: str) -> str:
    name = body.get("Name")
    return default if name is None else str(name)


def _rewrite(
    conn: sqlite3.Connection, existing: Existing, email: str, body: dict, consent: str, now: str
) -> None:
    fields = merge_fields(existing.fields, body.get("CustomFields"))
    conn.execute(
        "UPDATE subscribers SET email = ?, email_lc = ?, name = ?, fields = ?, consent = ? "
        "WHERE id = ?",
        (
            email,
            email.lower(),
            _name(body, existing.name),
            json.dumps(fields, ensure_ascii=False),
            consent,
            existing.pk,
        ),
    )
    _notify(conn, None, existing.pk, "Update", now, existing.email)


def import_batch(conn: sqlite3.Connection, list_pk: int, body: dict, now: str) -> dict:
    """POST /subscribers/{listid}/import.json; the result, failures included. The caller
    commits first and then reports failures as a 400 (Code 210): the good rows stay in."""
    people = body.get("Subscribers")
    if not isinstance(people, list) or not people:
        raise ApiError(400, 212, "No Subscribers To Import")
    if len(people) > IMPORT_LIMIT:
        raise ApiError(400, 209, f"Too Many Subscribers In Import (at most {IMPORT_LIMIT})")
    result = _ImportResult()
    for person in people:
        result.take(conn, list_pk, person if isinstance(person, dict) else {}, body, now)
    return result.as_dict()


class _ImportResult:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.duplicates: list[str] = []
        self.failures: list[dict[str, Any]] = []
        self.existing = 0
        self.new = 0

    def take(self, conn: sqlite3.Connection, list_pk: int, person: dict, batch: dict, now: str):
        email = person.get("EmailAddress")
        key = str(email).lower()
        first = key not in self.seen
        if not first and email not in self.duplicates:
            self.duplicates.append(email)
        self.seen.add(key)
        if not valid_email(email):
            self._fail(email, 1, "Invalid Email Address")
            return
        try:
            self._store(conn, list_pk, email, person, flag(batch.get("Resubscribe")), now, first)
        except ApiError as err:
            self._fail(email, err.code, err.message)

    def _store(self, conn, list_pk, email, person, resubscribe, now, first) -> None:
        """Add or update one person; a repeat of an address in the batch is applied again
        (the last one wins) but counted once. A suppressed address is refused whatever
        Resubscribe says: imports are scrubbed against the suppression list."""
        refuse_suppressed(conn, list_pk, email)
        existing = find(conn, list_pk, email)
        consent = consent_value(person.get("ConsentToTrack"), existing and existing.consent)
        if existing is None:
            insert(conn, list_pk, email, _name(person, ""), ACTIVE, now, consent, person)
            self.new += 1
            return
        self.existing += first
        _rewrite(conn, existing, existing.email, person, consent, now)
        # Without Resubscribe an import updates inactive people but leaves them inactive.
        if existing.state != ACTIVE and resubscribe:
            change_state(conn, existing.pk, ACTIVE, now)

    def _fail(self, email: Any, code: int, message: str) -> None:
        self.failures.append({"EmailAddress": email, "Code": code, "Message": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "FailureDetails": self.failures,
            "TotalUniqueEmailsSubmitted": len(self.seen),
            "TotalExistingSubscribers": self.existing,
            "TotalNewSubscribers": self.new,
            "DuplicateEmailsInSubmission": self.duplicates,
        }
