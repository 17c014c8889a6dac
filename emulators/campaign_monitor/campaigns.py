"""Campaigns: sending to lists, tracking events, and the shapes of the reports.

Summary counters are computed from the stored events: TotalOpened, Clicks, Unsubscribed,
Bounced and SpamComplaints count rows of the matching report; UniqueOpened counts distinct
addresses that opened. The emulator tracks no social activity, so Mentions, Forwards and
Likes are always 0.
"""

import json
import sqlite3
import zlib
from typing import Any

from emulators.campaign_monitor.clock import TIMEZONE_LABEL, Clock
from emulators.campaign_monitor.identity import hex_id
from emulators.campaign_monitor.store import ACTIVE, BOUNCED
from emulators.campaign_monitor.subscribers import change_state, unsubscribe

EVENT_KINDS = ("open", "click", "unsubscribe", "bounce", "spam")
DEFAULT_URL = "https://www.example.com/offers?utm_source=newsletter&utm_medium=email"
BOUNCE_REASONS = {"Hard": "Hard Bounce", "Soft": "Soft Bounce - General"}

# (latitude, longitude, city, region, country code, country name); events pick one by id.
PLACES = (
    (-33.8683, 151.2086, "Sydney", "New South Wales", "AU", "Australia"),
    (-37.8136, 144.9631, "Melbourne", "Victoria", "AU", "Australia"),
    (-41.2865, 174.7762, "Wellington", "Wellington", "NZ", "New Zealand"),
    (40.7128, -74.006, "New York", "New York", "US", "United States of America"),
    (51.5074, -0.1278, "London", "England", "GB", "United Kingdom"),
    (52.2297, 21.0122, "Warsaw", "Masovian Voivodeship", "PL", "Poland"),
    (59.3293, 18.0686, "Stockholm", "Stockholm County", "SE", "Sweden"),
    (31.2304, 121.4737, "Shanghai", "Shanghai", "CN", "China"),
)


def place_of(email: str) -> int:
    """Where an address opens and clicks from: stable per address, like a real reader."""
    return zlib.crc32(email.lower().encode()) % len(PLACES)


EVENT_COLUMNS = "e.id, e.email, l.list_id, e.date, e.url, e.bounce_type, e.reason, e.geo"


def web_urls(campaign_id: str) -> dict[str, str]:
    token = campaign_id[:16].upper()
    return {
        "WebVersionURL": f"https://createsend.com/t/r-{token}",
        "WebVersionTextURL": f"https://createsend.com/t/r-{token}/t",
    }


def preview_urls(campaign_id: str) -> dict[str, str]:
    urls = web_urls(campaign_id)
    return {"PreviewURL": urls["WebVersionURL"], "PreviewTextURL": urls["WebVersionTextURL"]}


CAMPAIGN_COLUMNS = (
    "campaign_id, name, subject, from_name, from_email, reply_to, sent_date, created, "
    "scheduled, tags, recipients"
)


def sent_record(row: tuple, clock: Clock) -> dict[str, Any]:
    out = {
        **web_urls(row[0]),
        "CampaignID": row[0],
        "Subject": row[2],
        "Name": row[1],
        "FromName": row[3],
        "FromEmail": row[4],
        "ReplyTo": row[5],
        "SentDate": clock.show(row[6]),
        "TotalRecipients": row[10],
    }
    tags = json.loads(row[9])
    # Like the real API (see its campaigns sample), a sent campaign without tags has no
    # Tags field at all.
    if tags:
        out["Tags"] = tags
    return out


def draft_record(row: tuple, scheduled: bool, clock: Clock) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scheduled:
        out = {"DateScheduled": clock.show(row[8]), "ScheduledTimeZone": TIMEZONE_LABEL}
    return {
        **out,
        "CampaignID": row[0],
        "Name": row[1],
        "Subject": row[2],
        "FromName": row[3],
        "FromEmail": row[4],
        "ReplyTo": row[5],
        "DateCreated": clock.show(row[7]),
        **preview_urls(row[0]),
        "Tags": json.loads(row[9]),
    }


def event_record(kind: str, row: tuple) -> dict[str, Any]:
    """A report row from EVENT_COLUMNS, shaped like the opens/clicks/... samples."""
    event_id, email, list_id, date, url, bounce_type, reason, geo = row
    if kind == "bounce":
        return {
            "EmailAddress": email,
            "ListID": list_id,
            "BounceType": bounce_type,
            "Date": date,
            "Reason": reason,
        }
    out: dict[str, Any] = {"EmailAddress": email}
    if kind == "click":
        out["URL"] = url
    out.update(ListID=list_id, Date=date)
    if kind == "spam":
        return out
    out["IPAddress"] = f"203.0.113.{event_id % 250 + 1}"
    if kind == "unsubscribe":
        return out
    lat, lon, city, region, code, country = PLACES[geo % len(PLACES)]
    out.update(
        Latitude=lat, Longitude=lon, City=city, Region=region, CountryCode=code, CountryName=country
    )
    return out


def summary(conn: sqlite3.Connection, campaign_pk: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT campaign_id, name, recipients FROM campaigns WHERE id = ?", (campaign_pk,)
    ).fetchone()
    counts = dict.fromkeys(EVENT_KINDS, 0)
    for kind, total in conn.execute(
        "SELECT kind, count(*) FROM events WHERE campaign_id = ? GROUP BY kind", (campaign_pk,)
    ):
        counts[kind] = total
    unique_opens = conn.execute(
        "SELECT count(DISTINCT email_lc) FROM events WHERE campaign_id = ? AND kind = 'open'",
        (campaign_pk,),
    ).fetchone()[0]
    token = row[0][:16].upper()
    return {
        "Name": row[1],
        "Recipients": row[2],
        "TotalOpened": counts["open"],
        "Clicks": counts["click"],
        "Unsubscribed": counts["unsubscribe"],
        "Bounced": counts["bounce"],
        "UniqueOpened": unique_opens,
        "Mentions": 0,
        "Forwards": 0,
        "Likes": 0,
        **web_urls(row[0]),
        "WorldviewURL": f"https://client.createsend.com/reports/wv/r/{token}",
        "SpamComplaints": counts["spam"],
    }


def lists_and_segments(conn: sqlite3.Connection, campaign_pk: int) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT l.list_id, l.title FROM campaign_lists cl JOIN lists l ON l.id = cl.list_id "
        "WHERE cl.campaign_id = ? ORDER BY l.id",
        (campaign_pk,),
    ).fetchall()
    return {"Lists": [{"ListID": i, "Name": t} for i, t in rows], "Segments": []}


def create(
    conn: sqlite3.Connection, seed: str, client_pk: int, fields: dict[str, Any]
) -> tuple[int, str]:
    """Insert a campaign row; `fields` holds status, name, subject, dates and tags."""
    pk = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM campaigns").fetchone()[0]
    campaign_id = hex_id(seed, "campaign", pk)
    conn.execute(
        "INSERT INTO campaigns(id, client_id, campaign_id, status, name, subject, from_name, "
        "from_email, reply_to, sent_date, created, scheduled, tags) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            pk,
            client_pk,
            campaign_id,
            fields["status"],
            fields["name"],
            fields.get("subject") or fields["name"],
            fields.get("from_name", "Marketing Team"),
            fields.get("from_email", "news@example.com"),
            fields.get("reply_to", "news@example.com"),
            fields.get("sent_date"),
            fields["created"],
            fields.get("scheduled"),
            json.dumps(fields.get("tags", []), ensure_ascii=False),
        ),
    )
    return pk, campaign_id


def send(conn: sqlite3.Connection, campaign_pk: int, list_pks: list[int], joined_by: str) -> int:
    """Make the active subscribers of the lists (joined by `joined_by`) the recipients; an
    address on several lists receives the campaign once, for the first list."""
    for list_pk in list_pks:
        conn.execute("INSERT OR IGNORE INTO campaign_lists VALUES (?, ?)", (campaign_pk, list_pk))
        conn.execute(
            "INSERT OR IGNORE INTO recipients(campaign_id, list_id, email, email_lc) "
            "SELECT ?, list_id, email, email_lc FROM subscribers "
            "WHERE list_id = ? AND state = ? AND joined <= ? ORDER BY id",
            (campaign_pk, list_pk, ACTIVE, joined_by),
        )
    total = conn.execute(
        "SELECT count(*) FROM recipients WHERE campaign_id = ?", (campaign_pk,)
    ).fetchone()[0]
    conn.execute("UPDATE campaigns SET recipients = ? WHERE id = ?", (total, campaign_pk))
    return total


def add_event(
    conn: sqlite3.Connection, campaign_pk: int, kind: str, email: str, details: dict[str, str]
) -> set[int]:
    """Record one tracking event for a recipient; returns the lists it changes.

    An unsubscribe also unsubscribes the address from the list it received the campaign
    through (and, for an AllClientLists list, from the client's other such lists and onto
    the suppression list), and a hard bounce marks it Bounced there, both as of the event's
    date.
    """
    recipient = conn.execute(
        "SELECT list_id, email FROM recipients WHERE campaign_id = ? AND email_lc = ?",
        (campaign_pk, email.lower()),
    ).fetchone()
    if recipient is None:
        raise ValueError(f"{email} did not receive this campaign")
    list_pk, stored_email = recipient
    date = details["date"]
    conn.execute(
        "INSERT INTO events(campaign_id, kind, list_id, email, email_lc, date, url, bounce_type, "
        "reason, geo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            campaign_pk,
            kind,
            list_pk,
            stored_email,
            stored_email.lower(),
            date,
            details.get("url", ""),
            details.get("bounce_type", ""),
            details.get("reason", ""),
            place_of(stored_email),
        ),
    )
    on_list = conn.execute(
        "SELECT 1 FROM subscribers WHERE list_id = ? AND email_lc = ?",
        (list_pk, stored_email.lower()),
    ).fetchone()
    if kind == "unsubscribe" and on_list:
        return unsubscribe(conn, list_pk, stored_email, date) | {list_pk}
    if kind == "bounce" and details.get("bounce_type") == "Hard":
        _move(conn, list_pk, stored_email, BOUNCED, date)
    return {list_pk}


def _move(conn: sqlite3.Connection, list_pk: int, email: str, state: int, date: str) -> None:
    row = conn.execute(
        "SELECT id, state FROM subscribers WHERE list_id = ? AND email_lc = ?",
        (list_pk, email.lower()),
    ).fetchone()
    if row is not None and row[1] != state:
        change_state(conn, row[0], state, date)


def event_details(
    kind: str, date: str, url: str | None, bounce_type: str | None, reason: str | None
) -> dict[str, str]:
    """Fill the defaults of an event; raises ValueError for a bad type or bounce type."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"Type must be one of {', '.join(EVENT_KINDS)}")
    details = {"date": date}
    if kind == "click":
        details["url"] = url or DEFAULT_URL
    if kind == "bounce":
        bounce = (bounce_type or "Soft").capitalize()
        if bounce not in BOUNCE_REASONS:
            raise ValueError("BounceType must be Soft or Hard")
        details.update(bounce_type=bounce, reason=reason or BOUNCE_REASONS[bounce])
    return details
