"""Who is calling, and what they may see: API keys, OAuth tokens, ID ownership.

An account key sees all its account's clients; a client key sees one client. An ID the
caller cannot see is reported exactly like an unknown one (401 with 101/102/301), as the
real API does, so the emulator never reveals that another account's ID exists.
"""

import base64
import binascii
import sqlite3
from dataclasses import dataclass

from emulators.campaign_monitor.app import ApiError


@dataclass(frozen=True)
class Principal:
    account_id: int
    client_id: int | None  # set when a client-scoped key was used


@dataclass(frozen=True)
class ListRow:
    pk: int
    client_pk: int
    list_id: str
    title: str


@dataclass(frozen=True)
class CampaignRow:
    pk: int
    client_pk: int
    campaign_id: str
    name: str
    status: str


def bad_key() -> ApiError:
    return ApiError(401, 50, "Must supply a valid HTTP Basic Authorization header")


def authenticate(conn: sqlite3.Connection, header: str | None, now: float) -> Principal:
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return _bearer(conn, value.strip(), now)
    if scheme.lower() != "basic":
        raise bad_key()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise bad_key() from exc
    key = decoded.partition(":")[0]  # the password (createsend sends "x") is ignored
    return _api_key(conn, key)


def _api_key(conn: sqlite3.Connection, key: str) -> Principal:
    if not key:
        raise bad_key()
    row = conn.execute("SELECT id FROM accounts WHERE api_key = ?", (key,)).fetchone()
    if row:
        return Principal(row[0], None)
    row = conn.execute("SELECT account_id, id FROM clients WHERE api_key = ?", (key,)).fetchone()
    if row:
        return Principal(row[0], row[1])
    raise bad_key()


def _bearer(conn: sqlite3.Connection, token: str, now: float) -> Principal:
    row = conn.execute(
        "SELECT account_id, expires FROM oauth_tokens WHERE token = ? AND kind = 'access'",
        (token,),
    ).fetchone()
    if row is None:
        raise ApiError(401, 120, "Invalid OAuth Token")
    if row[1] <= now:
        raise ApiError(401, 121, "Expired OAuth Token")
    return Principal(row[0], None)


def _visible(who: Principal, account_id: int, client_pk: int) -> bool:
    return account_id == who.account_id and who.client_id in (None, client_pk)


def find_client(conn: sqlite3.Connection, who: Principal, client_id: str) -> int:
    """The client's primary key, or 401 Code 102."""
    row = conn.execute(
        "SELECT id, account_id FROM clients WHERE client_id = ?", (client_id,)
    ).fetchone()
    if row is None or not _visible(who, row[1], row[0]):
        raise ApiError(401, 102, "Invalid ClientID")
    return row[0]


def find_list(conn: sqlite3.Connection, who: Principal, list_id: str) -> ListRow:
    row = conn.execute(
        "SELECT l.id, l.client_id, l.list_id, l.title, c.account_id FROM lists l "
        "JOIN clients c ON c.id = l.client_id WHERE l.list_id = ?",
        (list_id,),
    ).fetchone()
    if row is None or not _visible(who, row[4], row[1]):
        raise ApiError(401, 101, "Invalid ListID")
    return ListRow(*row[:4])


def find_campaign(conn: sqlite3.Connection, who: Principal, campaign_id: str) -> CampaignRow:
    row = conn.execute(
        "SELECT k.id, k.client_id, k.campaign_id, k.name, k.status, c.account_id "
        "FROM campaigns k JOIN clients c ON c.id = k.client_id WHERE k.campaign_id = ?",
        (campaign_id,),
    ).fetchone()
    if row is None or not _visible(who, row[5], row[1]):
        raise ApiError(401, 301, "Invalid CampaignID")
    return CampaignRow(*row[:5])
